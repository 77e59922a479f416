"""aiohttp glue: routes Kubernetes REST paths onto the Api, with chaos and request counting."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import discovery, errors, openapi, protobuf
from .api import SCALABLE, view
from .control import CLUSTER, add_control_routes
from .managed import field_manager_middleware
from .patch import APPLY, SMP
from .proxy import serve_pod_proxy, serve_proxy
from .resources import BY_PATH, GROUPS, PODS, SERVICES, ResourceType
from .streams import serve_log, serve_watch, truthy
from .tables import to_table, wants_table

if TYPE_CHECKING:
    from .cluster import Cluster

Obj = dict[str, Any]
log = logging.getLogger("sandbox.kube")


@dataclass
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    sub: str | None
    rest: str  # what follows the subresource (the proxied path)
    watch: bool


def json_response(body: Obj, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")), status=status,
        content_type="application/json",
    )


def parse_path(path: str) -> Target | None:
    parts = [p for p in path.split("/") if p != ""]
    if len(parts) < 3:
        return None
    if parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in BY_PATH:
        ns, rest = rest[1], rest[2:]
    if not rest:
        return None
    rt = BY_PATH.get((group, version, rest[0]))
    if rt is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    tail = "/".join(rest[3:])
    if path.endswith("/") and tail:
        tail += "/"
    return Target(rt, ns, name, sub, tail, watch)


@web.middleware
async def chaos_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    cluster = request.app[CLUSTER]
    if request.path.startswith("/sandbox/"):
        return await handler(request)
    cluster.requests += 1
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        cluster.client_writes += 1  # the start state is no longer pristine (see Snapshot)
    settings = cluster.chaos.kube
    if settings.latency_ms:
        await asyncio.sleep(settings.latency_ms / 1000)
    code = settings.pick_error(cluster.chaos.rng)
    if code is not None:
        return json_response(
            errors.ApiError(code, "InternalError", "sandbox chaos: injected error").status(), code
        )
    try:
        return await handler(request)
    except errors.ApiError as exc:
        return json_response(exc.status(), exc.code)
    except web.HTTPException:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A body the sandbox could not make sense of: answer as the apiserver would, not 500.
        log.info("rejecting %s %s: %r", request.method, request.path, exc)
        return json_response(errors.bad_request(f"invalid request: {exc!r}").status(), 400)


async def version(request: web.Request) -> web.Response:
    return json_response(discovery.VERSION)


async def api_root(request: web.Request) -> web.Response:
    return json_response(discovery.api_versions(request.host))


async def apis_root(request: web.Request) -> web.Response:
    return json_response(discovery.group_list())


async def group_doc(request: web.Request) -> web.Response:
    name = request.match_info["group"]
    if name not in GROUPS:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    return json_response(discovery.group(name))


async def resource_list(request: web.Request) -> web.Response:
    group = request.match_info.get("group", "")
    doc = discovery.resource_list(group, request.match_info["version"])
    if doc is None:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    return json_response(doc)


async def body_of(request: web.Request) -> Any:
    ctype = request.headers.get("Content-Type", "")
    if "protobuf" in ctype:
        try:
            return protobuf.decode(await request.read())
        except protobuf.DecodeError as exc:
            log.info("protobuf body not decoded: %s", exc)
    if "protobuf" in ctype or "cbor" in ctype:
        # Clients fall back to JSON on a 415 naming the types this server decodes.
        raise errors.ApiError(
            415, "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f"application/json, application/yaml (not {ctype.split(';', 1)[0]})")
    raw = await request.read()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        import yaml

        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"cannot decode body: {exc}") from exc


async def resource(request: web.Request) -> web.StreamResponse:
    cluster = request.app[CLUSTER]
    target = parse_path(request.path)
    if target is None:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    rt, ns, name, sub = target.rt, target.namespace, target.name, target.sub
    if rt.namespaced is False:
        ns = None
    api, q, method = cluster.api, request.query, request.method
    dry_run = "All" in q.getall("dryRun", [])
    if rt is PODS and sub == "log" and name and method == "GET":
        return await serve_log(request, cluster, api.get(rt, ns, name))
    if rt is SERVICES and sub == "proxy" and name:
        return await serve_proxy(request, cluster, ns, name, target.rest)
    if rt is PODS and sub == "proxy" and name:
        return await serve_pod_proxy(request, cluster, ns, name, target.rest)
    if name and ":" in name and sub == "proxy":
        raise errors.ApiError(404, "NotFound", "proxy not supported for this resource")
    if name is not None and sub is None and target.watch and method == "GET":
        # Legacy /watch/.../{name}: a collection watch narrowed to that one object.
        return await serve_watch(request, cluster, rt, ns, only=name)
    if rt.kind == "SelfSubjectAccessReview" and method == "POST":
        # Any bearer token is accepted and may do anything: `kubectl auth can-i` says yes.
        ctype = request.headers.get("Content-Type", "")
        review = {} if "protobuf" in ctype else await body_of(request)  # the answer is the same
        review.update({"kind": "SelfSubjectAccessReview",
                       "apiVersion": "authorization.k8s.io/v1"})
        review.setdefault("metadata", {})
        review["status"] = {"allowed": True, "reason": "the sandbox authorizes every request"}
        return json_response(review, 201)
    if name is None:
        if method == "GET" and (target.watch or truthy(q.get("watch"))):
            return await serve_watch(request, cluster, rt, ns)
        if method == "GET":
            limit = int(q.get("limit") or 0)
            listed = api.list(rt, ns, q.get("labelSelector"), q.get("fieldSelector"), limit,
                              q.get("continue"))
            if wants_table(request.headers.get("Accept", "")):
                table = to_table(cluster.clock, rt, listed["items"],
                                 listed["metadata"]["resourceVersion"],
                                 q.get("includeObject", "Metadata"))
                table["metadata"].update({k: v for k, v in listed["metadata"].items()
                                          if k in ("continue", "remainingItemCount")})
                listed = table
            return json_response(listed)
        if method == "POST":
            created = api.create(rt, ns, await body_of(request), dry_run=dry_run)
            return json_response(view(rt, created), 201)
        if method == "DELETE":
            listed = api.list(rt, ns, q.get("labelSelector"), q.get("fieldSelector"))
            for item in listed["items"]:
                api.delete(rt, ns, item["metadata"]["name"])
            return json_response(listed)
        raise errors.ApiError(405, "MethodNotAllowed", f"{method} is not supported here")
    if sub == "scale" and rt.key in SCALABLE:
        if method == "GET":
            return json_response(api.get_scale(rt, ns, name))
        if method == "PUT":
            return json_response(api.set_scale(rt, ns, name, await body_of(request)))
        if method == "PATCH":
            ctype = request.headers.get("Content-Type", "")
            return json_response(api.patch_scale(rt, ns, name, ctype, await body_of(request)))
    if sub not in (None, "status"):
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    if method == "GET":
        obj = view(rt, api.get(rt, ns, name))
        if wants_table(request.headers.get("Accept", "")):
            return json_response(to_table(cluster.clock, rt, [obj],
                                          obj["metadata"]["resourceVersion"],
                                          q.get("includeObject", "Metadata")))
        return json_response(obj)
    if method == "PUT":
        return json_response(view(rt, api.update(rt, ns, name, await body_of(request), sub,
                                                 dry_run)))
    if method == "PATCH":
        ctype = request.headers.get("Content-Type", "")
        if ctype.split(";", 1)[0].strip().lower() == APPLY and sub is None:
            return await apply(request, cluster, rt, ns, name)
        return json_response(view(rt, api.patch(rt, ns, name, ctype, await body_of(request),
                                                sub, dry_run)))
    if method == "DELETE":
        # DeleteOptions only tune the deletion: an undecodable (protobuf) body is ignored.
        ctype = request.headers.get("Content-Type", "")
        opts = {} if "protobuf" in ctype or "cbor" in ctype else await body_of(request)
        grace_text = q.get("gracePeriodSeconds")
        grace = int(grace_text) if grace_text else (opts or {}).get("gracePeriodSeconds")
        deleted = api.delete(rt, ns, name, grace)
        if cluster.store.get(rt, ns, name) is not None:
            return json_response(view(rt, deleted))
        meta = deleted["metadata"]
        return json_response({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": meta["name"], "group": rt.group, "kind": rt.plural,
                        "uid": meta["uid"]},
        })
    raise errors.ApiError(405, "MethodNotAllowed", f"{method} is not supported here")


async def apply(
    request: web.Request, cluster: Cluster, rt: ResourceType, ns: str | None, name: str
) -> web.Response:
    """Server-side apply, approximated: create when absent, else a strategic merge of the
    applied configuration (no managed-fields bookkeeping, no conflict detection)."""
    if not request.query.get("fieldManager"):
        raise errors.ApiError(
            422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required "
            "value: is required for apply patch")
    body = await body_of(request)
    if not isinstance(body, dict):
        raise errors.bad_request("apply body must be an object")
    if cluster.store.get(rt, ns, name) is None:
        body.setdefault("metadata", {})["name"] = name
        return json_response(view(rt, cluster.api.create(rt, ns, body)), 201)
    for key in ("apiVersion", "kind"):
        body.pop(key, None)
    return json_response(view(rt, cluster.api.patch(rt, ns, name, SMP, body)))


async def openapi_index(request: web.Request) -> web.Response:
    return json_response(openapi.index())


async def openapi_doc(request: web.Request) -> web.Response:
    parts = request.match_info["tail"].strip("/").split("/")
    doc = None
    if parts[0] == "api" and len(parts) == 2:
        doc = openapi.gv_document("", parts[1])
    elif parts[0] == "apis" and len(parts) == 3:
        doc = openapi.gv_document(parts[1], parts[2])
    if doc is None:
        raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
    return json_response(doc)


async def not_found(request: web.Request) -> web.Response:
    raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")


def create_app(cluster: Cluster) -> web.Application:
    app = web.Application(middlewares=[chaos_middleware, field_manager_middleware],
                          client_max_size=16 * 1024 * 1024)
    app[CLUSTER] = cluster
    app.router.add_get("/version", version)
    app.router.add_get("/version/", version)
    app.router.add_get("/api", api_root)
    app.router.add_get("/api/", api_root)
    app.router.add_get("/apis", apis_root)
    app.router.add_get("/apis/", apis_root)
    app.router.add_get("/api/{version}", resource_list)
    app.router.add_get("/apis/{group}", group_doc)
    app.router.add_get("/apis/{group}/{version}", resource_list)
    add_control_routes(app)
    app.router.add_route("*", "/api/{tail:.+}", resource)
    app.router.add_route("*", "/apis/{tail:.+}", resource)
    app.router.add_get("/openapi/v3", openapi_index)
    app.router.add_get("/openapi/v3/{tail:.+}", openapi_doc)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
