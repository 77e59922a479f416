"""/api/v1/services/: live summary, detail, pause/resume (on the sandbox cluster), lock/unlock;
scopes, service-limited tokens and error statuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import states
from dashboard.models import Lock, Release, Service
from tests.api.conftest import SHA, make_service, make_user, succeeded_release

pytestmark = pytest.mark.django_db
URL = "/api/v1/services/"


def test_it_lists_the_live_summary(service, other_service, api_for, deployer,
                                   django_assert_max_num_queries):
    done = succeeded_release(service, "a" * 40)
    running = Release.objects.create(service=service, commit_sha="b" * 40, via="api",
                                     state=states.DEPLOYING)
    Release.objects.create(service=service, commit_sha="c" * 40, via="api")
    Lock.objects.create(service=other_service, owner=deployer, owner_name="deployer",
                        reason="db migration")
    api = api_for("read")
    api.get(URL)
    with django_assert_max_num_queries(6):
        rows = api.get(URL).json()
    by_name = {r["name"]: r for r in rows}
    lic = by_name["license-api"]
    assert lic["current"]["id"] == done.pk and lic["active"]["id"] == running.pk
    assert lic["queued"] == 1 and lic["lock"] is None and lic["paused"] is False
    assert by_name["billing"]["lock"]["owner"] == "deployer"
    assert by_name["billing"]["lock"]["reason"] == "db migration"
    assert by_name["billing"]["current"] is None


def test_it_shows_one_service_and_404s_unknown_or_hidden_ones(service, other_service, api_for):
    assert api_for("read").get(f"{URL}license-api/").json()["name"] == "license-api"
    assert api_for("read").get(f"{URL}nope/").status_code == 404
    limited = api_for("read", services=["billing"])
    assert limited.get(f"{URL}license-api/").status_code == 404
    assert [r["name"] for r in limited.get(URL).json()] == ["billing"]


def test_it_hides_services_outside_the_users_groups(service, token_for):
    from django.contrib.auth.models import Group

    from tests.api.conftest import Api

    ops = Group.objects.create(name="ops")
    service.allowed_groups.add(ops)
    outsider = make_user("outsider", ["view_service"])
    assert Api(token_for("read", user=outsider)).get(URL).json() == []


def test_it_locks_and_unlocks_with_the_lock_scope(service, api_for, token_for):
    from tests.api.conftest import ALL_PERMS, Api

    assert api_for("deploy").post(f"{URL}license-api/lock/", {"reason": "x"}).status_code == 403
    api = api_for("lock")
    r = api.post(f"{URL}license-api/lock/", {"reason": "incident"})
    assert r.status_code == 200, r.content
    assert r.json()["lock"]["reason"] == "incident"
    again = api.post(f"{URL}license-api/lock/", {"reason": "again"})
    assert again.status_code == 409
    someone_else = Api(token_for("deploy", user=make_user("dev", ALL_PERMS)))
    deploy = someone_else.post("/api/v1/releases/", {"service": "license-api", "commit": SHA})
    assert deploy.status_code == 409 and deploy.json()["reason"] == "incident"
    assert api.post(f"{URL}license-api/unlock/").json()["lock"] is None
    assert api.post(f"{URL}license-api/unlock/").status_code == 409


def test_it_validates_lock_input(service, api_for):
    api = api_for("lock")
    r = api.post(f"{URL}license-api/lock/", {})
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    past = (timezone.now() - timedelta(hours=1)).isoformat()
    r = api.post(f"{URL}license-api/lock/", {"reason": "   "})
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    r = api.post(f"{URL}license-api/lock/", {"reason": "x", "expires_at": "tomorrow"})
    assert r.status_code == 400 and "expires_at" in r.json()["errors"]
    r = api.post(f"{URL}license-api/lock/", {"reason": "x", "expires_at": past})
    assert r.status_code == 422 and "expires_at" in r.json()["errors"]
    assert api.post(f"{URL}nope/lock/", {"reason": "x"}).status_code == 404


def test_it_limits_service_actions_to_the_tokens_services(service, other_service, api_for):
    api = api_for("lock", services=["billing"])
    assert api.post(f"{URL}license-api/lock/", {"reason": "x"}).status_code == 404
    assert api.post(f"{URL}billing/lock/", {"reason": "x"}).status_code == 200


def test_it_answers_503_when_the_cluster_is_unreachable(service, api_for):
    r = api_for("deploy").post(f"{URL}license-api/pause/")
    assert r.status_code == 503 and r.json()["code"] == "unavailable"
    assert r["Retry-After"]


def test_it_pauses_and_resumes_a_service_on_the_cluster(fresh_sandbox, api_for, db):
    make_service("license-api", kubeconfig=str(fresh_sandbox.kubeconfig))
    assert api_for("read").post(f"{URL}license-api/pause/").status_code == 403
    api = api_for("deploy")
    r = api.post(f"{URL}license-api/pause/", {"reason": "investigating"})
    assert r.status_code == 200, r.content
    assert r.json()["paused"] is True and Service.objects.get().paused
    assert api.post(f"{URL}license-api/pause/").status_code == 409
    r = api.post(f"{URL}license-api/resume/")
    assert r.status_code == 200 and r.json()["paused"] is False
