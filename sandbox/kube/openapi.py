"""A skeletal OpenAPI v3 (paths only, no schemas) so `kubectl apply` validates server-side.

kubectl validates manifests with the server's schemas unless the server advertises the
`fieldValidation` query parameter on a resource's PATCH operation; then it leaves validation
to the server. The sandbox advertises it (and accepts, without enforcing, the parameter).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import RESOURCES, ResourceType

Obj = dict[str, Any]


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _operation(rt: ResourceType, verb: str) -> Obj:
    return {
        "operationId": f"{verb}{rt.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version,
                                            "kind": rt.kind},
        "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                       {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                       {"name": "dryRun", "in": "query", "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK"}},
    }


def gv_document(group: str, version: str) -> Obj | None:
    found = [r for r in RESOURCES if r.group == group and r.version == version]
    if not found:
        return None
    paths: Obj = {}
    for rt in found:
        base = "/" + _gv_path(group, version)
        if rt.namespaced:
            base += "/namespaces/{namespace}"
        paths[f"{base}/{rt.plural}"] = {"post": _operation(rt, "post")}
        paths[f"{base}/{rt.plural}/{{name}}"] = {
            "get": _operation(rt, "get"), "put": _operation(rt, "put"),
            "patch": _operation(rt, "patch"), "delete": _operation(rt, "delete"),
        }
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (sandbox)", "version": "v1.32.4"},
            "paths": paths, "components": {"schemas": {}}}


def index() -> Obj:
    paths: Obj = {}
    for gv in sorted({(r.group, r.version) for r in RESOURCES}):
        doc = json.dumps(gv_document(*gv), sort_keys=True).encode()
        digest = hashlib.sha512(doc).hexdigest()[:32].upper()
        paths[_gv_path(*gv)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(*gv)}?hash={digest}"}
    return {"paths": paths}
