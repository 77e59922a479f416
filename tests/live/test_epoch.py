"""Redis came back empty: stream numbers restart under a new epoch, and viewers get a fresh
snapshot instead of taking every new message for an old one (silence)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.live.helpers import View, connect, read_until

pytestmark = [pytest.mark.django_db(transaction=True)]


def _lose(stream: str) -> None:
    """What an emptied Redis does to one stream."""
    from dashboard import streams

    streams.client().delete(*streams.keys(stream), *streams.row_keys(stream))


def test_it_starts_a_new_epoch_when_a_stream_counter_restarts():
    from dashboard import streams

    stream = "service:epoch-unit"
    _lose(stream)
    first = streams.publish(stream, "test", {"i": 1})
    second = streams.publish(stream, "test", {"i": 2})
    assert first and second and first["epoch"] == second["epoch"] != ""
    assert streams.position(stream) == (2, first["epoch"])
    _lose(stream)
    again = streams.publish(stream, "test", {"i": 3})
    assert again and again["seq"] == 1 and int(again["epoch"]) > int(first["epoch"])
    _lose(stream)


def test_it_sends_a_connected_viewer_a_fresh_snapshot_when_the_stream_is_reset(live):
    from dashboard import streams

    stream = live.stream
    for i in range(5):
        streams.publish(stream, "test", {"i": i})
    old_epoch = streams.position(stream)[1]

    async def main() -> View:
        view = View()
        async with await connect(live.url(f"/ws/services/{live.service.name}/"),
                                 live.cookie) as ws:
            await read_until(ws, view, lambda v: v.snapshots == 1, 10)
            assert view.messages[0]["seq"] == 5 and view.messages[0]["epoch"] == old_epoch
            await asyncio.to_thread(streams.publish, stream, "test", {"i": 5})
            await read_until(ws, view, lambda v: v.last == 6, 10)
            await asyncio.to_thread(_lose, stream)  # Redis lost it; numbers restart at 1
            for i in range(10):  # past the viewer's 6: by number alone they would look new
                await asyncio.to_thread(streams.publish, stream, "test", {"after": i})
            await read_until(ws, view, lambda v: v.snapshots == 2, 15)
            await asyncio.to_thread(streams.publish, stream, "test", {"after": "end"})
            await read_until(ws, view, lambda v: v.live()[-1]["data"] == {"after": "end"}, 10)
        return view

    view = asyncio.run(main())
    fresh = [m for m in view.messages if m["type"] == "snapshot"][1]
    assert fresh["epoch"] != old_epoch and 1 <= fresh["seq"] <= 10
    assert view.live()[-1]["seq"] == 11  # gapless from the snapshot on (View checks each step)
    assert all(m["epoch"] == old_epoch for m in view.messages[:view.messages.index(fresh)])
    assert view.live()[-1]["epoch"] == fresh["epoch"]


def test_it_answers_a_resume_from_another_epoch_with_a_snapshot(live):
    from dashboard import streams

    stream = live.stream
    for i in range(3):
        streams.publish(stream, "test", {"i": i})
    old_epoch = streams.position(stream)[1]
    _lose(stream)
    for i in range(6):  # the new counter passes the viewer's old position
        streams.publish(stream, "test", {"i": i})

    async def main() -> dict:
        url = live.url(f"/ws/services/{live.service.name}/?since=3&epoch={old_epoch}")
        async with await connect(url, live.cookie) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    first = asyncio.run(main())
    assert first["type"] == "snapshot" and first["seq"] == 6
    assert first["epoch"] == streams.position(stream)[1] != old_epoch
