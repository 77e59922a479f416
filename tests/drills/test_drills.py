"""The fastest fault drills (`make drills` runs them all): a whole stack of their own on free
ports (its own redis-server, so killing it touches nothing else)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills import drills
from drills.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with Stack() as s:
        yield s


def test_it_resumes_a_release_within_10_s_after_its_worker_is_killed_mid_build(stack):
    figures = drills.worker_kill(stack, "building")
    assert figures["resumed_after_s"] <= 10 and figures["builds"] == 1


def test_it_rides_out_redis_coming_back_empty_mid_rollout(stack):
    figures = drills.redis_restart(stack, 8.0)
    assert figures["viewer_messages_after"] > 0
    assert not stack.down()
