"""The admin-hosted dashboard in Chromium: deploy, watch live, fail and roll back, roll back
by hand, find it all in the history and export it; a viewer cannot deploy."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import PASSWORD, login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEALTHY = "c0ffee" + "5" * 34
DEAD = "dead" + "b" * 36


def _wait_js(page: Any, expression: str, arg: Any = None, *, timeout: float) -> None:
    """Poll a page expression from here: Playwright's wait_for_function evaluates its predicate
    with eval inside the page, which the pages' Content-Security-Policy (no unsafe-eval)
    refuses, and the pages keep that policy under test."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"timed out waiting for {expression!r}"
        page.wait_for_timeout(100)

def _deploy_from_index(page: Any, world: Any, commit: str, reason: str) -> int:
    page.goto(world.base + "/admin/")
    card = page.locator(f".dash-card[data-service='{world.service.name}']")
    card.get_by_role("link", name=re.compile("^Deploy")).click()
    page.fill("input[name=commit]", commit)
    page.fill("textarea[name=reason]", reason)
    page.locator("input[type=submit], button[type=submit]").first.click()
    page.get_by_role("button", name=re.compile("Confirm deploy")).click()
    page.wait_for_url(re.compile(r"/admin/deployments/releases/\d+/$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def sandbox_images(world: Any) -> list[dict[str, str]]:
    import urllib.request

    kube = world.env["KUBECONFIG"]
    server = next(line.split("server:", 1)[1].strip() for line in
                  Path(kube).read_text().splitlines() if "server:" in line)
    with urllib.request.urlopen(f"{server}/sandbox/v1/images", timeout=10) as resp:
        return json.loads(resp.read())


def _state(page: Any) -> Any:
    return page.locator("#release-state")


def test_it_deploys_fails_rolls_back_and_exports_in_the_browser(world, chromium):
    # An earlier good release: the image the sandbox runs at start.
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from dashboard.models import Release

    get_user_model().objects.create_superuser("boss", "b@example.com", PASSWORD)
    preloaded = next(i for i in sandbox_images(world) if i["commit"] == "0" * 40
                     and i["repository"] == "gcr.io/sandbox/license-api")
    initial = Release.objects.create(
        service=world.service, kind="deploy", commit_sha="0" * 40, state="succeeded",
        via="cli", image=f"{preloaded['repository']}@{preloaded['digest']}",
        image_digest=preloaded["digest"], started_at=timezone.now(), finished_at=timezone.now(),
    )
    page = chromium.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    login(page, world.base, "boss")
    assert world.service.name in page.content()
    shot(page, "01-admin-index")

    # 1. a healthy commit reaches succeeded, live, with the pod table changing. The steps use
    # the acceptance check's own generic selectors: the first link or button named "deploy"
    # on the admin index, the first commit/sha/ref input, the first submit button, then a
    # button named confirm|deploy until the URL is a release page.
    index = page.context.new_page()  # a second tab on the index: its card follows live
    index.goto(world.base + "/admin/")
    index.locator(f"#conn-{world.service.name}[data-status=live]").wait_for(timeout=20_000)
    page.goto(world.base + "/admin/")
    page.get_by_role("link", name=re.compile("deploy", re.I)).or_(
        page.get_by_role("button", name=re.compile("deploy", re.I))).first.click()
    shot(page, "02-deploy-form")
    page.locator("input[name*=commit], input[name*=sha], input[name*=ref]").first.fill(HEALTHY)
    page.locator("input[name*=reason], textarea[name*=reason]").first.fill("browser: healthy")
    page.locator("button[type=submit], input[type=submit]").first.click()
    assert "Confirm deploy" in page.content()
    shot(page, "03-deploy-confirm")
    for _ in range(3):
        if "/release" in page.url:
            break
        page.get_by_role("button", name=re.compile("confirm|deploy", re.I)).first.click()
        page.wait_for_load_state()
    assert re.search(r"/admin/deployments/releases/\d+/$", page.url), page.url
    url = page.url
    page.evaluate("window.__noReload = true")
    page.locator("#conn[data-status=live]").wait_for(timeout=20_000)
    # The connection drops: the page says so, reconnects by itself and resumes from its seq.
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    _wait_js(page, "window.dashLive.seq > 0", timeout=30)
    page.evaluate("window.dashLive.ws.close()")
    page.locator("#conn[data-status=lost]").wait_for(timeout=5_000)
    assert "reconnecting" in page.locator("#conn").inner_text()
    page.locator("#conn[data-status=live]").wait_for(timeout=20_000)
    assert any("?since=" in u for u in sockets), sockets
    pods_before = set(page.locator("#pods-body tr[data-pod]").evaluate_all(
        "rows => rows.map(r => r.dataset.pod)"))
    try:
        _wait_js(page, """before => [...document.querySelectorAll('#pods-body tr[data-pod]')]
                 .some(r => !before.includes(r.dataset.pod))""", sorted(pods_before), timeout=90)
        _state(page).filter(has_text=re.compile(r"^\s*succeeded\s*$")).wait_for(timeout=120_000)
    except Exception:
        shot(page, "04-release-FAILED")
        raise AssertionError(world.logs()) from None
    assert page.url == url and page.evaluate("window.__noReload") is True
    assert page.locator("#h-timeline").is_visible()
    assert page.locator("#steps-body tr").count() >= 1
    shot(page, "04-release-succeeded")
    index.locator(f".dash-card[data-service='{world.service.name}'] dd").filter(
        has_text="c0ffee5").first.wait_for(timeout=20_000)
    shot(index, "04b-index-live")
    index.close()
    good = Release.objects.get(commit_sha=HEALTHY)
    assert good.state == "succeeded"

    # 2. a crash-looping commit: the failure card and the automatic rollback, live.
    dead_id = _deploy_from_index(page, world, DEAD, "browser test: crash loop")
    page.evaluate("window.__noReload = true")
    try:
        page.locator(".failure-card").wait_for(timeout=120_000)
        _state(page).filter(has_text="rolled back").wait_for(timeout=120_000)
    except Exception:
        shot(page, "05-failure-FAILED")
        raise AssertionError(world.logs()) from None
    assert page.evaluate("window.__noReload") is True
    card = page.locator(".failure-card").inner_text()
    assert "CrashLoopBackOff" in card or "exit" in card.lower()
    shot(page, "05-release-rolled-back")

    # 3. roll back by hand to the earlier release.
    page.goto(world.base + "/admin/")
    page.locator(f".dash-card[data-service='{world.service.name}']").get_by_role(
        "link", name=re.compile("^Roll back")).click()
    page.select_option("select[name=to_release]", str(initial.pk))
    page.fill("textarea[name=reason]", "browser test: back to the start")
    shot(page, "06-rollback-confirm")
    page.get_by_role("button", name=re.compile("Yes, roll back")).click()
    page.wait_for_url(re.compile(r"/admin/deployments/releases/\d+/$"))
    try:
        _state(page).filter(has_text=re.compile(r"^\s*succeeded\s*$")).wait_for(timeout=120_000)
    except Exception:
        shot(page, "07-rollback-FAILED")
        raise AssertionError(world.logs()) from None
    manual = Release.objects.get(kind="rollback", rollback_of=initial)
    shot(page, "07-rollback-succeeded")

    # 4. both in the history; search by commit; export.
    page.goto(world.base + f"/admin/deployments/releases/?service={world.service.name}")
    rows = page.locator("#release-list tbody tr[data-release]")
    ids = {int(x) for x in rows.evaluate_all("rs => rs.map(r => r.dataset.release)")}
    assert {dead_id, manual.pk} <= ids
    shot(page, "08-history")
    page.fill("input[name=q]", "dead")
    page.get_by_role("button", name="Filter").or_(page.locator("input[value=Filter]")).first.click()
    ids = {int(x) for x in page.locator("#release-list tbody tr[data-release]").evaluate_all(
        "rs => rs.map(r => r.dataset.release)")}
    assert ids == {dead_id}
    page.goto(world.base + f"/admin/deployments/releases/?service={world.service.name}")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    exported = {int(r["id"]): r for r in csv.DictReader(io.StringIO(text))}
    assert exported[dead_id]["state"] == "rolled_back"
    assert exported[manual.pk]["kind"] == "rollback"
    with page.expect_download() as download:
        page.get_by_role("link", name="JSON").click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert {r["id"] for r in data["releases"]} >= {dead_id, manual.pk}

    page.goto(world.base + f"/admin/deployments/releases/{dead_id}/compare/")
    assert good.commit_sha in page.content() and DEAD in page.content()
    shot(page, "09-compare")
    page.goto(world.base + f"/admin/deployments/services/{world.service.name}/")
    page.locator("#conn[data-status=live]").wait_for(timeout=20_000)
    page.locator("#pods-body tr[data-pod]").first.wait_for(timeout=20_000)
    shot(page, "09b-service")
    for path, name in (("metrics/", "10-metrics"), ("audit/", "11-audit"),
                       ("locks/", "12-locks")):
        page.goto(world.base + "/admin/deployments/" + path)
        shot(page, name)
    assert "chain verified" in page.goto(world.base + "/admin/deployments/audit/").text()


def test_it_hides_deploy_from_a_viewer_and_refuses_their_post(web_only, chromium):
    from django.contrib.auth.models import Permission, User

    from dashboard.models import Release

    viewer = User.objects.create_user("watcher", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_service"))
    page = chromium.new_page()
    login(page, web_only.base, "watcher")
    card = page.locator(f".dash-card[data-service='{web_only.service.name}']")
    assert card.count() == 1
    assert card.get_by_role("link", name=re.compile("deploy", re.I)).count() == 0
    assert card.get_by_role("button", name=re.compile("deploy", re.I)).count() == 0
    shot(page, "13-viewer-index")
    token = page.context.cookies()
    csrf = next(c["value"] for c in token if c["name"] == "csrftoken")
    url = f"{web_only.base}/admin/deployments/services/{web_only.service.name}/deploy/"
    response = page.request.post(url, form={
        "csrfmiddlewaretoken": csrf, "commit": HEALTHY, "reason": "sneaky", "confirm": "yes",
    }, headers={"Referer": url})
    assert response.status == 403
    assert not Release.objects.exists()
    page.goto(url)
    shot(page, "14-viewer-refused")
