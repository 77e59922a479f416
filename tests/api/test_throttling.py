"""The per-token throttle: a sliding-window counter in Redis (one script call per request)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import override_settings

from dashboard.api import throttling
from tests.api.conftest import Api

URL = "/api/v1/releases/"


@pytest.mark.parametrize(("current", "previous", "elapsed", "wait"), [
    (3, 0, 10, 50),   # this window is full: wait for it to end (then it fades at once)
    (6, 0, 0, 90),    # twice the limit: it must fade to half in the next window too
    (1, 4, 10, 20),   # 1 + 4 * (1 - t/60) < 3 once t > 30
    (0, 3, 50, 0),    # already below the limit
])
def test_retry_after_is_when_the_estimate_drops_below_the_limit(current, previous, elapsed, wait):
    assert throttling.retry_after(3, 60, elapsed, current, previous) == pytest.approx(wait)


def test_it_weighs_the_previous_window_and_does_not_count_refusals(service, token_for):
    api = Api(token_for("read", rate_limit=3))
    start = 60 * 16_667 + 20.0  # 20 s into a minute window
    with mock.patch.object(throttling.time, "time", return_value=start):  # a fixed clock
        assert [api.get(URL).status_code for _ in range(3)] == [200, 200, 200]
        refused = [api.get(URL) for _ in range(5)]
    assert {r.status_code for r in refused} == {429}
    assert int(refused[0]["Retry-After"]) == 40  # the window ends in 40 s
    # 30 s into the next window the previous 3 weigh 1.5: two more fit, then the limit holds
    # (the 5 refusals above were not counted, or the previous window would weigh 4).
    with mock.patch.object(throttling.time, "time", return_value=start + 70):
        assert [api.get(URL).status_code for _ in range(3)] == [200, 200, 429]


def test_it_lets_requests_through_when_redis_is_down(service, token_for, caplog):
    api = Api(token_for("read", rate_limit=1))
    dead = {"default": {"BACKEND": "config.cache.SharedPoolRedisCache",
                        "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    with override_settings(CACHES=dead):
        assert [api.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    assert "throttle: Redis unavailable" in caplog.text
