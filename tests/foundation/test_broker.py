"""The broker transport: a worker must not exit while tearing down a connection Redis dropped
(tests/drills/ restarts a real Redis under a real worker; these pin the two pieces)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import redis.exceptions
from kombu import Connection

import config.celery
from config import broker


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "rediss://127.0.0.1:1/0",
                                 "redis+socket:///tmp/nothing.sock"])
def test_every_redis_url_uses_the_fixed_transport(url):
    assert issubclass(Connection(url).get_transport_cls(), broker.Transport)


@pytest.mark.parametrize("transport", [None, SimpleNamespace(client=None)])
def test_a_torn_down_channel_reports_a_connection_error_not_an_attribute_error(transport):
    # What kombu 5.7 hits when it restores or acks on a channel whose connection is gone:
    # an AttributeError there is "Unrecoverable" and the worker exits.
    with pytest.raises(redis.exceptions.ConnectionError):
        broker.Channel._connparams(SimpleNamespace(connection=transport))


def test_the_worker_retries_the_broker_forever(settings):
    assert settings.CELERY_BROKER_CONNECTION_MAX_RETRIES is None
    assert config.celery.app.conf.broker_connection_max_retries is None
