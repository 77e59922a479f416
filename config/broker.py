"""The Celery broker transport: kombu's Redis transport with one fix, so that a worker rides
out a Redis restart instead of exiting.

What happens without it (kombu 5.7, reproduced with a worker holding an unacknowledged task,
which a release always does: its next step waits as a countdown task): Redis goes away, the
consumer sees the connection error and tears the connection down
(`Consumer.on_connection_error_after_connected`: `connection.collect()`, which detaches the
transport from its `Connection` (`transport.client = None`), then `connection.close()`).
Closing the channel restores the unacknowledged messages (`QoS.restore_unacked_once`), which
needs a Redis client, whose pool is built from `transport.client.hostname`, now None. The
AttributeError is not a connection error, so nothing ignores it: "Unrecoverable error:
'NoneType' object has no attribute 'hostname'" and the worker exits with status 1 (the same
failure as kombu #582 and celery #10205).

The restore is pointless at that moment anyway: Redis is unreachable, and with the Redis
transport every delivered message is also in Redis' `unacked` hash, which the visibility
sweep of any worker restores. So a QoS whose connection is already torn down skips it; the
worker then reconnects with the usual retries. If Redis came back empty, those messages are
gone either way; the release reconciler re-drives what they would have done.
"""

from __future__ import annotations

import logging
from typing import Any

import kombu.transport
from kombu.transport import redis as kombu_redis

log = logging.getLogger(__name__)


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> Any:
        connection = getattr(self.channel, "connection", None)
        if client is None and getattr(connection, "client", None) is None:
            delivered: Any = self._delivered
            log.warning("broker connection already closed: leaving %d unacknowledged "
                        "message(s) to Redis' visibility timeout", len(delivered or ()))
            if delivered:
                delivered.clear()
            return None
        return super().restore_unacked(client)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Make the `redis`/`rediss` URL schemes (and `redis+socket`, which kombu resolves through
    the `redis` alias) use this transport. Called where the Celery app is built."""
    for scheme in ("redis", "rediss"):
        kombu.transport.TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
