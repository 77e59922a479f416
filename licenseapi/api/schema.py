"""The schema class of the license API's views: every status an operation can answer is
documented, each error with the one ErrorResponse body (application/json), and request
bodies say that unknown fields are refused (StrictSerializer)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.openapi import AutoSchema

from licenseapi.api.serializers import ErrorResponse, StrictSerializer

WHY = {
    400: "Malformed: not a JSON object, an unknown or invalid field (`fields` names them).",
    401: "No valid staff token (or staff session).",
    403: "Not staff; or (client endpoints) the license cannot be used now.",
    404: "No such license, key or activation.",
    409: "Conflicts with the current state: no seat left, or a status change not allowed.",
    413: "The body is larger than the limit.",
    415: "The body is not application/json.",
    422: "Well-formed, but names something that does not exist, or a time already past.",
    429: "Rate limited; `retry_after` and Retry-After say when to try again.",
    503: "Certificate signing is not configured here.",
}


PREFIX = "/api/v1/licenses/"
_LICENSE = {"license_id": "$response.body#/id"}
# Stateful links (OpenAPI `links`): what a client can do next with what an answer names.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "licenses_create": {"201": {
        "GetLicense": {"operationId": "licenses_retrieve", "parameters": _LICENSE},
        "GetCertificate": {"operationId": "licenses_certificate", "parameters": _LICENSE},
        **{f"{verb.title()}License": {"operationId": f"licenses_{verb}", "parameters": _LICENSE}
           for verb in ("suspend", "reinstate", "revoke")},
    }},
    **{f"licenses_{verb}": {"200": {
        "GetLicense": {"operationId": "licenses_retrieve", "parameters": _LICENSE},
        **{f"{n.title()}License": {"operationId": f"licenses_{n}", "parameters": _LICENSE}
           for n in nexts},
    }} for verb, nexts in (("suspend", ("reinstate", "revoke")), ("reinstate", ("suspend",)),
                           ("revoke", ("reinstate",)))},
}


class LicenseApiSchema(AutoSchema):
    def get_operation_id(self) -> str:
        # Names a generated client can use (DRF's defaults here were root_retrieve_2 & co.).
        rest = [p for p in self.path[len(PREFIX):].split("/") if p and not p.startswith("{")]
        name = "_".join(rest).replace("-", "_")
        by_id = "{" in self.path
        if not name:
            name = "retrieve" if by_id else ("create" if self.method == "POST" else "list")
        elif name == "certificate" and not by_id:
            name = "certificate_by_key"
        return f"licenses_{name}"

    def problem_statuses(self) -> set[int]:
        codes: set[int] = set()
        staff = any(getattr(a, "keyword", "") for a in self.view.get_authenticators())
        if staff:
            codes |= {401, 403}
        if self.method == "POST":
            codes |= {400, 413, 415}
            if not staff:
                codes.add(429)  # the client endpoints are rate limited
            if self.path.rstrip("/").endswith("licenses"):
                codes.add(422)  # issuing: an unknown product or a past expiry
        if any(p.get("in") == "query" for p in self._get_parameters()):
            codes.add(400)
        if "{" in self.path:
            codes.add(404)
        return codes

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        error = self.resolve_serializer(ErrorResponse, "response").ref
        for code in sorted(self.problem_statuses() | {int(c) for c in responses if c >= "400"}):
            described = responses.get(str(code), {})
            responses[str(code)] = {
                **described,
                "description": described.get("description") or WHY.get(code, ""),
                "content": {"application/json": {"schema": error}},
            }
            if code == 429:
                responses[str(code)]["headers"] = {"Retry-After": {
                    "schema": {"type": "integer"}, "description": "seconds to wait"}}
        for status, links in LINKS.get(self.get_operation_id(), {}).items():
            if status in responses:
                responses[status]["links"] = links
        return dict(sorted(responses.items()))

    def _map_serializer(self, serializer: Any, direction: Any,
                        bypass_extensions: bool = False) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_serializer(serializer, direction,
                                                         bypass_extensions)
        if isinstance(serializer, StrictSerializer):
            schema["additionalProperties"] = False
        for prop in schema.get("properties", {}).values():
            _blank_as_pattern(prop)
        return schema


def _blank_as_pattern(prop: dict[str, Any]) -> None:
    """drf-spectacular writes a blank-allowed string with a pattern or format as
    oneOf(constrained, empty). When the pattern matches "" too, "" matches both, which oneOf
    forbids; keep the pattern alone then (else anyOf, which is what is meant)."""
    options = prop.get("oneOf")
    if not options or options[-1] != {"type": "string", "maxLength": 0}:
        return
    pattern = options[0].get("pattern")
    if pattern is not None and len(options) == 2 and re.search(pattern, ""):
        del prop["oneOf"]
        prop.update(options[0])
    else:
        prop["anyOf"] = prop.pop("oneOf")
