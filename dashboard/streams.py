"""Live messages: every message on a stream (`service:<name>`, `release:<id>`) gets the next
sequence number of that stream, is kept in a bounded Redis stream for replay, and is sent to
the Channels group of the same name. Consumers resume from a sequence number.

Message shape: {"stream": str, "seq": int, "type": str, "at": float, "data": {...}}.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

REPLAY_LENGTH = 2000  # messages kept per stream for reconnecting clients
_client: redis.Redis | None = None

# Redis assigns the sequence number and appends to the replay stream in one step, so two
# publishers (say, a worker and the watcher) can never interleave numbers and entries.
_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
local body = string.gsub(ARGV[1], '"seq":0', '"seq":' .. seq, 1)
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


def group_name(stream: str) -> str:
    # Channels group names allow only ASCII alphanumerics, hyphens, underscores and periods.
    return "live." + re.sub(r"[^A-Za-z0-9_.-]", "_", stream)


def _keys(stream: str) -> tuple[str, str]:
    return f"live:seq:{stream}", f"live:log:{stream}"


def publish(stream: str, type_: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Append a message to `stream` and fan it out. Never raises: live views are best-effort
    (a client that misses a message resumes from the replay log or a fresh snapshot)."""
    message = {"stream": stream, "seq": 0, "type": type_, "at": time.time(), "data": data}
    body = json.dumps(message, separators=(",", ":"), default=str)
    try:
        seq, stored = client().eval(_PUBLISH, 2, *_keys(stream), body, REPLAY_LENGTH)
        message = json.loads(stored)
        async_to_sync(get_channel_layer().group_send)(
            group_name(stream), {"type": "live.message", "message": message}
        )
        return message
    except Exception:
        log.warning("could not publish %s on %s", type_, stream, exc_info=True)
        return None


def last_seq(stream: str) -> int:
    value = client().get(_keys(stream)[0])
    return int(value) if value else 0


def since(stream: str, seq: int) -> list[dict[str, Any]] | None:
    """Messages after `seq`, oldest first; None when some have aged out of the replay log
    (the caller then sends a fresh snapshot instead)."""
    entries = client().xrange(_keys(stream)[1], min=f"({seq}-1", max="+")
    messages = [json.loads(fields["m"]) for _, fields in entries]
    if seq < last_seq(stream) and (not messages or messages[0]["seq"] != seq + 1):
        return None
    return messages
