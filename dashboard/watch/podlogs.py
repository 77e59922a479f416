"""Pod logs on a release page: while somebody views /ws/releases/<id>/, the watcher follows
the logs of that release's new pods (one `follow=true` stream per pod) and publishes them as
"podlog" messages on the release stream, at most LINES_PER_SECOND per pod (the rest are
counted as dropped), batched every FLUSH_SECONDS.

Viewers: each consumer of a release stream says it is there (streams.join, refreshed every
streams.VIEWER_REFRESH s); the watcher counts those seen within streams.VIEWER_TTL s
(streams.viewers), so a web process that died without saying goodbye stops counting soon.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from kubernetes import client as k8s
from kubernetes.watch.watch import iter_resp_lines

from dashboard import streams
from dashboard.watch.publisher import Item

if TYPE_CHECKING:
    from dashboard.watch.watcher import Watcher

log = logging.getLogger(__name__)
LINES_PER_SECOND = 20
FLUSH_SECONDS = 0.25
TAIL_LINES = 100
MAX_LINE = 2000


class Follower(threading.Thread):
    """`kubectl logs -f` of one container, rate-limited into a buffer the manager flushes."""

    def __init__(self, api_client: Any, namespace: str, pod: str, container: str,
                 stream: str) -> None:
        super().__init__(name=f"podlog-{pod}", daemon=True)
        self.core = k8s.CoreV1Api(api_client)
        self.namespace, self.pod, self.container, self.stream = namespace, pod, container, stream
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.lines: list[str] = []
        self.dropped = 0
        self.last_line_at = 0.0
        self._resp: Any = None

    def stop(self) -> None:
        self.stopped.set()
        sock = getattr(getattr(self._resp, "connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self._follow()
            except Exception as exc:
                if not self.stopped.is_set():
                    log.info("log of %s: %s", self.pod, exc)
            # The stream ends when the container does; follow its next instance.
            self.stopped.wait(2.0)

    def _follow(self) -> None:
        kwargs: dict[str, Any] = {"tail_lines": TAIL_LINES}
        if self.last_line_at:
            kwargs = {"since_seconds": max(1, int(time.time() - self.last_line_at) + 1)}
        self._resp = self.core.read_namespaced_pod_log(
            self.pod, self.namespace, container=self.container or None, follow=True,
            _preload_content=False, _request_timeout=(5, 3600), **kwargs,
        )
        window_start, in_window = time.monotonic(), 0
        try:
            for line in iter_resp_lines(self._resp):
                if self.stopped.is_set():
                    break
                now = time.monotonic()
                if now - window_start >= 1.0:
                    window_start, in_window = now, 0
                self.last_line_at = time.time()
                with self.lock:
                    if in_window >= LINES_PER_SECOND:
                        self.dropped += 1
                        continue
                    in_window += 1
                    self.lines.append(line[:MAX_LINE])
        finally:
            self._resp.release_conn()

    def take(self) -> dict[str, Any] | None:
        with self.lock:
            if not self.lines and not self.dropped:
                return None
            data = {"pod": self.pod, "container": self.container, "lines": self.lines,
                    "dropped": self.dropped}
            self.lines, self.dropped = [], 0
            return data


class PodLogs(threading.Thread):
    """Starts and stops Followers to match (release with viewers) x (its new, started pods)."""

    def __init__(self, watcher: Watcher) -> None:
        super().__init__(name="podlogs", daemon=True)
        self.watcher = watcher
        self.followers: dict[tuple[str, str, str], Follower] = {}

    def run(self) -> None:
        next_check = 0.0
        while not self.watcher.stopped.is_set():
            try:
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + 1.0
                    self.reconcile()
                self.flush()
            except Exception:
                log.warning("pod logs", exc_info=True)
            self.watcher.stopped.wait(FLUSH_SECONDS)
        for follower in self.followers.values():
            follower.stop()

    def wanted(self) -> dict[tuple[str, str, str], tuple[Any, str]]:
        out: dict[tuple[str, str, str], tuple[Any, str]] = {}
        if not self.watcher.leading:
            return out
        for nsw in list(self.watcher.namespaces.values()):
            for spec in list(nsw.services.values()):
                if spec.release_id is None:
                    continue
                stream = streams.release_stream(spec.release_id)
                if streams.viewers(stream) == 0:
                    continue
                for pod in nsw.new_pods(spec):
                    statuses = (pod.get("status") or {}).get("containerStatuses") or []
                    started = any((cs.get("state") or {}).get(s) for cs in statuses
                                  for s in ("running", "terminated"))
                    if started:
                        name = pod["metadata"]["name"]
                        out[(stream, name, spec.container)] = (nsw.api_client, nsw.namespace)
        return out

    def reconcile(self) -> None:
        wanted = self.wanted()
        for key in [k for k in self.followers if k not in wanted]:
            self.followers.pop(key).stop()
        for key, (api_client, namespace) in wanted.items():
            follower = self.followers.get(key)
            if follower is None or not follower.is_alive():
                stream, pod, container = key
                follower = Follower(api_client, namespace, pod, container, stream)
                self.followers[key] = follower
                follower.start()

    def flush(self) -> None:
        for follower in list(self.followers.values()):
            data = follower.take()
            if data is not None:
                self.watcher.publisher.submit(Item(follower.stream, "podlog", data, mode="none"))
