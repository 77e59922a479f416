"""The live bus, and the one home of its names: stream names (`service_stream`,
`release_stream`), message types (the `*_TYPE`... constants below are the ones the pipeline,
watcher and pages exchange) and the Redis key layout.

Every message on a stream (`service:<name>`, `release:<id>`) gets the next sequence number of
that stream and is appended to a bounded Redis stream. That log is the fan-out: each web
process tails it once (dashboard/live/hub.py) for all its viewers, and reconnecting viewers
resume from it by sequence number.

Message shape: {"stream": str, "seq": int, "epoch": str, "type": str, "at": float,
"data": {...}}.

Epochs: a Redis that comes back empty (a failover, a restart without persistence) restarts
every counter at 1, so a viewer that had seen message 57 would take every new message for an
old one. Each stream's counter therefore has an epoch beside it, set (from Redis' clock) by
the publish that creates the counter; every message and snapshot carries it, and a consumer
or hub that sees it change starts that stream afresh (a new snapshot) instead of going silent.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import redis
from django.conf import settings

log = logging.getLogger(__name__)

REPLAY_LENGTH = 2000  # messages kept per stream for reconnecting clients
_client: redis.Redis | None = None

# The watcher's leader lease (dashboard/watch/lease.py holds it; snapshots ask whether anyone
# leads). LIVE_LEASE_KEY lets a test run its own watchers beside `make run`'s.
LEASE_KEY = os.environ.get("LIVE_LEASE_KEY", "live:watcher:leader")
# Viewers of a release page: a sorted set of channel names scored by when each last said it
# is there; the watcher follows pod logs only while somebody looks.
VIEWER_TTL = 45.0
VIEWER_REFRESH = 15.0


def service_stream(name: str) -> str:
    return f"service:{name}"


def release_stream(release_id: int | str) -> str:
    return f"release:{release_id}"


def is_release_stream(stream: str) -> bool:
    return stream.startswith("release:")


def seq_key(stream: str) -> str:
    """The counter that numbers `stream`'s messages."""
    return f"live:seq:{stream}"


def replay_key(stream: str) -> str:
    """The Redis stream that holds `stream`'s replay log (the hub and the mirror tail it)."""
    return f"live:log:{stream}"


def epoch_key(stream: str) -> str:
    """The epoch of `stream`'s counter (see the module docstring)."""
    return f"live:epoch:{stream}"


# Lua shared by the publish scripts: `seq` is the new number (KEYS[1] incremented), and EPOCH
# the epoch key; a counter that (re)starts at 1, or has no epoch, gets a new epoch from the
# server's clock (microseconds), so a later epoch compares greater as a number too. The body
# gets `"seq":N,"epoch":"E"` in place of its `"seq":0` placeholder.
_EPOCH_LUA = """
local epoch = redis.call('GET', EPOCH)
if seq == 1 or not epoch then
  local t = redis.call('TIME')
  epoch = t[1] .. string.format('%06d', t[2])
  redis.call('SET', EPOCH, epoch, 'EX', 604800)
else
  redis.call('EXPIRE', EPOCH, 604800)
end
local body = string.gsub(ARGV[1], '"seq":0', '"seq":' .. seq .. ',"epoch":"' .. epoch .. '"', 1)
"""

# Redis assigns the sequence number and appends to the replay stream in one step, so two
# publishers (say, a worker and the watcher) can never interleave numbers and entries.
PUBLISH_SCRIPT = """
local seq = redis.call('INCR', KEYS[1])
""" + _EPOCH_LUA.replace("EPOCH", "KEYS[3]") + """
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-1', 'm', body)
redis.call('EXPIRE', KEYS[1], 604800)
redis.call('EXPIRE', KEYS[2], 604800)
return {seq, body}
"""


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5, decode_responses=True
        )
    return _client


def keys(stream: str) -> tuple[str, str, str]:
    """(sequence counter, replay log, epoch) of `stream`: the KEYS of PUBLISH_SCRIPT."""
    return seq_key(stream), replay_key(stream), epoch_key(stream)


def join(stream: str, channel: str) -> None:
    """Say a viewer (a WebSocket channel) is watching `stream`; repeat every VIEWER_REFRESH."""
    key = _viewers_key(stream)
    pipe = client().pipeline()
    pipe.zadd(key, {channel: time.time()})
    pipe.expire(key, int(VIEWER_TTL * 4))
    pipe.execute()


def leave(stream: str, channel: str) -> None:
    client().zrem(_viewers_key(stream), channel)


def viewers(stream: str) -> int:
    """Viewers seen within VIEWER_TTL (a web process that died stops counting soon)."""
    return int(client().zcount(_viewers_key(stream), time.time() - VIEWER_TTL, "+inf"))


def _viewers_key(stream: str) -> str:
    return f"live:viewers:{stream}"


