"""In-memory object storage with one global resourceVersion and a bounded change history.

Every write gets the next resourceVersion and is appended to the history ring, from which
watches resume (or get 410 Expired once the version fell out of the window) and from which
/sandbox/v1/changes reports commit times for latency measurements.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .clock import Clock
from .resources import ResourceType, storage_key

Obj = dict[str, Any]
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
HISTORY = 10000  # changes kept for watch resume; older versions answer 410


@dataclass
class Change:
    rv: int
    key: str  # storage key, e.g. "apps/deployments"
    type: str  # ADDED, MODIFIED or DELETED
    old: Obj | None
    new: Obj  # for DELETED: the object's last state
    at: float  # wall-clock commit time, for latency measurements
    _lines: dict[str, bytes] = field(default_factory=dict)

    def line(self, event_type: str) -> bytes:
        """The watch line for this change, encoded once and shared by every watcher."""
        if event_type not in self._lines:
            self._lines[event_type] = encode_event(event_type, self.new)
        return self._lines[event_type]

    def chunk(self, event_type: str) -> bytes:
        """The same line framed as one HTTP chunk, also built once for every watcher."""
        key = "chunk:" + event_type
        if key not in self._lines:
            line = self.line(event_type)
            self._lines[key] = b"%x\r\n%b\r\n" % (len(line), line)
        return self._lines[key]


def encode_event(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(n))


class Store:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rv = 0
        self.objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self.history: deque[Change] = deque(maxlen=HISTORY)
        self.expired_below = 0  # watches from an older version get 410 (history or chaos)
        self.listeners: list[Callable[[Change], None]] = []

    # --- reads -------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        return self.objects.get(storage_key(rt), {}).get((namespace or "", name))

    def list(self, rt: ResourceType, namespace: str | None = None) -> list[Obj]:
        items = self.objects.get(storage_key(rt), {})
        found = [
            o for (ns, _), o in items.items() if namespace is None or ns == (namespace or "")
        ]
        return sorted(
            found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )

    def oldest_resumable(self) -> int:
        """Watches may resume from this version or later."""
        dropped = self.history[0].rv - 1 if len(self.history) == self.history.maxlen else 0
        return max(self.expired_below, dropped)

    def changes_since(self, rv: int) -> Iterable[Change]:
        return (c for c in self.history if c.rv > rv)

    # --- writes ------------------------------------------------------------------------
    def create(self, rt: ResourceType, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise errors.invalid(rt.kind, "", "metadata.name: Required value: name or "
                                     "generateName is required")
            meta["name"] = meta["generateName"] + random_suffix()
        if rt.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self.objects.setdefault(storage_key(rt), {})
        if key in bucket:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        meta["uid"] = meta.get("uid") or str(uuid.uuid4())  # a Job's selector names its uid
        meta["creationTimestamp"] = self.clock.stamp()
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        bucket[key] = obj
        self._commit(storage_key(rt), "ADDED", None, obj)
        return obj

    def put(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store a new state of an existing object (callers applied the API's rules)."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self.objects.setdefault(storage_key(rt), {})
        old = bucket.get(key)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, meta["name"])
        bucket[key] = obj
        self._commit(storage_key(rt), "MODIFIED", old, obj)
        return obj

    def remove(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        bucket = self.objects.setdefault(storage_key(rt), {})
        old = bucket.pop((namespace or "", name), None)
        if old is None:
            raise errors.not_found(rt.plural, rt.group, name)
        final = copy.deepcopy(old)
        self._commit(storage_key(rt), "DELETED", old, final)
        return final

    def restore(self, key: str, obj: Obj) -> None:
        """Re-add a snapshotted object (a warm reset) under a new resourceVersion."""
        meta = obj["metadata"]
        self.objects.setdefault(key, {})[(meta.get("namespace", ""), meta["name"])] = obj
        self._commit(key, "ADDED", None, obj)

    def _commit(self, key: str, kind: str, old: Obj | None, new: Obj) -> None:
        self.rv += 1
        new["metadata"]["resourceVersion"] = str(self.rv)
        change = Change(self.rv, key, kind, old, new, self.clock.now())
        self.history.append(change)
        for listener in list(self.listeners):
            listener(change)

    def expire_all(self) -> None:
        """Chaos: every version older than now answers 410 Gone."""
        self.expired_below = self.rv

    def clear(self) -> None:
        self.objects.clear()
