"""The Deployment's revisions on the Service page, and rolling back to a chosen one through
the usual rollback entry point. Sandbox Kubernetes + Cloud Build, a real Celery worker."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard import services, states
from dashboard.models import AuditEntry
from tests.pipeline.conftest import SHA, deployment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_it_lists_revisions_and_rolls_back_to_a_chosen_one(service, worker, settle, fresh_sandbox):
    first = services.request_release(service=service, commit=SHA["good"], actor=None, via="cli")
    first = settle(first, [states.SUCCEEDED], timeout=90)
    second = services.request_release(service=service, commit=SHA["good2"], actor=None, via="cli")
    second = settle(second, [states.SUCCEEDED], timeout=90)

    revs = services.revisions(service)
    assert revs[0].serving and revs[0].number == second.revision_after
    assert revs[0].image == second.image and revs[0].release_id == second.pk
    assert f"release {second.pk}" in revs[0].change_cause
    older = next(r for r in revs if r.number == first.revision_after)
    assert older.release_id == first.pk and older.desired == 0 and not older.serving

    admin = User.objects.create_superuser("root", password="pw-for-tests-0")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/deployments/services/{service.name}/").content.decode()
    assert "Revisions" in page and re.search(r"license-api-[a-z0-9]{6,10}\b", page)
    assert f"?revision={older.number}" in page
    compare = client.get(f"/admin/deployments/releases/{second.pk}/compare/").content.decode()
    config = compare.split('id="config-changes"', 1)[1].split("</table>", 1)[0]
    assert "license-api image" in config and second.image in config and first.image in config

    with pytest.raises(services.InvalidRequest) as refused:
        services.request_rollback_to_revision(service=service, revision=revs[0].number,
                                              actor=admin, via="admin")
    assert refused.value.field == "revision"
    viewer = User.objects.create_user("viewer", password="pw-for-tests-0", is_staff=True)
    with pytest.raises(services.NotAllowed):
        services.request_rollback_to_revision(service=service, revision=older.number,
                                              actor=viewer, via="admin")

    answer = client.post(f"/admin/deployments/services/{service.name}/rollback/",
                         {"revision": older.number, "reason": "back to the first"})
    assert answer.status_code == 302
    back = service.releases.order_by("-id").first()
    assert back.kind == states.KIND_ROLLBACK and back.rollback_of_id == first.pk
    back = settle(back, [states.SUCCEEDED], timeout=90)
    assert deployment(fresh_sandbox)["spec"]["template"]["spec"]["containers"][0]["image"] == first.image
    assert AuditEntry.objects.filter(action="release.rollback", release_id=back.pk,
                                     reason="back to the first").exists()


def test_the_rest_api_lists_revisions_and_rolls_back_to_one(service, worker, settle, fresh_sandbox):
    from dashboard.api.models import ApiToken
    from tests.api.conftest import Api

    first = settle(services.request_release(service=service, commit=SHA["good"], actor=None,
                                            via="cli"), [states.SUCCEEDED], timeout=90)
    second = settle(services.request_release(service=service, commit=SHA["good2"], actor=None,
                                             via="cli"), [states.SUCCEEDED], timeout=90)
    user = User.objects.create_superuser("bot", password="pw-for-tests-0")
    reader = Api(ApiToken.issue(name="r", scopes=["read"], services=[], user=user)[1])
    rows = reader.get(f"/api/v1/services/{service.name}/revisions/").json()
    assert rows[0]["serving"] and rows[0]["release_id"] == second.pk
    assert re.fullmatch(r"license-api-[a-z0-9]{6,10}", rows[0]["replicaset"])
    target = next(r for r in rows if r["release_id"] == first.pk)["number"]
    refused = reader.post(f"/api/v1/services/{service.name}/revisions/", {"revision": target})
    assert refused.status_code == 403  # the read scope may not roll back
    roller = Api(ApiToken.issue(name="w", scopes=["read", "rollback"], services=[], user=user)[1])
    bad = roller.post(f"/api/v1/services/{service.name}/revisions/", {"revision": 999})
    assert bad.status_code == 422 and "revision" in bad.content.decode()
    answer = roller.post(f"/api/v1/services/{service.name}/revisions/",
                         {"revision": target, "reason": "chatops"}, key="rev-1")
    assert answer.status_code == 202, answer.content
    back = settle(service.releases.get(pk=answer.json()["id"]), [states.SUCCEEDED], timeout=90)
    assert back.rollback_of_id == first.pk and back.image == first.image
