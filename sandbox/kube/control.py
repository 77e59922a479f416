"""The sandbox's own control API under /sandbox/v1/ on the Kubernetes port.

POST/GET /sandbox/v1/chaos            {"api": "kube"|"cloudbuild", "error_rate", "error_codes",
                                       "latency_ms"}
POST     /sandbox/v1/chaos/drop-watches  close every open watch now
POST     /sandbox/v1/chaos/expire        every resourceVersion older than now answers 410
GET      /sandbox/v1/metrics          {"watches": {"pods/default": n}, "requests": {...}}
POST     /sandbox/v1/reset            back to the state right after start
GET      /sandbox/v1/changes?since=RV [{"resourceVersion", "at", "kind", "namespace", "name",
                                       "type"}] from the bounded history ring
POST     /sandbox/v1/clock/advance    {"seconds": n} moves the simulated clock forward
GET      /sandbox/v1/images           the registry's images (for debugging)
POST     /sandbox/v1/images           {"image": "repo:tag", "commit": "..."} pre-loads one
DELETE   /sandbox/v1/images           {"image": "repo@sha256:..."} deletes one (and its tags)
GET/POST /sandbox/v1/auth             {"revoke": true} refuses every token issued so far,
                                      {"disabled": bool} disables the service-account key,
                                      {"token_lifetime": s} sets the lifetime of new tokens

Every write needs the control token (sandbox.guard); reads are open to loopback clients.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..chaos import ApiChaos
from ..registry import split_reference
from .resources import RESOURCES

if TYPE_CHECKING:
    from .cluster import Cluster

# The key under which the API server's app keeps its cluster (server.py sets it).
CLUSTER: web.AppKey[Cluster] = web.AppKey("cluster")


def _cluster(request: web.Request) -> Any:
    return request.app[CLUSTER]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json")


def _chaos_view(c: ApiChaos) -> dict[str, Any]:
    return {"error_rate": c.error_rate, "error_codes": list(c.error_codes),
            "latency_ms": c.latency_ms}


async def get_chaos(request: web.Request) -> web.Response:
    chaos = _cluster(request).chaos
    return _json({"kube": _chaos_view(chaos.kube), "cloudbuild": _chaos_view(chaos.cloudbuild)})


async def set_chaos(request: web.Request) -> web.Response:
    chaos = _cluster(request).chaos
    try:
        body = await request.json()
        settings = chaos.for_api(body.get("api", "kube"))
        if "error_rate" in body:
            settings.error_rate = float(body["error_rate"])
        if "error_codes" in body:
            settings.error_codes = tuple(int(c) for c in body["error_codes"]) or (500,)
        if "latency_ms" in body:
            settings.latency_ms = int(body["latency_ms"])
    except (ValueError, TypeError, AttributeError) as exc:
        return _json({"error": str(exc)}, 400)
    return await get_chaos(request)


async def drop_watches(request: web.Request) -> web.Response:
    return _json({"dropped": _cluster(request).hub.drop_all()})


async def expire(request: web.Request) -> web.Response:
    cluster = _cluster(request)
    cluster.store.expire_all()
    return _json({"expired_below": cluster.store.expired_below})


async def metrics(request: web.Request) -> web.Response:
    cluster = _cluster(request)
    cb = cluster.cloudbuild_app
    cb_count = 0
    if cb is not None:
        try:
            cb_count = int(cb["request_count"])
        except (KeyError, TypeError, ValueError):
            cb_count = 0
    objects = {r.plural if not r.group else f"{r.plural}.{r.group}": len(
        cluster.store.list(r)) for r in RESOURCES}
    return _json({
        "watches": cluster.hub.counts(),
        "requests": {"kube": cluster.requests, "cloudbuild": cb_count},
        "resourceVersion": cluster.store.rv,
        "fanout_ms": cluster.hub.fanout_ms(),
        "objects": objects,
    })


async def reset(request: web.Request) -> web.Response:
    cluster = _cluster(request)
    cluster.reset()
    cb = cluster.cloudbuild_app
    if cb is not None:
        try:
            reset_cb = cb["reset"]
        except KeyError:
            reset_cb = None
        if callable(reset_cb):
            result = reset_cb()
            if hasattr(result, "__await__"):
                await result
    return _json({"status": "reset", "resourceVersion": cluster.store.rv})


async def changes(request: web.Request) -> web.Response:
    store = _cluster(request).store
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        return _json({"error": "since must be an integer resourceVersion"}, 400)
    out = [{
        "resourceVersion": str(c.rv), "at": round(c.at, 3), "kind": c.new.get("kind"),
        "namespace": c.new["metadata"].get("namespace", ""), "name": c.new["metadata"]["name"],
        "type": c.type,
    } for c in store.changes_since(since)]
    return _json(out)


async def advance(request: web.Request) -> web.Response:
    cluster = _cluster(request)
    try:
        seconds = float((await request.json()).get("seconds", 0))
    except (ValueError, TypeError, AttributeError) as exc:
        return _json({"error": str(exc)}, 400)
    cluster.clock.advance(seconds)
    return _json({"offset": cluster.clock.offset, "now": cluster.clock.now()})


async def list_images(request: web.Request) -> web.Response:
    registry = _cluster(request).registry
    with registry._lock:
        images = list(registry._by_digest.values())
    return _json([{"repository": i.repository, "tag": i.tag, "digest": i.digest,
                   "commit": i.commit} for i in images])


async def push_image(request: web.Request) -> web.Response:
    body = await request.json()
    repository, tag, _ = split_reference(body["image"])
    image = _cluster(request).registry.push(repository, tag or "latest", body.get("commit", ""))
    return _json({"repository": image.repository, "tag": image.tag, "digest": image.digest,
                  "commit": image.commit}, 201)


async def delete_image(request: web.Request) -> web.Response:
    try:
        repository, _, digest = split_reference((await request.json())["image"])
    except (ValueError, KeyError, TypeError) as exc:
        return _json({"error": f"body needs image: repo@sha256:... ({exc})"}, 400)
    if not digest or not _cluster(request).registry.delete(repository, digest):
        return _json({"error": "no such image"}, 404)
    return _json({"deleted": f"{repository}@{digest}"})


def _auth_view(identity: Any) -> dict[str, Any]:
    return {"required": identity.required, "account": identity.email,
            "disabled": identity.disabled, "revoked_before": identity.revoked_before,
            "token_lifetime": identity.token_lifetime, "issued": identity.issued}


async def get_auth(request: web.Request) -> web.Response:
    identity = _cluster(request).identity
    if identity is None:
        return _json({"error": "this sandbox has no identity"}, 404)
    return _json(_auth_view(identity))


async def set_auth(request: web.Request) -> web.Response:
    identity = _cluster(request).identity
    if identity is None:
        return _json({"error": "this sandbox has no identity"}, 404)
    try:
        body = await request.json()
        if body.get("revoke"):
            identity.revoked_before = time.time()
        if "disabled" in body:
            identity.disabled = bool(body["disabled"])
        if "token_lifetime" in body:
            lifetime = int(body["token_lifetime"])
            if lifetime < 1:
                raise ValueError("token_lifetime must be >= 1 second")
            identity.token_lifetime = lifetime
    except (ValueError, TypeError, AttributeError) as exc:
        return _json({"error": str(exc)}, 400)
    return _json(_auth_view(identity))


def add_control_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/sandbox/v1/chaos", get_chaos)
    r.add_post("/sandbox/v1/chaos", set_chaos)
    r.add_post("/sandbox/v1/chaos/drop-watches", drop_watches)
    r.add_post("/sandbox/v1/chaos/expire", expire)
    r.add_get("/sandbox/v1/metrics", metrics)
    r.add_post("/sandbox/v1/reset", reset)
    r.add_get("/sandbox/v1/changes", changes)
    r.add_post("/sandbox/v1/clock/advance", advance)
    r.add_get("/sandbox/v1/images", list_images)
    r.add_post("/sandbox/v1/images", push_image)
    r.add_delete("/sandbox/v1/images", delete_image)
    r.add_get("/sandbox/v1/auth", get_auth)
    r.add_post("/sandbox/v1/auth", set_auth)
