"""Per-process fan-out for the live consumers.

channels_redis delivers a group message separately to every member channel: with 500 viewers
in one web process that is 500 queue entries in Redis and 500 pops per message, which is
what limits latency. Instead each web process joins a group once, with one channel of its
own (the hub's), and hands each message to its local viewers in memory, JSON-encoded once.

A viewer never blocks the hub: `deliver` puts into the viewer's own bounded queue, drained by
the viewer's own task. When a slow viewer's queue is full the message is dropped for it
alone; its next message then shows a gap, which the consumer fills from the replay log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any, Protocol

from channels.layers import get_channel_layer

from dashboard import streams

log = logging.getLogger(__name__)
REFRESH_SECONDS = 300.0  # re-join groups well within the layer's group_expiry


class Member(Protocol):
    def deliver(self, message: dict[str, Any], text: str) -> None: ...


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = ""
        self.members: dict[str, set[Member]] = {}
        self.lock = asyncio.Lock()
        self.pump: asyncio.Task[None] | None = None
        self.refresher: asyncio.Task[None] | None = None

    async def join(self, stream: str, member: Member) -> None:
        group = streams.group_name(stream)
        async with self.lock:
            if not self.channel:
                self.channel = await self.layer.new_channel()
                self.pump = asyncio.ensure_future(self._pump())
                self.refresher = asyncio.ensure_future(self._refresh())
            if group not in self.members:
                await self.layer.group_add(group, self.channel)
                self.members[group] = set()
            self.members[group].add(member)

    async def leave(self, stream: str, member: Member) -> None:
        group = streams.group_name(stream)
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                return
            members.discard(member)
            if not members:
                del self.members[group]
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(group, self.channel)

    async def _pump(self) -> None:
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("live hub: receive failed", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            message = event.get("message") if isinstance(event, dict) else None
            if not message:
                continue
            members = self.members.get(streams.group_name(message.get("stream", "")))
            if not members:
                continue
            text = json.dumps(message, separators=(",", ":"), default=str)
            for member in list(members):
                member.deliver(message, text)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            for group in list(self.members):
                with contextlib.suppress(Exception):
                    await self.layer.group_add(group, self.channel)


_hubs: dict[int, Hub] = {}


def hub() -> Hub:
    """The hub of the running event loop (one per web process in practice)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(id(loop))
    if found is None:
        found = _hubs[id(loop)] = Hub()
    return found
