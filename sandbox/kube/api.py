"""The REST verbs over the store, with the API server's rules (kept apart from HTTP glue)."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from . import errors, managed, strategy
from .clock import Clock
from .events import to_events_v1
from .patch import apply_patch
from .resources import DEPLOYMENTS, NAMESPACES, NEW_EVENTS, PODS, REPLICASETS, ResourceType
from .selectors import make_filter, selector_to_string
from .store import Store

Obj = dict[str, Any]


def view(rt: ResourceType, obj: Obj) -> Obj:
    """The object as the requested API version serves it."""
    return to_events_v1(obj) if rt is NEW_EVENTS else obj


def _key(obj: Obj) -> tuple[str, str]:
    return (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


class Api:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def get(self, rt: ResourceType, ns: str | None, name: str) -> Obj:
        obj = self.store.get(rt, ns, name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def list(
        self, rt: ResourceType, ns: str | None, labels: str | None, fields: str | None,
        limit: int = 0, cont: str | None = None,
    ) -> Obj:
        match = make_filter(ns, labels, fields)
        items = [view(rt, o) for o in self.store.list(rt, ns) if match(view(rt, o))]
        meta: Obj = {"resourceVersion": str(self.store.rv)}
        if cont:
            # Pages are cut from the current state (not a snapshot at the first page's
            # version, as etcd would serve): good enough for clients that page through.
            try:
                rv, after = json.loads(base64.urlsafe_b64decode(cont.encode()))
            except (ValueError, TypeError) as exc:
                raise errors.bad_request("continue key is not valid") from exc
            if int(rv) < self.store.expired_below:
                raise errors.ApiError(410, "Expired", "The provided continue parameter is too "
                                      "old to display a consistent list result.")
            items = [o for o in items if _key(o) > tuple(after)]
            meta["resourceVersion"] = str(rv)
        if limit and len(items) > limit:
            last = _key(items[limit - 1])
            meta["continue"] = base64.urlsafe_b64encode(
                json.dumps([meta["resourceVersion"], list(last)]).encode()).decode()
            meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": meta,
            "items": items,
        }

    def create(self, rt: ResourceType, ns: str | None, body: Obj, dry_run: bool = False) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request("body must be an object")
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and ns and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            meta["namespace"] = ns or meta.get("namespace") or "default"
            if self.store.get(NAMESPACES, None, meta["namespace"]) is None:
                raise errors.not_found("namespaces", "", meta["namespace"])
        for k in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(k, None)
        prepared = strategy.prepare_create(rt, body)
        if dry_run:  # validated and defaulted, never stored (dryRun=All)
            if self.store.get(rt, meta.get("namespace"), meta.get("name", "")) is not None:
                raise errors.already_exists(rt.plural, rt.group, meta["name"])
            return prepared
        managed.record(None, prepared, None, self.clock.stamp())
        return self.store.create(rt, prepared)

    def update(
        self, rt: ResourceType, ns: str | None, name: str, body: Obj, sub: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        old = self.get(rt, ns, name)
        if not isinstance(body, dict):
            raise errors.bad_request("body must be an object")
        want_rv = (body.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request("the name of the object does not match the name on the URL")
        new = strategy.prepare_update(rt, old, body, sub)
        if dry_run:
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            return new
        if new == old:
            return old  # a no-op write keeps its resourceVersion, as etcd's guaranteed update does
        managed.record(old, new, sub, self.clock.stamp())
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.store.put(rt, new)

    def patch(
        self, rt: ResourceType, ns: str | None, name: str, content_type: str, body: Any,
        sub: str | None = None, dry_run: bool = False,
    ) -> Obj:
        old = self.get(rt, ns, name)
        patched = apply_patch(content_type, old, body)
        return self.update(rt, ns, name, patched, sub, dry_run)

    def delete(
        self, rt: ResourceType, ns: str | None, name: str, grace: int | None = None
    ) -> Obj:
        obj = self.get(rt, ns, name)
        if rt is PODS:
            return self._delete_pod(obj, grace)
        return self.store.remove(rt, ns, name)

    def _delete_pod(self, pod: Obj, grace: int | None) -> Obj:
        """Graceful deletion: the kubelet finishes it; unscheduled pods go at once."""
        meta = pod["metadata"]
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        if grace <= 0 or not pod["spec"].get("nodeName"):
            return self.store.remove(PODS, meta["namespace"], meta["name"])
        if meta.get("deletionTimestamp"):
            if grace < meta.get("deletionGracePeriodSeconds", grace):
                new = copy.deepcopy(pod)
                new["metadata"]["deletionGracePeriodSeconds"] = grace
                return self.store.put(PODS, new)
            return pod
        new = copy.deepcopy(pod)
        new["metadata"]["deletionTimestamp"] = self.clock.stamp(self.clock.now() + grace)
        new["metadata"]["deletionGracePeriodSeconds"] = grace
        return self.store.put(PODS, new)

    # --- /scale ------------------------------------------------------------------------
    def get_scale(self, rt: ResourceType, ns: str | None, name: str) -> Obj:
        obj = self.get(rt, ns, name)
        meta = obj["metadata"]
        sel = obj["spec"].get("selector") or {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"],
                "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {
                "replicas": obj.get("status", {}).get("replicas", 0),
                "selector": selector_to_string(sel),
            },
        }

    def set_scale(self, rt: ResourceType, ns: str | None, name: str, scale: Obj) -> Obj:
        obj = copy.deepcopy(self.get(rt, ns, name))
        want_rv = (scale.get("metadata") or {}).get("resourceVersion")
        if want_rv and want_rv != obj["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid("Scale", name, "spec.replicas: must be a non-negative integer")
        obj["spec"]["replicas"] = replicas
        self.update(rt, ns, name, obj)
        return self.get_scale(rt, ns, name)

    def patch_scale(
        self, rt: ResourceType, ns: str | None, name: str, content_type: str, body: Any
    ) -> Obj:
        current = self.get_scale(rt, ns, name)
        return self.set_scale(rt, ns, name, apply_patch(content_type, current, body))


SCALABLE = {DEPLOYMENTS.key, REPLICASETS.key}
