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


def test_it_follows_a_pod_log_on_the_service_page(web_only, sandbox, chromium):
    from django.contrib.auth import get_user_model

    from dashboard.adapters import clients

    get_user_model().objects.create_superuser("boss", "b@example.com", PASSWORD)
    page = chromium.new_page()
    login(page, web_only.base, "boss")
    page.goto(f"{web_only.base}/admin/deployments/services/{web_only.service.name}/")
    assert page.locator("#revisions tbody tr[data-revision]").count() >= 1  # kubectl get rs
    page.locator("#log-pod option").first.wait_for(state="attached", timeout=10_000)
    before = set(page.locator("#log-pod option").evaluate_all("os => os.map(o => o.value)"))
    assert all(p.startswith("license-api-") for p in before)
    assert page.locator("#log-container").input_value() == "license-api"
    page.wait_for_function(
        "() => /Listening at/.test(document.getElementById('service-pod-log').textContent)",
        timeout=15_000)

    # A slow-starting image: its new pods keep logging failed readiness probes for a while.
    pushed = sandbox.control("images", {"image": "gcr.io/sandbox/license-api:slow-logs",
                                        "commit": "5105" + "6" * 36})
    clients.kube(web_only.service.cluster).set_image(
        "default", "license-api", "license-api",
        f"{pushed['repository']}@{pushed['digest']}", "browser test: slow pods")
    new_pod = ""
    for _ in range(40):
        page.click("#log-refresh-pods")
        page.wait_for_timeout(300)
        options = page.locator("#log-pod option").evaluate_all(
            "os => os.map(o => [o.value, o.textContent])")
        fresh = [v for v, label in options if v not in before and "Running" in label]
        if fresh:
            new_pod = fresh[0]
            break
    assert new_pod, "no new pod started"
    page.select_option("#log-pod", new_pod)  # shows and follows it
    log = page.locator("#service-pod-log")
    page.wait_for_function(
        "() => /starting license-api/.test(document.getElementById('service-pod-log').textContent)",
        timeout=10_000)
    first = int(log.get_attribute("data-lines") or 0)
    # Following: lines the container writes later arrive through the open stream.
    page.wait_for_function(
        f"() => Number(document.getElementById('service-pod-log').getAttribute('data-lines')) > {first}",
        timeout=30_000)
    assert "GET /health" in log.inner_text() or "health" in log.inner_text()
    href = page.locator("#log-download").get_attribute("href")
    assert f"pod={new_pod}" in href and "download=1" in href
    shot(page, "21-service-pod-logs")
