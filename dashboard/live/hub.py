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

Redis restarts: the hub reconnects after a failed read, and then (and whenever the streams
are quiet) compares each stream's epoch with the one it read last (dashboard/streams.py).
A stream whose epoch changed, or whose counter fell behind our position, is read from the
start again: its new messages carry the new epoch, and each viewer answers that with a fresh
snapshot. Without this the hub would wait for entry ids above the old position, i.e. silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, Protocol

import redis.asyncio as aioredis
from django.conf import settings

from dashboard import metrics, streams

log = logging.getLogger(__name__)
BLOCK_MS = 5_000  # also how often a quiet hub checks its streams for a reset
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
        self.epochs: dict[str, str] = {}  # stream -> epoch of that position
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
                    seq, epoch = await self._position(client, stream)
                finally:
                    await client.aclose()
                # From the current end: the viewer reads what came before from the replay
                # log or a snapshot after joining, so nothing falls between the two.
                self.positions[stream] = f"{seq}-1" if seq else "0-0"
                self.epochs[stream] = epoch
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
                self.epochs.pop(stream, None)
                self._restart()

    def _restart(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        self.reader = asyncio.ensure_future(self._read()) if self.positions else None

    async def _read(self) -> None:
        client = self._client()
        suspect = False  # Redis may have lost our streams: check before reading on
        try:
            while self.positions:
                keys: Any = {streams.replay_key(s): pos for s, pos in self.positions.items()}
                try:
                    if suspect:
                        await self._check_positions(client)
                        suspect = False
                        continue
                    batch: Any = await client.xread(keys, count=BATCH, block=BLOCK_MS)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("live hub: Redis read failed; retrying", exc_info=True)
                    suspect = True
                    await asyncio.sleep(0.5)
                    continue
                if not batch:
                    suspect = True  # quiet: a cheap look at the counters
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

    @staticmethod
    async def _position(client: aioredis.Redis, stream: str) -> tuple[int, str]:
        seq, epoch = await client.mget(streams.seq_key(stream), streams.epoch_key(stream))
        return (int(seq) if seq else 0), str(epoch or "")

    async def _check_positions(self, client: aioredis.Redis) -> None:
        """A stream whose epoch changed, or whose counter is behind our position, was reset
        (Redis lost its data): read it from the start again, or nothing new would match."""
        for stream, pos in list(self.positions.items()):
            seq, epoch = await self._position(client, stream)
            if epoch != self.epochs.get(stream, epoch) or seq < int(pos.split("-")[0]):
                log.info("live hub: %s was reset (epoch %s -> %s); reading it afresh",
                         stream, self.epochs.get(stream) or "-", epoch or "-")
                self.positions[stream] = "0-0"
                self.epochs[stream] = epoch
                metrics.stream_reset()

    def _deliver(self, stream: str, text: str, dirty: set[Member]) -> None:
        members = self.members.get(stream)
        if not members or not text:
            return
        message = json.loads(text)
        metrics.stream_lag(time.time() - float(message.get("at") or time.time()))
        if stream in self.epochs:
            self.epochs[stream] = message.get("epoch") or self.epochs[stream]
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
