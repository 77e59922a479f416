"""Errors the service layer raises; every entry point maps them to its own output.

`code` is an HTTP-ish status (the REST API uses it as is); `detail` is a sentence for people.
Importable as dashboard.services.ServiceError etc.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class ServiceError(Exception):
    code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return self.detail

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail}


class InvalidRequest(ServiceError):
    code = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "field": self.field}


class NotAllowed(ServiceError):
    code = 403


class NotFound(ServiceError):
    code = 404


class Conflict(ServiceError):
    code = 409


class SchemaChanged(Conflict):
    """A rollback would run an older image against a schema that later releases' pre-deploy
    Jobs changed. `releases`: [{id, commit, job, output: last lines}], oldest first."""

    field = "acknowledge_schema_change"

    def __init__(self, releases: list[dict[str, Any]]) -> None:
        named = ", ".join(f"#{r['id']} ({r['commit'][:12] or r['job']})" for r in releases)
        super().__init__(
            f"rolling back past schema changes: release {named} ran a pre-deploy Job (its "
            "migrations stay applied; the older image will run against the newer schema). "
            "Acknowledge the schema change to roll back anyway.")
        self.message = self.detail
        self.releases = releases

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "field": self.field, "schema_changes": self.releases}


class Locked(Conflict):
    def __init__(self, owner: str, reason: str, expires_at: datetime | None) -> None:
        until = f" until {expires_at:%Y-%m-%d %H:%M UTC}" if expires_at else ""
        super().__init__(f"locked by {owner or 'someone'}{until}: {reason}")
        self.owner = owner
        self.reason = reason
        self.expires_at = expires_at

    def as_dict(self) -> dict[str, Any]:
        return {
            **super().as_dict(), "owner": self.owner, "reason": self.reason,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


class Unavailable(ServiceError):
    """An outside system (the cluster) could not be reached; trying again may help."""

    code = 503
