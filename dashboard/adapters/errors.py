"""The one error type the adapters raise.

Callers (tasks, services) only need to know whether trying again can help: a 429/5xx,
a timeout or a dropped connection is `retryable`; a 4xx (bad input, not found, conflict,
forbidden) is not, and carries a message a person can act on.
"""

from __future__ import annotations

from dashboard import metrics


class AdapterError(Exception):
    """An outside system (Cloud Build, GCS, Kubernetes) refused or failed a call.

    `retryable` says whether the same call may succeed later; `status` is the HTTP status
    when there was one (0 for connection errors and timeouts); `api` names the system.
    """

    def __init__(self, message: str, *, retryable: bool, status: int = 0, api: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.api = api
        metrics.api_error(api, status)  # every error an adapter raises, counted once

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"AdapterError({self.message!r}, retryable={self.retryable}, "
            f"status={self.status}, api={self.api!r})"
        )


def retryable_status(status: int) -> bool:
    """HTTP statuses worth retrying: timeouts, throttling and server-side failures."""
    return status in (0, 408, 429) or status >= 500
