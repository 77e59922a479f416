"""In Chromium: a queued release's page says where it stands in the queue and what it waits
for, and follows the queue as it moves (no reload)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import PASSWORD, login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_it_shows_the_queue_position_and_follows_it_live(web_only, chromium):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from dashboard.models import Release

    svc = web_only.service
    svc.supersede_queued = False
    svc.save(update_fields=["supersede_queued"])
    get_user_model().objects.create_superuser("boss", "b@example.com", PASSWORD)

    def release(state: str, commit: str) -> Release:
        return Release.objects.create(service=svc, kind="deploy", commit_sha=commit * 40,
                                      state=state, via="cli", started_at=timezone.now())

    active, ahead, mine = release("deploying", "a"), release("queued", "b"), release("queued", "c")
    page = chromium.new_page()
    login(page, web_only.base, "boss")
    page.goto(f"{web_only.base}/admin/deployments/releases/{mine.pk}/")
    status = page.locator("#queue-status")
    assert "number 2 in line" in status.inner_text()
    assert f"Waiting for release #{active.pk} (deploying" in status.inner_text()
    assert f"#{ahead.pk}" in status.inner_text()
    shot(page, "20-queued-release")

    # The release ahead is cancelled and the active one ends: the page follows by itself.
    Release.objects.filter(pk=ahead.pk).update(state="cancelled", finished_at=timezone.now())
    page.locator("#queue-status[data-position='1']").wait_for(timeout=10_000)
    Release.objects.filter(pk=active.pk).update(state="succeeded", finished_at=timezone.now())
    page.wait_for_function(
        "() => /Nothing is ahead/.test(document.getElementById('queue-status').textContent)",
        timeout=10_000)
    assert re.search(r"number 1 in line", page.locator("#queue-status").inner_text())
