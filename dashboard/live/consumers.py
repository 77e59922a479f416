"""WebSockets /ws/services/<name>/ and /ws/releases/<id>/: a snapshot, then live messages.

Auth: the admin session (staff who may view the service) or an API token with the "read"
scope (`Authorization: Bearer <token>` header, for non-browser clients). Refusals are sent
after accept() as close codes, so the page can say why: 4401 not signed in, 4403 not allowed,
4404 no such service/release.

Fan-out: the process's hub (dashboard/live/hub.py) tails the streams' replay logs once per
web process and hands each message to this connection: an idle, up-to-date viewer gets the
pre-built frame written with the hub's next batch; otherwise the message goes to this
connection's own bounded queue, drained by its own task, so a slow viewer only slows itself.

Ordering: each connection delivers a gapless, duplicate-free run of seq numbers. It joins the
hub before reading the replay or the snapshot; live messages at or below what it already
sent are dropped; a live message that skips ahead (its queue overflowed, or its socket was
not writable at a flush) is filled from the replay log first; if the log no longer has them
the connection gets a fresh snapshot. Resume: `?since=<seq>&epoch=<epoch>` on the
URL, or a {"resume": <seq>, "epoch": <epoch>} message.

Epochs (dashboard/streams.py): when Redis comes back empty the stream's numbers restart
under a new epoch. A resume from another epoch, or a live message of a new epoch, gets a
fresh snapshot, so the viewer carries on instead of taking every new message for an old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder

from dashboard import metrics, permissions, streams
from dashboard.api.models import ApiToken, hash_token
from dashboard.live import snapshots
from dashboard.live.hub import hub
from dashboard.models import Release, Service

log = logging.getLogger(__name__)
REFRESH_SECONDS = streams.VIEWER_REFRESH  # viewer presence (pod logs)
QUEUE_SIZE = 1000  # messages waiting for one slow viewer before it must catch up from replay
UNAUTHENTICATED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404


def _since(stream: str, seq: int, epoch: str) -> tuple[list[dict[str, Any]] | None, str]:
    """(messages after `seq`, or None when a snapshot is needed; the stream's epoch)."""
    last, current = streams.position(stream)
    if seq > last or (epoch and epoch != current):
        return None, current  # the client's numbers are not ours (Redis was reset): afresh
    return streams.since(stream, seq), current


def _token_user(raw: str, service_name: str) -> tuple[Any, bool]:
    """(user, allowed by the token's scope/services) for a bearer token, (None, False) if
    unknown, revoked, expired or its user is inactive."""
    token = ApiToken.objects.usable().select_related("user").filter(
        token_hash=hash_token(raw)).first()
    if token is None or not token.user.is_active:
        return None, False
    return token.user, token.has_scope("read") and token.allows_service(service_name)


class RawSocket:
    """The uvicorn (websockets-sansio) connection under this consumer, if that is what serves
    it: writing a ready frame to its transport costs microseconds where the ASGI send path
    costs tens per viewer, which is what 500 viewers of one message add up. Only used while
    the connection is open and not applying back-pressure; otherwise (or under another
    server) the ordinary send is used."""

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    @classmethod
    def find(cls, send: Any) -> RawSocket | None:
        for _ in range(6):  # through channels' session/cookie wrappers
            owner = getattr(send, "__self__", None)
            if owner is None:
                return None
            if all(hasattr(owner, a) for a in ("transport", "conn", "writable", "close_sent")):
                return cls(owner)
            send = getattr(owner, "real_send", None) or getattr(owner, "send", None)
        return None

    def write(self, frame: bytes) -> bool:
        p = self.protocol
        if (p.close_sent or getattr(p, "disconnected", False) or not p.writable.is_set()
                or not p.handshake_complete or p.transport.is_closing()):
            return False
        p.transport.write(frame)
        return True


class LiveConsumer(AsyncJsonWebsocketConsumer):
    kind = ""  # "service" | "release"
    # No channel-layer channel per viewer: the hub reads the replay logs for the whole
    # process. (It also spares each connection a blocking receive loop on Redis.)
    channel_layer_alias = "live-stream-uses-the-hub"

    stream = ""
    raw: RawSocket | None = None
    pending: list[bytes]
    flushed = 0
    last = 0
    epoch = ""  # of the numbers in `last` (dashboard/streams.py)
    joined = False
    overflowed = False

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, cls=DjangoJSONEncoder, separators=(",", ":"))

    async def connect(self) -> None:
        await self.accept()
        code = await database_sync_to_async(self._authorize)()
        if code:
            await self.close(code=code)
            return
        self.stream = self.target_stream
        self.queue: asyncio.Queue[tuple[dict[str, Any], str]] = asyncio.Queue(QUEUE_SIZE)
        self.serial = asyncio.Lock()
        self.viewer_id = uuid.uuid4().hex
        self.raw = RawSocket.find(self.base_send)
        self.pending = []
        await hub().join(self.stream, self)  # before the replay/snapshot: no gap
        self.joined = True
        metrics.viewer_joined(self.kind)
        self.tasks = [asyncio.ensure_future(self._drain())]
        if self.kind == "release":
            self.tasks.append(asyncio.ensure_future(self._keep_presence()))
        query = parse_qs(self.scope.get("query_string", b"").decode())
        since = query.get("since", [""])[0]
        async with self.serial:
            await self._start(int(since) if since.isdigit() else None,
                              query.get("epoch", [""])[0][:40])

    def _authorize(self) -> int:
        kwargs = self.scope["url_route"]["kwargs"]
        service: Service | None = None
        if self.kind == "service":
            service = Service.objects.filter(name=kwargs["name"]).first()
            self.target_stream = streams.service_stream(kwargs["name"])
        else:
            release = Release.objects.select_related("service").filter(
                pk=int(kwargs["id"])).first()
            service = release.service if release else None
            self.release = release
            self.target_stream = streams.release_stream(kwargs["id"])
        user = self.scope.get("user")
        token_ok = True
        if user is None or not user.is_authenticated:
            raw = self._bearer()
            user, token_ok = _token_user(raw, kwargs.get("name") or (
                service.name if service else "")) if raw else (None, False)
            if user is None:
                return UNAUTHENTICATED
        elif not user.is_staff:
            return FORBIDDEN
        if service is None:
            return NOT_FOUND
        if not token_ok or not permissions.can_view(user, service):
            return FORBIDDEN
        self.service = service
        return 0

    def _bearer(self) -> str:
        for name, value in self.scope.get("headers", []):
            if name == b"authorization":
                parts = value.decode("latin-1").split()
                if len(parts) == 2 and parts[0].lower() == "bearer":
                    return parts[1]
        return ""

    # -- sending (always under self.serial) ------------------------------------------------
    async def _start(self, since: int | None, epoch: str = "") -> None:
        self.flush()
        if since is not None:
            replay, current = await sync_to_async(_since, thread_sensitive=False)(
                self.stream, since, epoch or self.epoch)
            if replay is not None:
                self.last = since
                self.epoch = current
                for message in replay:
                    if message["seq"] > self.last:
                        await self.send_json(message)
                        self.last = message["seq"]
                return
        if self.kind == "service":
            snap = await database_sync_to_async(snapshots.for_service)(self.service)
        else:
            snap = await database_sync_to_async(snapshots.for_release)(self.release)
        await self.send_json(snap)
        self.last = snap["seq"]
        self.epoch = snap.get("epoch") or ""

    async def _live(self, message: dict[str, Any], text: str) -> None:
        self.flush()  # frames buffered for the hub's flush go first
        seq = message["seq"]
        if self._new_epoch(message):
            # Redis lost the stream and numbers restarted: what we counted means nothing now.
            await self._start(None)
            return
        if seq <= self.last:
            return
        if seq > self.last + 1:
            # Something between is missing here (dropped for this viewer, or two publishers'
            # messages crossed): the replay log has it, since it is written before fan-out.
            await self._start(self.last)
            return
        await self.send(text_data=text)
        self.last = seq
        self.epoch = message.get("epoch") or self.epoch

    def deliver(self, message: dict[str, Any], text: str, frame: bytes) -> bool:
        """Called by the hub; never blocks. Fast path (True): this viewer is idle and keeping
        up, so the hub's pre-built frame is buffered for the hub's next flush. Otherwise the
        message goes through the queue and the normal ASGI send."""
        seq = message["seq"]
        if (self.raw is not None and self.queue.empty() and not self.serial.locked()
                and seq == self.last + 1 and not self._new_epoch(message)):
            if not self.pending:
                self.flushed = self.last
            self.pending.append(frame)
            self.last = seq
            self.epoch = message.get("epoch") or self.epoch
            return True
        if self.pending:
            self.flush()
        try:
            self.queue.put_nowait((message, text))
        except asyncio.QueueFull:
            self.overflowed = True
        return False

    def _new_epoch(self, message: dict[str, Any]) -> bool:
        epoch = message.get("epoch") or ""
        return bool(epoch and self.epoch and epoch != self.epoch)

    def flush(self) -> None:
        if not self.pending:
            return
        data, self.pending = b"".join(self.pending), []
        if self.raw is None or not self.raw.write(data):
            # Not writable now (a slow reader): send these again the ordinary way, from
            # the replay log, after whatever is queued.
            self.last = self.flushed
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(({"seq": 0}, ""))  # wake the drain task

    async def _drain(self) -> None:
        while True:
            message, text = await self.queue.get()
            async with self.serial:
                await self._live(message, text)
                if self.overflowed and self.queue.empty():
                    self.overflowed = False
                    await self._start(self.last)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and "resume" in content and self.joined:
            try:
                seq = int(content["resume"])
            except (TypeError, ValueError):
                await self.send_json({"type": "error", "error": "resume needs a seq number"})
                return
            epoch = content.get("epoch")
            async with self.serial:
                await self._start(seq, epoch[:40] if isinstance(epoch, str) else "")

    async def _keep_presence(self) -> None:
        # Viewers of a release page make the watcher follow its pods' logs.
        while True:
            try:
                await sync_to_async(streams.join, thread_sensitive=False)(
                    self.stream, self.viewer_id)
            except Exception:
                log.warning("could not mark a viewer of %s", self.stream, exc_info=True)
            await asyncio.sleep(REFRESH_SECONDS)

    async def disconnect(self, code: int) -> None:
        if not self.joined:
            return
        metrics.viewer_left(self.kind)
        for task in self.tasks:
            task.cancel()
        self.pending = []
        await hub().leave(self.stream, self)
        if self.kind == "release":
            await sync_to_async(streams.leave, thread_sensitive=False)(self.stream,
                                                                       self.viewer_id)


class ServiceConsumer(LiveConsumer):
    kind = "service"


class ReleaseConsumer(LiveConsumer):
    kind = "release"