def publish(stream: str, type_: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Append a message to `stream`; its viewers read it from there. Never raises: live views
    are best-effort (a client that misses a message resumes from the log or a snapshot)."""
    message = {"stream": stream, "seq": 0, "type": type_, "at": time.time(), "data": data}
    body = json.dumps(message, separators=(",", ":"), default=str)
    try:
        _seq, stored = client().eval(PUBLISH_SCRIPT, 3, *keys(stream), body, REPLAY_LENGTH)
        message = json.loads(stored)
        return message
    except Exception:
        log.warning("could not publish %s on %s", type_, stream, exc_info=True)
        return None


def last_seq(stream: str) -> int:
    value = client().get(seq_key(stream))
    return int(value) if value else 0


def position(stream: str) -> tuple[int, str]:
    """(last seq, epoch) of `stream`, read together; (0, "") before its first message."""
    seq, epoch = client().mget(seq_key(stream), epoch_key(stream))
    return (int(seq) if seq else 0), str(epoch or "")


def since(stream: str, seq: int) -> list[dict[str, Any]] | None:
    """Messages after `seq`, oldest first; None when some have aged out of the replay log
    (the caller then sends a fresh snapshot instead)."""
    entries: Any = client().xrange(replay_key(stream), min=f"({seq}-1", max="+")
    messages = [json.loads(fields["m"]) for _, fields in entries]
    if seq < last_seq(stream) and (not messages or messages[0]["seq"] != seq + 1):
        return None
    return messages


# --- Row streams (live-stream watcher) -----------------------------------------------------
# The watcher publishes *rows* (a pod, an event, the rollout): each has a key within its
# stream and a digest of its normalised content. One script compares the digest with the last
# one published for that key, and only when it differs assigns the next seq, appends to the
# replay log and stores the message as the row's current state. So a re-list after a 410, a
# reconnect or a new leader publishes nothing that did not change; and the state hash read
# together with the seq (`state()`) is an exact snapshot at that seq. The optional fence is
# the watcher's lease: a watcher that lost it can no longer publish anything.
PUBLISH_ROW_SCRIPT = """
if ARGV[6] ~= '' and redis.call('GET', KEYS[5]) ~= ARGV[6] then return {-1, ''} end
if ARGV[3] ~= '' then
  local old = redis.call('HGET', KEYS[3], ARGV[3])
  if ARGV[5] == 'del' then
    if not old then return {0, ''} end
    redis.call('HDEL', KEYS[3], ARGV[3])
  else
    if old == ARGV[4] then return {0, ''} end
    redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
  end
  redis.call('EXPIRE', KEYS[3], 604800)
end
local seq = redis.call('INCR', KEYS[1])
""" + _EPOCH_LUA.replace("EPOCH", "KEYS[6]") + """
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-1', 'm', body)
if ARGV[5] == 'set' then
  redis.call('HSET', KEYS[4], ARGV[3], body)
elseif ARGV[5] == 'del' then
  redis.call('HDEL', KEYS[4], ARGV[3])
end
redis.call('EXPIRE', KEYS[1], 604800)
redis.call('EXPIRE', KEYS[2], 604800)
redis.call('EXPIRE', KEYS[4], 604800)
return {seq, body}
"""

_STATE = """
return {redis.call('GET', KEYS[1]) or '0', redis.call('HGETALL', KEYS[2]),
        redis.call('GET', KEYS[3]) or ''}
"""


def row_keys(stream: str) -> tuple[str, str, str, str]:
    return seq_key(stream), replay_key(stream), f"live:digest:{stream}", f"live:state:{stream}"


def encode(stream: str, type_: str, data: dict[str, Any]) -> str:
    message = {"stream": stream, "seq": 0, "type": type_, "at": time.time(), "data": data}
    return json.dumps(message, separators=(",", ":"), default=str)


def row_args(
    stream: str, type_: str, data: dict[str, Any], *, key: str = "", digest: str = "",
    mode: str = "set", fence: tuple[str, str] | None = None,
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of the row script (shared by the sync and the watcher's async client)."""
    names = [*row_keys(stream), fence[0] if fence else "live:nofence", epoch_key(stream)]
    token = fence[1] if fence else ""
    args = [encode(stream, type_, data), REPLAY_LENGTH, key, digest, mode, token]
    return names, args


def publish_row(stream: str, type_: str, data: dict[str, Any], *, key: str = "",
                digest: str = "", mode: str = "set",
                fence: tuple[str, str] | None = None) -> dict[str, Any] | None:
    """Publish `data` as the new state of row `key` unless its `digest` is unchanged (None);
    mode "set" keeps it in the stream's state, "del" removes the row, "none" keeps nothing."""
    names, args = row_args(stream, type_, data, key=key, digest=digest, mode=mode, fence=fence)
    seq, stored = client().eval(PUBLISH_ROW_SCRIPT, len(names), *names, *args)
    if int(seq) <= 0:
        return None
    message: dict[str, Any] = json.loads(stored)
    return message


def state(stream: str) -> tuple[int, dict[str, dict[str, Any]]]:
    """(seq, {row key: last message}) read atomically: the rows are exactly the effect of
    messages 1..seq, so a client given this snapshot continues with seq + 1."""
    seq, _epoch, rows = state_at(stream)
    return seq, rows


def state_at(stream: str) -> tuple[int, str, dict[str, dict[str, Any]]]:
    """state() with the epoch of its seq."""
    counter, _, _, state_key = row_keys(stream)
    seq, flat, epoch = client().eval(_STATE, 3, counter, state_key, epoch_key(stream))
    rows = {flat[i]: json.loads(flat[i + 1]) for i in range(0, len(flat), 2)}
    return int(seq), str(epoch or ""), rows


def forget_rows(stream: str, row_names: list[str]) -> None:
    """Drop rows from the snapshot state without publishing (old events past the window);
    their digests stay, so they are not published again."""
    if row_names:
        client().hdel(row_keys(stream)[3], *row_names)
