"""Long-lived HTTP responses: watches (newline-delimited JSON) and followed container logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import errors
from .api import view
from .clock import parse_stamp
from .resources import NEW_EVENTS, ResourceType, storage_key
from .selectors import make_filter
from .tables import to_table, wants_table
from .watch import CLOSE, Watcher, frame

if TYPE_CHECKING:
    from .cluster import Cluster

Obj = dict[str, Any]
BOOKMARK_EVERY = 15.0  # seconds between bookmarks on an idle watch that asked for them
DEFAULT_TIMEOUT = 1800.0
SLOW_CLIENT_BYTES = 8 * 1024 * 1024  # a watcher this far behind is closed, as the apiserver does


def truthy(value: str | None) -> bool:
    """Query booleans are case-insensitive: the 35.x client sends `True`."""
    return (value or "").strip().lower() in ("true", "1", "yes")


async def serve_watch(
    request: web.Request, cluster: Cluster, rt: ResourceType, ns: str | None,
    only: str | None = None,
) -> web.StreamResponse:
    q = request.query
    fields = q.get("fieldSelector")
    if only is not None:
        fields = ",".join(f for f in (fields, f"metadata.name={only}") if f)
    match = make_filter(ns, q.get("labelSelector"), fields)
    transform: Callable[[Obj], Obj] | None = None
    if rt is NEW_EVENTS:
        transform = lambda o: view(rt, o)  # noqa: E731
        inner = match
        match = lambda o: inner(view(rt, o))  # noqa: E731
    if wants_table(request.headers.get("Accept", "")):
        # `kubectl get -w`: every event carries a one-row Table, as the apiserver sends.
        include = q.get("includeObject", "Metadata")
        inner_tf = transform

        def table_tf(o: Obj) -> Obj:
            shown = inner_tf(o) if inner_tf else o
            return to_table(cluster.clock, rt, [shown], shown["metadata"]["resourceVersion"],
                            include)

        transform = table_tf
    bookmarks = truthy(q.get("allowWatchBookmarks"))
    timeout = float(q.get("timeoutSeconds") or 0) or DEFAULT_TIMEOUT  # 0 means the default
    rv_text = q.get("resourceVersion") or ""
    send_initial = truthy(q.get("sendInitialEvents"))
    label = f"{rt.plural}/{ns or '*'}"
    watcher = Watcher(storage_key(rt), label, match, transform)

    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    store = cluster.store
    cluster.hub.add(watcher)
    try:
        if rv_text in ("", "0") or send_initial:
            lines = []
            for obj in store.list(rt, ns):
                if match(obj):
                    lines.append(_line("ADDED", transform(obj) if transform else obj))
            if send_initial and bookmarks:
                lines.append(_line("BOOKMARK", _bookmark(rt, store.rv, initial_end=True)))
            if lines:
                await resp.write(b"".join(lines))
        else:
            try:
                since = int(rv_text)
            except ValueError:
                since = -1
            oldest = store.oldest_resumable()
            if since < oldest:
                status = errors.expired(since, oldest + 1).status()
                await resp.write(_line("ERROR", status))
                return resp
            for change in store.changes_since(since):
                watcher.offer(change)
        await _pump(request, resp, watcher, cluster, rt, timeout, bookmarks)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        cluster.hub.discard(watcher)
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp


async def _pump(
    request: web.Request, resp: web.StreamResponse, watcher: Watcher, cluster: Cluster,
    rt: ResourceType, timeout: float, bookmarks: bool,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    # Replayed history first, through aiohttp; then live events go out directly.
    while not watcher.queue.empty():
        batch = [watcher.queue.get_nowait()]
        while not watcher.queue.empty():
            batch.append(watcher.queue.get_nowait())
        data = b"".join(b for b in batch if b)
        if data:
            await resp.write(data)
        if CLOSE in batch:
            return
    send = _direct_sender(request)
    watcher.direct = send
    while True:
        left = deadline - loop.time()
        if left <= 0:
            return
        wait = min(left, BOOKMARK_EVERY) if bookmarks else left
        try:
            item = await asyncio.wait_for(watcher.queue.get(), wait)
        except TimeoutError:
            if bookmarks and deadline - loop.time() > 0 and not send(
                frame(_line("BOOKMARK", _bookmark(rt, cluster.store.rv)))
            ):
                return
            continue
        if item == CLOSE:
            return


def _direct_sender(request: web.Request) -> Callable[[bytes], bool]:
    """Write one chunk of the (already started) chunked body straight to the transport."""
    transport = request.transport

    def send(chunk: bytes) -> bool:
        if transport is None or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > SLOW_CLIENT_BYTES:
            return False
        transport.write(chunk)
        return True

    return send


def _line(event_type: str, obj: Obj) -> bytes:
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


async def serve_log(request: web.Request, cluster: Cluster, pod: Obj) -> web.StreamResponse:
    q = request.query
    containers = [c["name"] for c in pod["spec"].get("containers") or []]
    container = q.get("container") or (containers[0] if containers else "")
    if container not in containers:
        raise errors.bad_request(
            f"container {container} is not valid for pod {pod['metadata']['name']}"
        )
    uid = pod["metadata"]["uid"]
    logs = cluster.logs
    if truthy(q.get("previous")):
        stream = logs.previous.get((uid, container))
        if stream is None:
            raise errors.bad_request(
                f'previous terminated container "{container}" in pod '
                f'"{pod["metadata"]["name"]}" not found'
            )
    else:
        if not pod.get("status", {}).get("containerStatuses") or (uid, container) not in (
            logs.streams
        ):
            waiting = next((((cs.get("state") or {}).get("waiting") or {}).get("reason")
                            for cs in pod.get("status", {}).get("containerStatuses") or []
                            if cs.get("name") == container), None) or "ContainerCreating"
            if waiting in ("ErrImagePull", "ImagePullBackOff"):
                waiting = "trying and failing to pull image"
            raise errors.bad_request(
                f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to '
                f"start: {waiting}"
            )
        stream = logs.stream(uid, container)
    follow = truthy(q.get("follow"))
    stamps = truthy(q.get("timestamps"))
    since = cluster.clock.now() - float(q["sinceSeconds"]) if q.get("sinceSeconds") else None
    if q.get("sinceTime"):
        since = parse_stamp(q["sinceTime"])
    lines = [ln for ln in stream.lines if since is None or ln[0] >= since]
    if q.get("tailLines"):
        tail = int(q["tailLines"])
        lines = lines[-tail:] if tail > 0 else []

    def fmt(item: tuple[float, str]) -> bytes:
        prefix = cluster.clock.micro_stamp(item[0]) + " " if stamps else ""
        return f"{prefix}{item[1]}\n".encode()

    limit = int(q["limitBytes"]) if q.get("limitBytes") else None
    if limit is not None:
        follow = False  # the byte budget ends the stream, mid-line if need be, as kubelet does
    resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
    if follow:
        resp.enable_chunked_encoding()
    await resp.prepare(request)
    await resp.write(b"".join(fmt(ln) for ln in lines)[:limit])
    sent = len(stream.lines)
    try:
        while follow and not stream.closed:
            await stream.changed.wait()
            new = stream.lines[sent:]
            sent = len(stream.lines)
            if new:
                await resp.write(b"".join(fmt(ln) for ln in new))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    with contextlib.suppress(ConnectionResetError):
        await resp.write_eof()
    return resp
