"""The live-stream watcher (`manage.py watch_clusters`): one list-then-watch per resource kind
per namespace, shared by every Service in that namespace and by every viewer, normalised into
rows and published on "service:<name>" (and "release:<id>" while a release is active).

Threads: the lease keeper (renews every LEASE_RENEW s), the main loop (polls the database for
Services and active releases and starts/stops namespace watches while leading), four informer
threads per namespace, the publisher (dashboard/watch/publisher.py), pod logs
(dashboard/watch/podlogs.py) and the release mirror (dashboard/watch/mirror.py). Only the lease
holder watches and publishes; a standby just tries to take the lease. Changes to a Service
with an active release wake the pipeline (releases.driver.wake, debounced by the
publisher).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import close_old_connections

from config import heartbeat
from dashboard import streams
from dashboard.adapters import clients
from dashboard.models import Release, Service
from dashboard.rollout import rows
from dashboard.watch.informer import KINDS, Informer
from dashboard.watch.lease import Lease
from dashboard.watch.mirror import Mirror
from dashboard.watch.podlogs import PodLogs
from dashboard.watch.publisher import Item, Publisher

log = logging.getLogger(__name__)
Obj = dict[str, Any]
LEASE_TTL = 3.0
LEASE_RENEW = 0.5
POLL_SECONDS = 1.0
EVENTS_KEPT = 40  # k8s events kept in a stream's snapshot state


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    cluster: int
    namespace: str
    deployment: str
    container: str
    release_id: int | None = None
    release_since: str = ""  # ISO time: events before the release are not on its stream

    def streams(self) -> list[str]:
        out = [streams.service_stream(self.name)]
        if self.release_id is not None:
            out.append(streams.release_stream(self.release_id))
        return out


def _uid(obj: Obj) -> str:
    m = rows.meta(obj)
    return str(m.get("uid") or m.get("name"))


class NamespaceWatch:
    """Four informers over one namespace, their object cache, and the Services in it."""

    def __init__(self, watcher: Watcher, api_client: Any, namespace: str) -> None:
        self.watcher = watcher
        self.api_client = api_client
        self.namespace = namespace
        self.lock = threading.RLock()
        self.objs: dict[str, dict[str, Obj]] = {k: {} for k in KINDS}
        self.services: dict[str, ServiceSpec] = {}
        self.uids: dict[str, set[str]] = {}  # service -> uids of its objects (for events)
        self.informers = [
            Informer(api_client, kind, namespace, self.on_sync, self.on_event) for kind in KINDS
        ]

    def start(self) -> None:
        for informer in self.informers:
            informer.start()

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()

    def set_services(self, specs: dict[str, ServiceSpec]) -> None:
        with self.lock:
            old, self.services = self.services, specs
            for spec in specs.values():
                if old.get(spec.name) != spec:
                    self.refresh(spec, with_events=True)

    # -- informer callbacks (informer threads) ---------------------------------------------
    def on_sync(self, kind: str, items: list[Obj]) -> None:
        with self.lock:
            self.objs[kind] = {_uid(o): o for o in items}
            for spec in self.services.values():
                self.refresh(spec, with_events=kind == "events")

    def on_event(self, kind: str, type_: str, obj: Obj) -> None:
        with self.lock:
            if type_ == "DELETED":
                self.objs[kind].pop(_uid(obj), None)
            else:
                self.objs[kind][_uid(obj)] = obj
            if kind == "events":
                if type_ != "DELETED":
                    self.event_changed(obj)
                return
            for spec in self.affected(kind, obj):
                self.refresh(spec)

    # -- mapping objects to Services -------------------------------------------------------
    def affected(self, kind: str, obj: Obj) -> list[ServiceSpec]:
        if kind == "deployments":
            name = rows.meta(obj).get("name")
            return [s for s in self.services.values() if s.deployment == name]
        owner = rows.controller_uid(obj)
        hits = [s for s in self.services.values() if owner in self.uids.get(s.name, ())]
        return hits or list(self.services.values())  # owner not seen yet: check them all

    def parts(self, spec: ServiceSpec) -> tuple[Obj | None, list[Obj], list[Obj]]:
        dep = next((d for d in self.objs["deployments"].values()
                    if rows.meta(d).get("name") == spec.deployment), None)
        if dep is None:
            return None, [], []
        uid = rows.meta(dep).get("uid")
        rss = [rs for rs in self.objs["replicasets"].values() if rows.controller_uid(rs) == uid]
        rs_uids = {_uid(rs) for rs in rss}
        pods = [p for p in self.objs["pods"].values() if rows.controller_uid(p) in rs_uids]
        return dep, rss, pods

    def new_pods(self, spec: ServiceSpec) -> list[Obj]:
        with self.lock:
            dep, rss, pods = self.parts(spec)
            new_rs = rows.new_replicaset(dep, rss) if dep else None
            if new_rs is None:
                return []
            return [p for p in pods if rows.controller_uid(p) == _uid(new_rs)]

    def refresh(self, spec: ServiceSpec, with_events: bool = False) -> None:
        """Recompute the rollout and pod rows of `spec`; publish the ones that changed."""
        dep, rss, pods = self.parts(spec)
        current: dict[str, tuple[str, Obj]] = {}
        if dep is not None:
            known = self.uids.setdefault(spec.name, set())
            known.update(_uid(o) for o in [dep, *rss, *pods])
            by_uid = {_uid(rs): rs for rs in rss}
            new_rs = rows.new_replicaset(dep, rss)
            new_uid = _uid(new_rs) if new_rs else None
            current["rollout"] = ("rollout.progress", rows.rollout_row(dep, rss))
            for pod in pods:
                rs = by_uid.get(rows.controller_uid(pod) or "")
                row = rows.pod_row(pod, rs, new_uid)
                current[f"pod:{row['name']}"] = ("pod", row)
        self.watcher.emit(spec, current, prefix="pod:")
        if with_events:
            for event in list(self.objs["events"].values()):
                self.event_changed(event, only=spec)

    def event_changed(self, event: Obj, only: ServiceSpec | None = None) -> None:
        involved = event.get("involvedObject") or {}
        name, uid, kind = involved.get("name") or "", involved.get("uid"), involved.get("kind")
        row = rows.event_row(event)
        for spec in [only] if only else list(self.services.values()):
            mine = uid in self.uids.get(spec.name, ()) or (
                kind == "Deployment" and name == spec.deployment
            ) or (kind in ("ReplicaSet", "Pod") and name.startswith(spec.deployment + "-"))
            if mine:
                self.watcher.emit(spec, {f"event:{row['uid']}": ("k8s.event", row)})


class Watcher:
    def __init__(self, lease_ttl: float = LEASE_TTL) -> None:
        self.lease = Lease(streams.client(), ttl=lease_ttl)
        self.publisher = Publisher(self.lease, on_failed=self._forget)
        self.namespaces: dict[tuple[int, str], NamespaceWatch] = {}
        self.sent: dict[str, dict[str, str]] = {}  # stream -> row key -> digest published
        self.event_keys: dict[str, list[str]] = {}
        self.sent_lock = threading.RLock()
        self.stopped = threading.Event()
        self.leading = False
        self.clients: dict[int, Any] = {}

    # -- publishing (any thread) -----------------------------------------------------------
    def _sent(self, stream: str) -> dict[str, str]:
        table = self.sent.get(stream)
        if table is None:  # first use since we lead: what earlier leaders published
            raw: Any = streams.client().hgetall(streams.row_keys(stream)[2])
            table = {str(k): str(v) for k, v in raw.items()}
            self.sent[stream] = table
            self.event_keys[stream] = [k for k in table if k.startswith("event:")]
        return table

    def emit(
        self, spec: ServiceSpec, current: dict[str, tuple[str, Obj]], prefix: str = ""
    ) -> None:
        """Publish rows of `current` whose digest changed, on the Service's streams; with
        `prefix`, rows under it that are gone from `current` are published as deleted."""
        if not self.leading:
            return
        with self.sent_lock:
            for stream in spec.streams():
                is_release = streams.is_release_stream(stream)
                wake = spec.release_id if not is_release else None
                sent = self._sent(stream)
                for key, (type_, data) in current.items():
                    if is_release and key.startswith("event:") and spec.release_since and (
                        str(data.get("at") or "") < spec.release_since
                    ):
                        continue
                    digest = rows.digest(data)
                    if sent.get(key) == digest:
                        continue
                    sent[key] = digest
                    self.publisher.submit(Item(stream, type_, data, key, digest, "set", wake))
                    if key.startswith("event:"):
                        self._keep_events(stream, key)
                if prefix:
                    for key in [k for k in sent if k.startswith(prefix) and k not in current]:
                        del sent[key]
                        data = {"name": key[len(prefix):], "deleted": True}
                        self.publisher.submit(Item(stream, "pod", data, key, "", "del", wake))

    def _keep_events(self, stream: str, key: str) -> None:
        keys = self.event_keys.setdefault(stream, [])
        if key in keys:
            keys.remove(key)
        keys.append(key)
        if len(keys) > EVENTS_KEPT * 2:
            old, self.event_keys[stream] = keys[:-EVENTS_KEPT], keys[-EVENTS_KEPT:]
            try:
                streams.forget_rows(stream, old)
            except Exception:
                log.warning("could not prune events of %s", stream, exc_info=True)

    def _forget(self, item: Item) -> None:
        """A publish did not happen: forget its digest so the next change retries it."""
        with self.sent_lock:
            table = self.sent.get(item.stream)
            if table is not None and item.key:
                table.pop(item.key, None)

    # -- leadership ------------------------------------------------------------------------
    def keep_lease(self) -> None:
        while not self.stopped.is_set():
            self.lease.try_hold()
            self.stopped.wait(LEASE_RENEW)

    def _lead(self) -> None:
        log.info("watcher %s: leading", self.lease.token[:8])
        with self.sent_lock:
            self.sent.clear()
            self.event_keys.clear()
        self.leading = True

    def _step_down(self, why: str = "lost the lease") -> None:
        log.info("watcher %s: %s; stopping watches", self.lease.token[:8], why)
        self.leading = False
        for nsw in self.namespaces.values():
            nsw.stop()
        self.namespaces.clear()

    # -- the database side -----------------------------------------------------------------
    def load_services(self) -> dict[tuple[int, str], dict[str, ServiceSpec]]:
        active: dict[int, Any] = {}
        for r in Release.objects.active().order_by("pk"):
            active[r.service_id] = r
        out: dict[tuple[int, str], dict[str, ServiceSpec]] = {}
        for svc in Service.objects.select_related("cluster").order_by("pk"):
            release: Any = active.get(svc.pk)
            since = ""
            if release is not None:
                started = getattr(release, "started_at", None) or getattr(
                    release, "created_at", None
                )
                since = _iso(started) if started else ""
            spec = ServiceSpec(
                name=svc.name, cluster=svc.cluster_id, namespace=svc.namespace,
                deployment=svc.deployment, container=svc.container,
                release_id=release.pk if release is not None else None, release_since=since,
            )
            out.setdefault((svc.cluster_id, svc.namespace), {})[svc.name] = spec
            if svc.cluster_id not in self.clients:
                try:
                    self.clients[svc.cluster_id] = clients.kube_api_client(svc.cluster)
                except Exception:
                    log.warning("cluster %s: cannot build a client", svc.cluster, exc_info=True)
        return out

    def reconcile(self, wanted: dict[tuple[int, str], dict[str, ServiceSpec]]) -> None:
        for key in [k for k in self.namespaces if k not in wanted]:
            self.namespaces.pop(key).stop()
        for key, specs in wanted.items():
            nsw = self.namespaces.get(key)
            if nsw is None:
                api_client = self.clients.get(key[0])
                if api_client is None:
                    continue
                nsw = NamespaceWatch(self, api_client, key[1])
                nsw.set_services(specs)
                self.namespaces[key] = nsw
                nsw.start()
            else:
                nsw.set_services(specs)

    def run(self) -> None:
        self.publisher.start()
        self.publisher.ready.wait(10)
        threading.Thread(target=self.keep_lease, name="lease", daemon=True).start()
        PodLogs(self).start()
        Mirror(self).start()
        try:
            while not self.stopped.is_set():
                heartbeat.beat("watcher")  # liveness for the container's health check
                if self.lease.held and not self.leading:
                    self._lead()
                elif not self.lease.held and self.leading:
                    self._step_down()
                if self.leading:
                    try:
                        close_old_connections()
                        self.reconcile(self.load_services())
                    except Exception:
                        log.warning("could not load services", exc_info=True)
                self.stopped.wait(POLL_SECONDS if self.leading else LEASE_RENEW / 2)
        finally:
            self.stop()

    def stop(self) -> None:
        self.stopped.set()
        if self.leading:
            self._step_down("shutting down")
        self.lease.release()


def _iso(value: datetime) -> str:
    if value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
