"""The rollback guard: going back past a release whose pre-deploy Job ran its migrations
needs an explicit acknowledgement, in REST (409 problem naming the releases), on the admin's
confirmation page and in Slack; acknowledged, it is on the timeline and in the audit trail."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client
from django.urls import reverse

from dashboard import services, states
from dashboard.api import chatops
from dashboard.models import AuditEntry, Release
from tests.api.conftest import SHA, make_user, succeeded_release

URL = "/api/v1/releases/"
MIGRATED = "Running migrations:\n  Applying licenses.0012_license_seats... OK\n"


@pytest.fixture
def history(service):
    """#1 plain, #2 ran migrations, #3 plain (current)."""
    first = succeeded_release(service, "a" * 40)
    second = succeeded_release(service, "b" * 40)
    Release.objects.filter(pk=second.pk).update(
        pre_deploy_job=f"license-api-predeploy-{second.pk}", pre_deploy_exit_code=0,
        pre_deploy_log=MIGRATED)
    third = succeeded_release(service, SHA)
    return SimpleNamespace(first=first, second=second, third=third)


def test_rolling_back_past_migrations_answers_409_naming_them_unless_acknowledged(
        service, history, api_for):
    api = api_for("rollback,read")
    r = api.post(f"{URL}{history.third.pk}/rollback/", {"to_release": history.first.pk})
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "schema_changed"
    assert [c["id"] for c in body["schema_changes"]] == [history.second.pk]
    assert body["schema_changes"][0]["output"][-1] == "  Applying licenses.0012_license_seats... OK"
    assert "acknowledge_schema_change" in body["errors"]
    assert not Release.objects.filter(kind=states.KIND_ROLLBACK).exists()

    r = api.post(f"{URL}{history.third.pk}/rollback/",
                 {"to_release": history.first.pk, "acknowledge_schema_change": True})
    assert r.status_code == 202, r.content
    rollback = Release.objects.get(pk=r.json()["id"])
    assert rollback.events.filter(kind="schema").exists()
    entry = AuditEntry.objects.get(action="release.rollback.schema_acknowledged")
    assert entry.payload["schema_changes"] == [history.second.pk]


def test_rolling_back_to_a_release_after_the_migration_needs_no_acknowledgement(
        service, history, api_for):
    # The default target is #2 itself: its own Job ran before it went live, so going back to
    # it goes back past nothing that changed the schema.
    r = api_for("rollback,read").post(f"{URL}{history.third.pk}/rollback/", {})
    assert r.status_code == 202, r.content
    assert Release.objects.get(pk=r.json()["id"]).rollback_of_id == history.second.pk


def test_a_migration_that_failed_does_not_count_as_a_schema_change(service, history):
    Release.objects.filter(pk=history.second.pk).update(pre_deploy_exit_code=1)
    assert services.schema_changes(history.first) == []


def test_the_confirmation_page_warns_and_the_checkbox_acknowledges(service, history):
    Release.objects.filter(pk=history.third.pk).update(pre_deploy_job="j3",
                                                       pre_deploy_exit_code=0)
    admin = make_user("boss", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    url = reverse("deployments:service-action", args=[service.name, "rollback"])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "The schema moved on" in html and f"#{history.third.pk}" in html
    refused = client.post(url,
                          {"reason": "bad release"})
    assert refused.status_code == 409
    assert not Release.objects.filter(kind=states.KIND_ROLLBACK).exists()
    done = client.post(url,
                       {"reason": "bad release", "acknowledge_schema_change": "on"})
    assert done.status_code == 302
    assert Release.objects.filter(kind=states.KIND_ROLLBACK).count() == 1


def test_slack_names_the_migrations_and_rolls_back_with_ack_schema(service, history):
    user = make_user("ada", ["view_service", "rollback_service"])
    cmd = SimpleNamespace(verb="rollback", args=[service.name, str(history.first.pk)],
                          rest="bad deploy")
    out = chatops.execute(cmd, user)
    assert out.release_id is None
    assert f"release #{history.second.pk}" in out.text and "Applying licenses" in out.text
    assert "--ack-schema" in out.text
    cmd.rest = "--ack-schema bad deploy"
    out = chatops.execute(cmd, user)
    rollback = Release.objects.get(pk=out.release_id)
    assert rollback.kind == states.KIND_ROLLBACK and rollback.reason == "bad deploy"


def test_a_failure_notification_says_the_schema_moved_on(service):
    from dashboard.api.notifications import release_payload

    release = Release(service=service, commit_sha=SHA, via="api", failure_summary={
        "code": "CrashLoopBackOff", "reason": "CrashLoopBackOff: ...",
        "schema_moved_on": {"job": "license-api-predeploy-9", "output": ["OK"]}})
    payload = release_payload(release, "failed", "deploying")
    assert payload["release"]["failure"] == {"code": "CrashLoopBackOff",
                                             "reason": "CrashLoopBackOff: ...",
                                             "schema_moved_on": True}
    assert "failure" not in release_payload(release, "rolling_back", "failed")["release"]


def test_the_cli_refuses_without_the_flag_and_rolls_back_with_it(service, history):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="schema"):
        call_command("rollback", service.name, "--to", str(history.first.pk))
    call_command("rollback", service.name, "--to", str(history.first.pk),
                 "--acknowledge-schema-change")
    assert Release.objects.get(kind=states.KIND_ROLLBACK).rollback_of_id == history.first.pk
