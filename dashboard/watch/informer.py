"""List-then-watch of one resource kind in one namespace (a small SharedInformer).

One thread per (namespace, kind). It lists, hands the full list to `on_sync`, then watches
from the list's resourceVersion, handing each change to `on_event`. It resumes from the last
resourceVersion it saw (objects and bookmarks) when the server ends or drops a stream, and
re-lists when that version has expired (410, either as an ERROR event or an HTTP status).
Reconnects back off exponentially (with jitter) only while they keep failing.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

log = logging.getLogger(__name__)

Obj = dict[str, Any]
KINDS = ("deployments", "replicasets", "pods", "events")
WATCH_SECONDS = 240  # server-side timeout: the watch is re-issued from the last RV after this


class Expired(Exception):
    """The resourceVersion we resume from is too old: re-list."""


def _list_function(api_client: k8s.ApiClient, kind: str) -> Callable[..., Any]:
    if kind == "deployments":
        return k8s.AppsV1Api(api_client).list_namespaced_deployment
    if kind == "replicasets":
        return k8s.AppsV1Api(api_client).list_namespaced_replica_set
    if kind == "pods":
        return k8s.CoreV1Api(api_client).list_namespaced_pod
    if kind == "events":
        return k8s.CoreV1Api(api_client).list_namespaced_event
    raise ValueError(kind)


class Informer(threading.Thread):
    def __init__(
        self, api_client: k8s.ApiClient, kind: str, namespace: str,
        on_sync: Callable[[str, list[Obj]], None],
        on_event: Callable[[str, str, Obj], None],
    ) -> None:
        super().__init__(name=f"watch-{namespace}-{kind}", daemon=True)
        self.kind = kind
        self.namespace = namespace
        self.list_fn = _list_function(api_client, kind)
        self.on_sync = on_sync
        self.on_event = on_event
        self.resource_version: str | None = None
        self.stopped = threading.Event()
        self.synced = threading.Event()
        self._resp: Any = None
        self.lists = 0  # for tests and logs: how many times we (re-)listed
        self.watches = 0

    def stop(self) -> None:
        self.stopped.set()
        resp = self._resp
        if resp is not None:
            # Unblock the thread reading the stream (as kubernetes.watch.Watch.stop does).
            try:
                sock = getattr(getattr(resp, "connection", None), "sock", None)
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def run(self) -> None:
        delay = 0.2
        while not self.stopped.is_set():
            started = time.monotonic()
            delivered = 0
            try:
                if self.resource_version is None:
                    self._list()
                delivered = self._watch()
            except Expired:
                log.info("%s/%s: resourceVersion expired; re-listing", self.namespace, self.kind)
                self.resource_version = None
                continue
            except Exception as exc:
                if self.stopped.is_set():
                    break
                log.warning("%s/%s watch failed: %s", self.namespace, self.kind, exc)
            else:
                if self.stopped.is_set():
                    break
            finally:
                self._resp = None
            if delivered or time.monotonic() - started > 5:
                delay = 0.2  # the stream worked: reconnect at once
                continue
            self.stopped.wait(delay * (0.5 + random.random()))
            delay = min(delay * 2, 10.0)

    def _list(self) -> None:
        try:
            resp = self.list_fn(self.namespace, _preload_content=False, _request_timeout=(5, 30))
        except ApiException as exc:
            if exc.status == 410:
                raise Expired() from exc
            raise
        body = json.loads(resp.data)
        self.lists += 1
        self.on_sync(self.kind, body.get("items") or [])
        self.resource_version = body["metadata"]["resourceVersion"]
        self.synced.set()

    def _watch(self) -> int:
        timeout = WATCH_SECONDS + random.randint(0, 60)
        try:
            resp = self.list_fn(
                self.namespace, watch=True, resource_version=self.resource_version,
                allow_watch_bookmarks=True, timeout_seconds=timeout,
                _preload_content=False, _request_timeout=(5, timeout + 30),
            )
        except ApiException as exc:
            if exc.status == 410:
                raise Expired() from exc
            raise
        self._resp = resp
        self.watches += 1
        delivered = 0
        try:
            for line in iter_resp_lines(resp):
                if self.stopped.is_set():
                    break
                if not line:
                    continue
                event = json.loads(line)
                type_, obj = event.get("type"), event.get("object") or {}
                if type_ == "ERROR":
                    if obj.get("code") == 410:
                        raise Expired()
                    raise RuntimeError(f"watch error {obj.get('code')}: {obj.get('message')}")
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if type_ != "BOOKMARK":
                    self.on_event(self.kind, type_, obj)
                    delivered += 1
                if rv:
                    self.resource_version = rv
        finally:
            resp.release_conn()
        return delivered
