"""drf-spectacular: ApiToken bearer auth, and the schema class of every /api/v1/ view."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from dashboard.api.serializers import ProblemSerializer


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer",
                "description": "an API token (manage.py create_api_token, or the admin)"}


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "dashboard.api.authentication.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


PROBLEM_MEDIA_TYPE = "application/problem+json"
# Why an operation answers each status (the description each response carries).
WHY = {
    400: "Malformed: a parameter or field is invalid (`errors` names it), or the body is not "
         "JSON.",
    401: "No valid bearer token (or staff session).",
    403: "The token lacks the scope, or its user the permission.",
    404: "No such resource that this token may see (or no such page of results).",
    406: "The Accept header allows no representation that this operation has.",
    409: "Conflicts with the current state: locked, already paused, nothing to cancel or "
         "continue, a rollback past schema changes not acknowledged (`schema_changes` names "
         "them), or a request with the same Idempotency-Key is still in progress.",
    415: "The body is not application/json.",
    422: "Well-formed, but names something that does not exist or cannot be used (`errors` "
         "names the field), a time already past, or an Idempotency-Key reused with a "
         "different body.",
    429: "Too many requests for this token; Retry-After says when to try again.",
    503: "The database or the cluster could not be reached; try again after Retry-After.",
}
RETRY_AFTER = {"schema": {"type": "integer", "minimum": 0},
               "description": "seconds to wait before trying again"}
# Stateful links (OpenAPI `links`): what a client can do next with what an answer names.
_RELEASE = {"id": "$response.body#/id"}
_SERVICE = {"name": "$response.body#/name"}
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "releases_create": {"202": {
        "GetRelease": {"operationId": "releases_retrieve", "parameters": _RELEASE},
        "CancelRelease": {"operationId": "releases_cancel_create", "parameters": _RELEASE},
        "RollBackFromRelease": {"operationId": "releases_rollback_create",
                                "parameters": _RELEASE},
    }},
    "releases_rollback_create": {"202": {
        "GetRollback": {"operationId": "releases_retrieve", "parameters": _RELEASE},
        "CancelRollback": {"operationId": "releases_cancel_create", "parameters": _RELEASE},
    }},
    "releases_cancel_create": {"200": {
        "GetCancelledRelease": {"operationId": "releases_retrieve", "parameters": _RELEASE},
    }},
    **{f"services_{verb}": {"200": {
        "GetService": {"operationId": "services_retrieve", "parameters": _SERVICE},
        **{f"{other.title()}Service": {"operationId": f"services_{other}",
                                       "parameters": _SERVICE} for other in nexts},
    }} for verb, nexts in (("retrieve", ("pause", "resume", "lock", "unlock")),
                           ("pause", ("resume",)), ("resume", ("pause",)),
                           ("lock", ("unlock",)), ("unlock", ("lock",)))},
}


class ApiSchema(AutoSchema):
    """/api/v1/'s operations as they answer: every status an operation can return, errors as
    one shared Problem component in application/problem+json, response headers, links."""

    def problem_statuses(self) -> set[int]:
        codes = {401, 403, 406, 429, 503}  # authentication, scopes, Accept, throttle, database
        path_params = "{" in self.path
        query_params = any(p.get("in") == "query" for p in self._get_parameters())
        if self.method == "POST":
            codes |= {400, 409, 415, 422}  # the body, state, Content-Type, Idempotency-Key
        if query_params:
            codes.add(400)
        if path_params or self._get_paginator() is not None:
            codes.add(404)
        codes |= set(getattr(self.view, "extra_problems", ()))  # e.g. 422 for a GET
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        problem = self.resolve_serializer(ProblemSerializer, "response").ref
        for code in sorted(self.problem_statuses()):
            response: dict[str, Any] = {"description": WHY[code],
                                        "content": {PROBLEM_MEDIA_TYPE: {"schema": problem}}}
            if code in (429, 503):
                response["headers"] = {"Retry-After": RETRY_AFTER}
            if code == 401:
                response["headers"] = {"WWW-Authenticate": {
                    "schema": {"type": "string"}, "description": 'Bearer realm="api"'}}
            responses[str(code)] = response
        for status, links in LINKS.get(self.get_operation_id(), {}).items():
            if status in responses:
                responses[status]["links"] = links
        return dict(sorted(responses.items()))

    def _map_serializer(self, serializer: Any, direction: Any,
                        bypass_extensions: bool = False) -> dict[str, Any]:
        # A serializer can add what its fields cannot say (ReleaseCreate: commit or ref).
        schema: dict[str, Any] = super()._map_serializer(serializer, direction,
                                                         bypass_extensions)
        for prop in schema.get("properties", {}).values():
            _blank_as_pattern(prop)
        extra = getattr(serializer, "json_schema_extra", None)
        if extra and direction == "request":
            schema.update(extra)
        return schema


def _blank_as_pattern(prop: dict[str, Any]) -> None:
    """drf-spectacular writes a blank-allowed string with a pattern as oneOf(pattern, empty).
    When the pattern matches "" too, "" matches both branches, which oneOf forbids: the
    schema would refuse the empty string that the server accepts. Our patterns say whether ""
    is allowed, so keep the pattern alone (else anyOf, which means what was meant)."""
    options = prop.get("oneOf")
    if not options or options[-1] != {"type": "string", "maxLength": 0}:
        return
    inner = options[0]
    pattern = inner.get("pattern")
    if pattern is not None and re.search(pattern, "") and len(options) == 2:
        del prop["oneOf"]
        prop.update(inner)
    else:
        prop["anyOf"] = prop.pop("oneOf")
