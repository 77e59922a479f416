"""Wire shapes of the Cloud Build v1 REST API: rendering, parsing, errors, names.

The sandbox keeps every build as the official `cloudbuild_v1.Build` proto, so rendering goes
through protobuf's own JSON mapping: camelCase keys, int64 as strings, durations as "600s",
RFC 3339 timestamps, and enums as names or integers exactly as Google's front end does.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from google.cloud.devtools import cloudbuild_v1 as cb
from google.protobuf import json_format

PROJECT = "sandbox"
PROJECT_NUMBER = "100000000001"
DEFAULT_LOGS_BUCKET = "gs://sandbox_cloudbuild"
TYPE_PREFIX = "type.googleapis.com/google.devtools.cloudbuild.v1."

# HTTP status -> canonical google.rpc.Code name, as Google's JSON errors carry it.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

TERMINAL = frozenset(
    {
        cb.Build.Status.SUCCESS,
        cb.Build.Status.FAILURE,
        cb.Build.Status.INTERNAL_ERROR,
        cb.Build.Status.TIMEOUT,
        cb.Build.Status.CANCELLED,
        cb.Build.Status.EXPIRED,
    }
)


class ApiError(Exception):
    """An error the API answers with: Google's {"error": {code, message, status}} body."""

    def __init__(self, code: int, message: str, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")

    def response(self) -> web.Response:
        return error_response(self.code, self.message, self.status)


def error_response(code: int, message: str, status: str | None = None) -> web.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "status": status or STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }
    return web.json_response(body, status=code)


def now() -> datetime:
    return datetime.now(UTC)


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def wants_int_enums(request: web.Request) -> bool:
    """The generated REST client sends `$alt=json;enum-encoding=int`; gcloud sends `alt=json`."""
    alt = request.query.get("$alt", "") + ";" + request.query.get("alt", "")
    return "enum-encoding=int" in alt


def to_json(message: Any, ints: bool) -> dict[str, Any]:
    pb = type(message).pb(message)
    return json_format.MessageToDict(pb, use_integers_for_enums=ints)


def build_json(build: cb.Build, ints: bool) -> dict[str, Any]:
    return to_json(build, ints)


def parse_message(cls: Any, raw: bytes, what: str) -> Any:
    """Parse a request body strictly: Google rejects unknown fields with INVALID_ARGUMENT."""
    text = raw.decode() if raw else "{}"
    try:
        json.loads(text)
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON payload received. {exc}") from exc
    try:
        return cls.from_json(text)
    except json_format.ParseError as exc:
        raise ApiError(400, f"Invalid JSON payload received for '{what}'. {exc}") from exc


def operation_json(op_name: str, build: cb.Build, ints: bool) -> dict[str, Any]:
    """A google.longrunning.Operation whose metadata is BuildOperationMetadata.

    The @type fields are required: the client unpacks metadata/response by them.
    """
    rendered = build_json(build, ints)
    op: dict[str, Any] = {
        "name": op_name,
        "metadata": {"@type": TYPE_PREFIX + "BuildOperationMetadata", "build": rendered},
    }
    status = build.status
    if status in TERMINAL:
        op["done"] = True
        if status == cb.Build.Status.SUCCESS:
            op["response"] = {"@type": TYPE_PREFIX + "Build", **rendered}
        else:
            op["error"] = operation_error(build)
    return op


def operation_error(build: cb.Build) -> dict[str, Any]:
    # google.rpc.Code values: CANCELLED=1, UNKNOWN=2, DEADLINE_EXCEEDED=4, INTERNAL=13.
    status = build.status
    if status == cb.Build.Status.CANCELLED:
        return {"code": 1, "message": "Build was cancelled"}
    if status == cb.Build.Status.TIMEOUT:
        return {"code": 4, "message": "Build timeout"}
    if status == cb.Build.Status.INTERNAL_ERROR:
        return {"code": 13, "message": "Build failed due to an internal error"}
    if status == cb.Build.Status.EXPIRED:
        return {"code": 4, "message": "Build expired in the queue"}
    return {"code": 2, "message": "Build failed; check build logs for details"}


def operation_name(project: str, location: str, build_id: str) -> str:
    """Global builds use Google's `operations/build/{project}/{base64(id)}` form; the
    generated client's operations sub-client only routes `operations/**` and
    `projects/*/locations/*/operations/*`, so these are the two shapes that poll."""
    if location == "global":
        encoded = base64.urlsafe_b64encode(build_id.encode()).decode().rstrip("=")
        return f"operations/build/{project}/{encoded}"
    return f"projects/{project}/locations/{location}/operations/{build_id}"


def build_id_from_operation(tail: str) -> str | None:
    """The build id inside `build/{project}/{base64}` (the part after `operations/`)."""
    parts = tail.split("/")
    if len(parts) != 3 or parts[0] != "build":
        return None
    encoded = parts[2]
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def page(
    items: list[Any], size: int, token: str, default: int, maximum: int
) -> tuple[list[Any], str]:
    """Offset pagination behind an opaque token."""
    try:
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid page token") from exc
    size = min(size or default, maximum)
    chunk = items[start : start + size]
    nxt = start + size
    return chunk, base64.urlsafe_b64encode(str(nxt).encode()).decode() if nxt < len(items) else ""
