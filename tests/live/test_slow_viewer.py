"""A viewer that stops reading holds back nobody, and catches up without a gap when it reads
again (from the replay log, or a snapshot once the log has moved on)."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from tests.live.helpers import View, connect, read_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
MESSAGES = 3000
PAD = "x" * 4000


def _frames(buf: bytes) -> list[dict]:
    pos = buf.find(b"\r\n\r\n") + 4
    out = []
    while pos + 2 <= len(buf):
        length, head = buf[pos + 1] & 0x7F, 2
        if length == 126:
            length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
        elif length == 127:
            length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
        if pos + head + length > len(buf):
            break
        if buf[pos] & 0x0F == 1:
            out.append(json.loads(buf[pos + head:pos + head + length]))
        pos += head + length
    return out


def test_it_does_not_let_a_stalled_viewer_hold_back_the_others(live):
    from dashboard import streams

    host, port = live.ws_base.split("//")[1].split(":")
    path = f"/ws/services/{live.service.name}/"
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect((host, int(port)))
    stalled.sendall((
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:8000\r\nCookie: {live.cookie}\r\n\r\n"
    ).encode())
    time.sleep(2.0)  # connected and sent its snapshot; from now on it reads nothing

    async def main() -> tuple[View, float]:
        view = View()
        async with await connect(live.url(path), live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            started = time.monotonic()
            keys = streams.keys(live.stream)
            for i in range(MESSAGES):
                body = streams.encode(live.stream, "test.filler", {"i": i, "pad": PAD})
                await asyncio.to_thread(streams.client().eval, streams.PUBLISH_SCRIPT, len(keys), *keys,
                                        body, streams.REPLAY_LENGTH)
            last = streams.last_seq(live.stream)
            await read_until(ws, view, lambda v: v.last >= last, 30)
            return view, time.monotonic() - started

    view, took = asyncio.run(main())
    assert len(view.live()) == MESSAGES  # consecutive, none missing (View checks)
    assert took < 30

    # The stalled viewer reads again: snapshot, then a gapless run to the end.
    last = streams.last_seq(live.stream)
    stalled.settimeout(2.0)
    buf = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = stalled.recv(1 << 20)
        except TimeoutError:
            frames = _frames(buf)
            if frames and frames[-1]["seq"] >= last:
                break
            continue
        if not chunk:
            break
        buf += chunk
    stalled.close()
    frames = _frames(buf)
    assert frames[0]["type"] == "snapshot"
    seen = View()
    for message in frames:
        seen.apply(message)  # asserts no gap or duplicate after each snapshot
    assert seen.last == last
