"""POST/GET /api/v1/releases/: create (202 + Location), list filters and cursor pages,
retrieve with timeline, cancel, rollback; each with the scopes that allow and forbid it."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from dashboard import states
from dashboard.models import AuditEntry, Release
from tests.api.conftest import SHA, Api, make_user, succeeded_release
from tests.gitrepo import make_repo

pytestmark = pytest.mark.django_db
URL = "/api/v1/releases/"


def test_it_creates_a_release_with_202_location_and_status_url(service, api_for):
    api = api_for("read,deploy")
    r = api.post(URL, {"service": "license-api", "commit": SHA, "reason": "ship it"},
                 key=str(uuid.uuid4()))
    assert r.status_code == 202, r.content
    body = r.json()
    assert r["Location"] == f"/api/v1/releases/{body['id']}/" == body["status_url"]
    release = Release.objects.get(pk=body["id"])
    assert release.commit_sha == SHA and release.via == "api" and release.reason == "ship it"
    assert release.requested_by.username == "deployer"
    assert body["state"] in (states.QUEUED, states.BUILDING)
    assert AuditEntry.objects.filter(action="release.request", release_id=release.pk,
                                     actor="deployer").exists()
    status = api.get(r["Location"])
    assert status.status_code == 200 and status.json()["state"] == release.state


def test_it_marks_ci_tokens_via_ci(service, api_for):
    r = api_for("deploy", via="ci").post(URL, {"service": "license-api", "commit": SHA})
    assert r.status_code == 202
    assert Release.objects.get(pk=r.json()["id"]).via == "ci"


@pytest.mark.parametrize("scopes", ["read", "rollback", "lock"])
def test_it_refuses_create_without_the_deploy_scope(service, api_for, scopes):
    r = api_for(scopes).post(URL, {"service": "license-api", "commit": SHA})
    assert r.status_code == 403
    assert r["Content-Type"] == "application/problem+json"
    assert "deploy" in r.json()["detail"]
    assert not Release.objects.exists()


def test_it_lets_the_admin_scope_do_everything(service, api_for):
    api = api_for("admin")
    assert api.post(URL, {"service": "license-api", "commit": SHA}).status_code == 202
    assert api.get(URL).status_code == 200


def test_it_limits_a_token_to_its_services(service, other_service, api_for):
    api = api_for("read,deploy", services=["billing"])
    r = api.post(URL, {"service": "license-api", "commit": SHA})
    assert r.status_code == 422 and "service" in r.json()["errors"]  # as if it did not exist
    assert api.post(URL, {"service": "billing", "commit": SHA}).status_code == 202
    listed = api.get(URL).json()["results"]
    assert {x["service"] for x in listed} == {"billing"}
    other = succeeded_release(service, "a" * 40)
    assert api.get(f"{URL}{other.pk}/").status_code == 404


def test_it_answers_403_when_the_user_lacks_the_permission(service, token_for, db):
    viewer = make_user("viewer", ["view_service"])
    r = Api(token_for("read,deploy", user=viewer)).post(
        URL, {"service": "license-api", "commit": SHA})
    assert r.status_code == 403 and "may not deploy" in r.json()["detail"]


@pytest.mark.parametrize("body,field", [
    ({"service": "license-api", "commit": "not-a-sha"}, "commit"),
    ({"service": "license-api", "commit": " " + SHA}, "commit"),
    ({"service": "license-api", "commit": 1234567}, "commit"),
    ({"service": "license-api", "commit": SHA + "\n"}, "commit"),
    ({"service": "no such", "commit": SHA}, "service"),
    ({"commit": SHA}, "service"),
    ({"service": "license-api", "commit": SHA, "ref": "-bad..ref"}, "ref"),
    ({"service": ["x"], "commit": SHA}, "service"),
    ({"service": "license-api"}, "commit"),
    ({"service": "license-api", "commit": SHA, "reason": "nul\x00"}, "reason"),
])
def test_it_answers_400_naming_the_field(service, api_for, body, field):
    r = api_for("deploy").post(URL, body)
    assert r.status_code == 400, r.content
    assert r["Content-Type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 400 and problem["title"] == "Bad Request"
    assert field in problem["errors"] and problem["type"].startswith("urn:")


@pytest.mark.parametrize("body,field", [
    ({"service": "nope", "commit": SHA}, "service"),
    ({"service": "license-api", "ref": "main"}, "commit"),  # no git_repo to look it up in
])
def test_it_answers_422_naming_the_field_for_what_is_well_formed_but_unusable(
        service, api_for, body, field):
    # The schema allows these requests (it cannot know which names exist): 422, not 400.
    r = api_for("deploy").post(URL, body)
    assert r.status_code == 422, r.content
    problem = r.json()
    assert problem["code"] == "unprocessable" and field in problem["errors"]


def test_it_deploys_a_branch_as_the_commit_it_points_at(service, api_for, tmp_path):
    shas = make_repo(tmp_path / "repo")
    service.git_repo = str(tmp_path / "repo")
    service.save(update_fields=["git_repo"])
    api = api_for("deploy")
    r = api.post(URL, {"service": "license-api", "ref": "v2", "reason": "tagged"})
    assert r.status_code == 202, r.content
    assert r.json()["commit"] == shas["v2"] and r.json()["ref"] == "v2"
    missing = api.post(URL, {"service": "license-api", "ref": "no-such-branch"})
    assert missing.status_code == 422 and "ref" in missing.json()["errors"]
    assert "no-such-branch" in missing.json()["detail"]


def test_it_answers_400_for_malformed_json_and_415_for_forms(service, api_for):
    api = api_for("deploy")
    r = api.client.post(URL, "{nope", content_type="application/json",
                        headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 400 and r.json()["status"] == 400
    r = api.client.post(URL, {"service": "x"}, headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 415
    r = api.post(URL, ["a", "list"])
    assert r.status_code == 400


def test_it_answers_409_with_owner_and_reason_when_locked(service, api_for, deployer):
    from dashboard import services

    other = make_user("oncall", ["view_service", "lock_service"])
    services.lock_service(service=service, actor=other, via="api", reason="incident 42")
    r = api_for("deploy").post(URL, {"service": "license-api", "commit": SHA})
    assert r.status_code == 409
    problem = r.json()
    assert problem["owner"] == "oncall" and problem["reason"] == "incident 42"
    assert problem["code"] == "locked"


def test_it_lists_with_filters_and_cursor_pages(service, other_service, api_for, deployer):
    for i in range(5):
        succeeded_release(service, f"{i:x}" * 40)
    failed = Release.objects.create(service=other_service, commit_sha="f" * 40, via="slack",
                                    state=states.FAILED, requested_by=deployer)
    api = api_for("read")
    page = api.get(URL, {"limit": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    ids = [x["id"] for x in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        ids += [x["id"] for x in page["results"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 6
    assert [x["id"] for x in api.get(URL, {"service": "billing"}).json()["results"]] == [failed.pk]
    assert [x["id"] for x in api.get(URL, {"state": "failed,cancelled"}).json()["results"]] == [
        failed.pk]
    assert [x["id"] for x in api.get(URL, {"via": "slack"}).json()["results"]] == [failed.pk]
    assert [x["id"] for x in api.get(URL, {"user": "deployer"}).json()["results"]] == [failed.pk]
    future = (timezone.now() + timezone.timedelta(hours=1)).isoformat()
    assert api.get(URL, {"since": future}).json()["results"] == []
    assert api.get(URL, {"since": "yesterday"}).status_code == 400
    assert api.get(URL, {"state": "exploded"}).status_code == 400
    assert api.get(URL, {"via": "carrier-pigeon"}).status_code == 400


def test_it_pins_the_list_query_count(service, api_for, django_assert_max_num_queries):
    for i in range(20):
        succeeded_release(service, f"{i % 16:x}" * 40)
    api = api_for("read")
    api.get(URL)  # warm the token's last_used_at write
    with django_assert_max_num_queries(6):
        assert len(api.get(URL).json()["results"]) == 20


def test_it_retrieves_a_release_with_timeline_and_failure_summary(service, api_for):
    api = api_for("read,deploy")
    rid = api.post(URL, {"service": "license-api", "commit": SHA}).json()["id"]
    body = api.get(f"{URL}{rid}/").json()
    assert body["id"] == rid and body["service"] == "license-api"
    assert [e["kind"] for e in body["timeline"]][:1] == ["requested"]
    assert [e["seq"] for e in body["timeline"]] == sorted(e["seq"] for e in body["timeline"])
    assert "failure_summary" in body and "timings" in body
    assert api.get(f"{URL}999999/").status_code == 404


def test_it_cancels_a_release_with_the_deploy_scope(service, api_for):
    rid = api_for("deploy").post(URL, {"service": "license-api", "commit": SHA}).json()["id"]
    assert api_for("read").post(f"{URL}{rid}/cancel/").status_code == 403
    r = api_for("deploy").post(f"{URL}{rid}/cancel/", {"reason": "wrong commit"})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == states.CANCELLED
    again = api_for("deploy").post(f"{URL}{rid}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert api_for("deploy").post(f"{URL}424242/cancel/").status_code == 404


def test_it_rolls_back_to_the_previous_or_a_named_release(service, api_for):
    first = succeeded_release(service, "a" * 40)
    second = succeeded_release(service, "b" * 40)
    third = succeeded_release(service, "c" * 40)
    assert api_for("deploy").post(f"{URL}{third.pk}/rollback/").status_code == 403
    api = api_for("rollback,read")
    r = api.post(f"{URL}{third.pk}/rollback/", {"reason": "bad"})
    assert r.status_code == 202, r.content
    rollback = Release.objects.get(pk=r.json()["id"])
    assert rollback.kind == states.KIND_ROLLBACK and rollback.rollback_of_id == second.pk
    assert r["Location"] == f"/api/v1/releases/{rollback.pk}/"
    Release.objects.filter(pk=rollback.pk).update(state=states.SUCCEEDED)
    r = api.post(f"{URL}{third.pk}/rollback/", {"to_release": first.pk})
    assert r.status_code == 202, r.content
    assert Release.objects.get(pk=r.json()["id"]).rollback_of_id == first.pk
    bad = api.post(f"{URL}{third.pk}/rollback/", {"to_release": 987654})
    assert bad.status_code == 422 and "to_release" in bad.json()["errors"]
    assert api.post(f"{URL}{third.pk}/rollback/", {"to_release": "1"}).status_code == 400


def test_it_answers_503_with_retry_after_when_the_database_is_busy(service, api_for):
    from django.db import OperationalError

    from dashboard.api.errors import handle

    r = handle(OperationalError("database is locked"), {})
    assert r is not None and r.status_code == 503 and r["Retry-After"] == "2"
    assert r.data["code"] == "unavailable"
