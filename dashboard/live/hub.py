"""Per-process fan-out for the live consumers.

Every message is appended to its stream's Redis replay log before it is sent anywhere
(dashboard/streams.py). Each web process tails the logs of the streams its viewers watch
with one blocking XREAD, and hands each message to its local viewers in memory, encoded
once. This replaces a channel-layer group membership per viewer: channels_redis delivers a
group message separately to every member channel (500 viewers = 500 queue entries and 500
pops per message) and silently drops it for a channel at capacity; the log is complete and
ordered, and one read returns a whole burst.

A viewer never blocks the hub: `deliver` either buffers the pre-built frame for the hub's
flush (an idle viewer that is keeping up) or puts the message in the viewer's own bounded
queue, drained by the viewer's own task. A viewer whose queue is full, or whose socket is
not writable at flush time, catches up from the replay log (or a snapshot) by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

import redis.asyncio as aioredis
from django.conf import settings

from dashboard import streams

log = logging.getLogger(__name__)
BLOCK_MS = 20_000
BATCH = 500


class Member(Protocol):
    def deliver(self, message: dict[str, Any], text: str, frame: bytes) -> bool: ...

    def flush(self) -> None: ...


def text_frame(payload: bytes) -> bytes:
    """One unmasked, unfragmented, uncompressed WebSocket text frame (RFC 6455 5.2): what a
    server sends, identical for every viewer, so it is built once per message. Uncompressed
    frames are valid with permessage-deflate too (RSV1 clear, RFC 7692 6)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


class Hub:
    def __init__(self) -> None:
        self.members: dict[str, set[Member]] = {}
        self.positions: dict[str, str] = {}  # stream -> last log entry id read
        self.reader: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    def _client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2,
                                       socket_timeout=None, decode_responses=True)

    async def join(self, stream: str, member: Member) -> None:
        async with self.lock:
            if stream not in self.members:
                client = self._client()
                try:
                    seq = int(await client.get(streams.seq_key(stream)) or 0)
                finally:
                    await client.aclose()
                # From the current end: the viewer reads what came before from the replay
                # log or a snapshot after joining, so nothing falls between the two.
                self.positions[stream] = f"{seq}-1" if seq else "0-0"
                self.members[stream] = set()
                self._restart()
            self.members[stream].add(member)

    async def leave(self, stream: str, member: Member) -> None:
        async with self.lock:
            members = self.members.get(stream)
            if members is None:
                return
            members.discard(member)
            if not members:
                del self.members[stream]
                self.positions.pop(stream, None)
                self._restart()

    def _restart(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        self.reader = asyncio.ensure_future(self._read()) if self.positions else None

    async def _read(self) -> None:
        client = self._client()
        try:
            while self.positions:
                keys: Any = {streams.replay_key(s): pos for s, pos in self.positions.items()}
                try:
                    batch: Any = await client.xread(keys, count=BATCH, block=BLOCK_MS)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("live hub: read failed", exc_info=True)
                    await asyncio.sleep(0.5)
                    continue
                if not batch:
                    await self._check_positions(client)
                    continue
                dirty: set[Member] = set()
                for key, entries in batch:
                    stream = key.split(":", 2)[2]
                    for entry_id, fields in entries:
                        if stream in self.positions:
                            self.positions[stream] = entry_id
                        self._deliver(stream, fields.get("m") or "", dirty)
                for member in dirty:  # one write per viewer per batch
                    try:
                        member.flush()
                    except Exception:
                        log.warning("live hub: flush failed", exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _check_positions(self, client: aioredis.Redis) -> None:
        """A quiet stream whose counter is behind our position was reset (Redis lost its
        data): read it from the start again, or nothing new would ever match."""
        for stream, pos in list(self.positions.items()):
            seq = int(await client.get(streams.seq_key(stream)) or 0)
            if seq < int(pos.split("-")[0]):
                self.positions[stream] = "0-0"

    def _deliver(self, stream: str, text: str, dirty: set[Member]) -> None:
        members = self.members.get(stream)
        if not members or not text:
            return
        message = json.loads(text)
        frame = text_frame(text.encode())
        for member in list(members):
            if member.deliver(message, text, frame):
                dirty.add(member)


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (one per web process in practice)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(loop))
    if found is None:
        found = _hubs[id(loop)] = Hub()
    return found
