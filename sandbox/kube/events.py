"""An event recorder that, like client-go's, folds repeats into one Event with a rising count."""

from __future__ import annotations

import copy
from typing import Any

from .clock import Clock
from .resources import EVENTS
from .store import Store

Obj = dict[str, Any]


class Recorder:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.seen: dict[tuple[str, ...], tuple[str, str]] = {}  # key -> (namespace, name)

    def emit(
        self,
        involved: Obj,
        event_type: str,
        reason: str,
        message: str,
        component: str,
        *,
        host: str | None = None,
        field_path: str | None = None,
    ) -> Obj:
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta["uid"], field_path or "", event_type, reason, message, component)
        now = self.clock.stamp()
        if key in self.seen:
            existing = self.store.get(EVENTS, *self.seen[key])
            if existing is not None:
                updated = copy.deepcopy(existing)
                updated["count"] = existing.get("count", 1) + 1
                updated["lastTimestamp"] = now
                return self.store.put(EVENTS, updated)
        ref = {
            "kind": involved["kind"],
            "namespace": namespace,
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": involved["apiVersion"],
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            ref["fieldPath"] = field_path
        source: Obj = {"component": component}
        if host:
            source["host"] = host
        stamp = int(self.clock.now() * 1e9)
        while self.store.get(EVENTS, namespace, f"{meta['name']}.{stamp:x}") is not None:
            stamp += 1  # two events on one object in the same nanosecond (a manual clock)
        name = f"{meta['name']}.{stamp:x}"
        event = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        created = self.store.create(EVENTS, event)
        self.seen[key] = (namespace, created["metadata"]["name"])
        return created

    def forget(self) -> None:
        self.seen.clear()


def to_events_v1(core: Obj) -> Obj:
    """A core/v1 Event as events.k8s.io/v1 serves it (the same object, renamed fields)."""
    first = core.get("firstTimestamp") or core["metadata"].get("creationTimestamp")
    event_time = core.get("eventTime") or (first.replace("Z", ".000000Z") if first else None)
    out: Obj = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": core["metadata"],
        "eventTime": event_time,
        "reportingController": core.get("reportingComponent") or core["source"].get("component"),
        "reportingInstance": core.get("reportingInstance", ""),
        "action": core.get("action", core["reason"]),
        "reason": core["reason"],
        "regarding": core["involvedObject"],
        "note": core["message"],
        "type": core["type"],
        "deprecatedSource": core.get("source", {}),
        "deprecatedFirstTimestamp": core.get("firstTimestamp"),
        "deprecatedLastTimestamp": core.get("lastTimestamp"),
        "deprecatedCount": core.get("count"),
    }
    return out
