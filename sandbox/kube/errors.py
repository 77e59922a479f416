"""API errors rendered as metav1.Status objects, as kube-apiserver answers them."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def qualified(plural: str, group: str) -> str:
    """`deployments.apps` for named groups, plain `pods` for core, as messages spell it."""
    return f"{plural}.{group}" if group else plural


def _about(code: int, reason: str, message: str, plural: str, group: str, name: str) -> ApiError:
    """An error about one object: Kubernetes names it in `details`."""
    return ApiError(code, reason, message, {"name": name, "group": group, "kind": plural})


def not_found(plural: str, group: str, name: str) -> ApiError:
    return _about(404, "NotFound", f'{qualified(plural, group)} "{name}" not found',
                  plural, group, name)


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return _about(409, "AlreadyExists", f'{qualified(plural, group)} "{name}" already exists',
                  plural, group, name)


def conflict(plural: str, group: str, name: str) -> ApiError:
    return _about(
        409, "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object '
        "has been modified; please apply your changes to the latest version and try again",
        plural, group, name,
    )


def invalid(kind: str, name: str, message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'{kind} "{name}" is invalid: {message}',
        {"name": name, "kind": kind},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(rv: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {rv} ({oldest})")
