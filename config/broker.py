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

The same happens later to the acknowledgement of a task that was running across the outage
(it acks on the old, closed channel: `'NoneType' object has no attribute 'client'`).

Both are harmless if reported as what they are: this channel makes any Redis client through
`_connparams`, and a torn-down channel now raises a redis ConnectionError there, which the
teardown (`maybe_close_channel`, `ignore_errors`) and the ack (`ack_log_error`) already
handle. Nothing is lost by skipping them: with the Redis transport every delivered message is
also in Redis' `unacked` hash, which the visibility sweep of any worker restores. If Redis
came back empty, those messages are gone either way; the release reconciler re-drives what
they would have done (dashboard/releases/driver.py). The worker then reconnects with the
usual retries (CELERY_BROKER_CONNECTION_MAX_RETRIES = None: forever).
"""

from __future__ import annotations

from typing import Any

import kombu.transport
import redis.exceptions
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        # Every Redis client a channel makes starts here. A channel whose connection was torn
        # down has nothing to connect with: say so as a connection error, which every caller
        # in a teardown or an ack already expects and handles.
        transport = self.connection
        if transport is None or transport.client is None:
            raise redis.exceptions.ConnectionError(
                "this channel's broker connection was closed (Redis went away)")
        return super()._connparams(asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Make the `redis`/`rediss` URL schemes (and `redis+socket`, which kombu resolves through
    the `redis` alias) use this transport. Called where the Celery app is built."""
    for scheme in ("redis", "rediss"):
        kombu.transport.TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
