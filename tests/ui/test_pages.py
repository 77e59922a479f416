"""The dashboard pages through the Django test client: what each user sees and may do."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from dashboard.models import Release
from tests.ui.conftest import make_release, make_service, make_user

pytestmark = pytest.mark.django_db


def test_it_shows_a_card_per_visible_service_on_the_admin_index(admin_client, service, admin_user):
    make_release(service, commit="abcdef1" + "0" * 33, user=admin_user)
    response = admin_client.get("/admin/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Deployments" in body and "license-api" in body
    assert "abcdef1" in body  # current release, short commit
    assert "sha256:abcdef100000" in body  # short digest
    assert reverse("deployments:deploy", args=["license-api"]) in body
    # the normal app list is still there
    assert 'class="app-dashboard' in body or "app-dashboard" in body


def test_it_puts_the_deploy_button_before_any_other_deploy_named_link(admin_client, service):
    body = admin_client.get("/admin/").content.decode()
    deploy_at = body.index(reverse("deployments:deploy", args=["license-api"]))
    # the admin app list's "Deployments" caption link comes after the cards
    assert body.index('href="/admin/dashboard/"') > deploy_at


def test_it_hides_services_the_user_may_not_view(client, cluster):
    from django.contrib.auth.models import Group

    secret = make_service(cluster, "secret-svc")
    make_service(cluster, "open-svc")
    secret.allowed_groups.add(Group.objects.create(name="ops"))
    user = make_user("v2", "view_service")
    client.force_login(user)
    body = client.get("/admin/").content.decode()
    assert "open-svc" in body and "secret-svc" not in body
    assert client.get(reverse("deployments:deploy", args=["secret-svc"])).status_code == 404


def test_it_shows_no_deploy_button_to_a_viewer_and_refuses_the_post(client, service, viewer):
    client.force_login(viewer)
    body = client.get("/admin/").content.decode()
    assert "license-api" in body
    assert reverse("deployments:deploy", args=["license-api"]) not in body
    url = reverse("deployments:deploy", args=["license-api"])
    assert client.get(url).status_code == 403
    response = client.post(url, {"commit": "c0ffee" + "5" * 34, "reason": "x", "confirm": "yes"})
    assert response.status_code == 403
    assert not Release.objects.exists()


def test_it_refuses_anonymous_users(client, service):
    response = client.get(reverse("deployments:releases"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_validates_the_deploy_form(client, service, deployer):
    client.force_login(deployer)
    url = reverse("deployments:deploy", args=["license-api"])
    body = client.get(url).content.decode()
    assert 'name="commit"' in body and 'name="reason"' in body
    assert 'name="force_reason"' not in body  # only for users who may force
    response = client.post(url, {"commit": "not a sha!"})
    assert response.status_code == 400
    assert "hexadecimal" in response.content.decode()


def test_it_confirms_before_deploying_and_then_redirects_to_the_release(client, service, deployer):
    client.force_login(deployer)
    url = reverse("deployments:deploy", args=["license-api"])
    sha = "c0ffee" + "5" * 34
    confirm = client.post(url, {"commit": sha, "ref": "main", "reason": "ship it"})
    body = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Confirm deploy" in body and sha in body
    assert "Nobody else is deploying" in body and "starts at once" in body
    assert not Release.objects.exists()  # nothing happens before confirming
    done = client.post(url, {"commit": sha, "ref": "main", "reason": "ship it", "confirm": "yes"})
    release = Release.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/admin/deployments/releases/{release.pk}/"
    assert (release.commit_sha, release.ref, release.reason, release.via) == (
        sha, "main", "ship it", "admin")
    assert release.requested_by == deployer


def test_it_deploys_a_branch_from_the_form(client, service, deployer, tmp_path):
    from tests.gitrepo import make_repo

    shas = make_repo(tmp_path / "repo")
    service.git_repo = str(tmp_path / "repo")
    service.save(update_fields=["git_repo"])
    client.force_login(deployer)
    url = reverse("deployments:deploy", args=["license-api"])
    empty = client.post(url, {"commit": "", "ref": ""})
    assert empty.status_code == 400 and "branch or tag to deploy" in empty.content.decode()
    confirm = client.post(url, {"commit": "", "ref": "main"})
    assert confirm.status_code == 200 and "points at when you confirm" in confirm.content.decode()
    client.post(url, {"commit": "", "ref": "main", "confirm": "yes"})
    assert Release.objects.get().commit_sha == shas["main"]


def test_it_shows_who_else_is_deploying_and_the_queue_position(client, service, deployer, admin_user):
    active = make_release(service, state="deploying", commit="b" * 40, user=admin_user)
    client.force_login(deployer)
    body = client.post(reverse("deployments:deploy", args=["license-api"]),
                       {"commit": "c" * 40}).content.decode()
    assert f"#{active.pk}" in body and "root" in body
    assert "position 1" in body


def test_it_refuses_a_deploy_of_a_locked_service_with_the_owner_and_reason(client, service, deployer, admin_user):
    from dashboard import services

    services.lock_service(service=service, actor=admin_user, via="admin", reason="freeze week")
    client.force_login(deployer)
    url = reverse("deployments:deploy", args=["license-api"])
    preview = client.post(url, {"commit": "c" * 40}).content.decode()
    assert "freeze week" in preview and "root" in preview
    response = client.post(url, {"commit": "c" * 40, "confirm": "yes"})
    assert response.status_code == 409
    assert "freeze week" in response.content.decode()
    assert not Release.objects.exists()


def test_it_lets_a_force_user_deploy_past_the_lock_with_a_written_reason(admin_client, service):
    from dashboard import services

    other = make_user("other", superuser=True)
    services.lock_service(service=service, actor=other, via="admin", reason="freeze")
    url = reverse("deployments:deploy", args=["license-api"])
    missing = admin_client.post(url, {"commit": "c" * 40, "force": "on"})
    assert missing.status_code == 400
    done = admin_client.post(url, {"commit": "c" * 40, "force": "on",
                                   "force_reason": "hotfix for outage", "confirm": "yes"})
    assert done.status_code == 302
    assert Release.objects.get().force_reason == "hotfix for outage"


def test_it_renders_the_release_page_state_server_side(admin_client, service, admin_user):
    release = make_release(service, state="deploying", user=admin_user)
    body = admin_client.get(reverse("deployments:release", args=[release.pk])).content.decode()
    assert 'data-state="deploying"' in body
    assert f'"wsPath": "/ws/releases/{release.pk}/"' in body
    assert "Cancel this release" in body
    assert "succeeded" not in body  # the acceptance check waits for this word to appear


def test_it_serves_the_live_fragments_as_json(admin_client, service):
    release = make_release(service, state="failed", failure_summary={
        "code": "CrashLoopBackOff", "reason": "CrashLoopBackOff: container exited 1",
        "pod": "license-api-abc", "container": "license-api", "exit_code": 1,
        "events": [{"object": "Pod/license-api-abc", "reason": "BackOff", "message": "back-off",
                    "count": 3}],
        "logs": ["boom"], "changed": {"commit_from": "a" * 40, "commit_to": "d" * 40}})
    data = json.loads(admin_client.get(
        reverse("deployments:release-fragment", args=[release.pk])).content)
    assert data["state"] == "failed"
    assert "CrashLoopBackOff: container exited 1" in data["fragments"]["failure"]
    assert "license-api-abc" in data["fragments"]["failure"]
    assert "boom" in data["fragments"]["failure"]
    assert 'data-state="failed"' in data["fragments"]["summary"]


def test_it_hides_release_pages_of_invisible_services(client, cluster):
    from django.contrib.auth.models import Group

    hidden = make_service(cluster, "hidden")
    hidden.allowed_groups.add(Group.objects.create(name="g"))
    release = make_release(hidden)
    client.force_login(make_user("v3", "view_service"))
    assert client.get(reverse("deployments:release", args=[release.pk])).status_code == 404
    assert client.get(reverse("deployments:release-fragment",
                              args=[release.pk])).status_code == 404


def test_it_cancels_a_queued_release_after_confirmation(client, service, deployer):
    active = make_release(service, state="deploying", commit="b" * 40)
    queued = make_release(service, state="queued", commit="c" * 40)
    client.force_login(deployer)
    url = reverse("deployments:service-action", args=["license-api", "cancel"])
    page = client.get(url + f"?release={queued.pk}")
    assert page.status_code == 200 and "Yes, cancel license-api" in page.content.decode()
    response = client.post(url, {"release": queued.pk, "reason": "not needed"})
    assert response.status_code == 302
    queued.refresh_from_db()
    active.refresh_from_db()
    assert queued.state == "cancelled" and active.state == "deploying"


def test_it_refuses_actions_the_user_may_not_take(client, service, viewer):
    make_release(service, state="queued")
    client.force_login(viewer)
    for action in ("cancel", "rollback", "pause", "resume"):
        url = reverse("deployments:service-action", args=["license-api", action])
        assert client.post(url, {"reason": "x"}).status_code == 403, action
    assert client.post(reverse("deployments:lock-take"),
                       {"service": "license-api", "reason": "x"}).status_code == 403
    assert client.post(reverse("deployments:lock-release",
                               args=["license-api"])).status_code == 403


def test_it_requests_a_rollback_to_a_chosen_release(admin_client, service):
    first = make_release(service, commit="1" * 40)
    make_release(service, commit="2" * 40)
    url = reverse("deployments:service-action", args=["license-api", "rollback"])
    page = admin_client.get(url).content.decode()
    assert f"#{first.pk}" in page
    response = admin_client.post(url, {"to_release": first.pk, "reason": "bad deploy"})
    rollback = Release.objects.filter(kind="rollback").get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/deployments/releases/{rollback.pk}/"
    assert rollback.rollback_of == first and rollback.commit_sha == "1" * 40


def test_it_takes_and_releases_locks_with_expiry(admin_client, service):
    response = admin_client.post(reverse("deployments:lock-take"), {
        "service": "license-api", "reason": "db migration", "expires_in_minutes": "30"})
    assert response.status_code == 302
    body = admin_client.get(reverse("deployments:locks")).content.decode()
    assert "db migration" in body and "root" in body and "never" not in body
    assert "locked by root" in admin_client.get("/admin/").content.decode()
    admin_client.post(reverse("deployments:lock-release", args=["license-api"]))
    assert "No service is locked" in admin_client.get(reverse("deployments:locks")).content.decode()


def test_it_shows_the_audit_log_with_chain_status(admin_client, service, admin_user):
    from dashboard import services

    services.lock_service(service=service, actor=admin_user, via="admin", reason="audit me")
    body = admin_client.get(reverse("deployments:audit")).content.decode()
    assert "chain verified" in body and "audit me" in body


def test_it_explains_why_a_rollback_was_refused(admin_client, service):
    make_release(service, commit="1" * 40)
    url = reverse("deployments:service-action", args=["license-api", "rollback"])
    response = admin_client.post(url, {"reason": "nothing to go back to"})
    assert response.status_code == 400
    assert "no earlier succeeded release" in response.content.decode()
    assert not Release.objects.filter(kind="rollback").exists()


def test_it_shows_release_actions_only_to_users_who_may_use_them(client, service, viewer):
    release = make_release(service, state="deploying")
    client.force_login(viewer)
    body = client.get(reverse("deployments:release", args=[release.pk])).content.decode()
    assert "Cancel this release" not in body and "Pause rollout" not in body
    assert "Roll back" not in body


def test_it_carries_the_form_through_the_confirmation_page(admin_client, service):
    import re

    from dashboard import services

    other = make_user("owner", superuser=True)
    services.lock_service(service=service, actor=other, via="admin", reason="release freeze")
    url = reverse("deployments:deploy", args=["license-api"])
    page = admin_client.post(url, {"commit": "ABCDEF1", "ref": "v1.2", "reason": "why not",
                                   "force": "on", "force_reason": "customer outage"})
    body = page.content.decode()
    assert "release freeze" in body and "customer outage" in body
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body))
    assert hidden["confirm"] == "yes" and hidden["commit"].lower() == "abcdef1"
    response = admin_client.post(url, hidden)
    assert response.status_code == 302
    release = Release.objects.get()
    assert (release.commit_sha, release.ref, release.reason, release.force_reason) == (
        "abcdef1", "v1.2", "why not", "customer outage")


def test_it_rerenders_one_card_for_the_index_script(admin_client, service, client, cluster):
    release = make_release(service, state="verifying", commit="f" * 40)
    data = json.loads(admin_client.get(reverse("deployments:service-card",
                                               args=["license-api"])).content)
    assert f"#{release.pk}" in data["html"] and "verifying" in data["html"]
    from django.contrib.auth.models import Group

    hidden = make_service(cluster, "hidden-card")
    hidden.allowed_groups.add(Group.objects.create(name="nobody"))
    client.force_login(make_user("v5", "view_service"))
    assert client.get(reverse("deployments:service-card", args=["hidden-card"])).status_code == 404


def test_it_shows_a_service_page_with_recent_releases(admin_client, service, client, viewer):
    release = make_release(service, commit="9" * 40)
    body = admin_client.get(reverse("deployments:service", args=["license-api"])).content.decode()
    assert f"#{release.pk}" in body and '"wsPath": "/ws/services/license-api/"' in body
    assert 'id="pods-body"' in body and "Deploy" in body
    client.force_login(viewer)
    body = client.get(reverse("deployments:service", args=["license-api"])).content.decode()
    assert reverse("deployments:deploy", args=["license-api"]) not in body
