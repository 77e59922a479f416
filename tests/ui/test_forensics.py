"""What a finished release's page keeps: build steps in words, its own Kubernetes events only,
and the REST representation with pod states and events."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.models import ReleaseEvent
from tests.ui.conftest import make_release

pytestmark = pytest.mark.django_db


def kept(release, seq, kind, message, data):
    return ReleaseEvent.objects.create(release=release, seq=seq, kind=kind, message=message,
                                       data=data, state=release.state)


def test_it_shows_build_steps_as_words_with_durations(admin_client, service):
    started = (timezone.now() - timedelta(seconds=42)).isoformat()
    release = make_release(service, state="building", build_steps=[
        {"id": "fetch", "name": "git", "status": "SUCCESS", "seconds": 3.2},
        {"id": "build", "name": "docker", "status": "WORKING", "seconds": None, "started": started},
        {"id": "push", "name": "docker", "status": "QUEUED", "seconds": None},
        {"id": "tag", "name": "gcloud", "status": "STATUS_UNKNOWN", "seconds": None},
    ])
    body = admin_client.get(reverse("deployments:release", args=[release.pk])).content.decode()
    steps = body.split('id="steps-body"', 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(r'data-status="[A-Z_]+">([^<]*)</td><td>([^<]*)</td>', steps)
    assert cells[0] == ("succeeded", "3s")
    assert cells[1][0] == "running" and re.fullmatch(r"running for 4[2-9]s", cells[1][1])
    assert cells[2:] == [("queued", ""), ("not started", "")]
    assert not re.search(r">\s*(STATUS_UNKNOWN|WORKING|QUEUED|SUCCESS)\s*<", body)


def test_it_shows_only_the_release_own_events_once_it_ended(admin_client, service):
    earlier = make_release(service, state="succeeded")
    kept(earlier, 1, "k8s.event", "old", {"uid": "old", "object": "Pod/license-api-old-1",
                                          "reason": "Pulled", "type": "Normal", "message": "old pod"})
    release = make_release(service, state="rolled_back")
    kept(release, 1, "pod.state", "pod license-api-abc-1: Running (CrashLoopBackOff), 0/1 ready",
         {"key": "pod/license-api-abc-1", "state": "Running (CrashLoopBackOff), 0/1 ready"})
    kept(release, 2, "k8s.event", "Warning BackOff", {
        "uid": "u1", "object": "Pod/license-api-abc-1", "reason": "BackOff", "type": "Warning",
        "message": "Back-off restarting failed container", "at": timezone.now().isoformat(),
        "key": "event/u1", "state": "1"})
    body = admin_client.get(reverse("deployments:release", args=[release.pk])).content.decode()
    panel = body.split('id="k8s-events-body"', 1)[1].split("</tbody>", 1)[0]
    assert "Back-off restarting failed container" in panel and "old pod" not in panel
    assert "CrashLoopBackOff" in body.split('aria-label="Release timeline"', 1)[1]
    assert '"eventScope": {"deployment": "license-api"' in body


def test_the_rest_representation_keeps_pod_states_and_events(service, admin_user):
    from rest_framework.test import APIClient

    release = make_release(service, state="succeeded")
    kept(release, 1, "pod.state", "pod license-api-abc-1: Pending (ContainerCreating), 0/1 ready",
         {"key": "pod/license-api-abc-1", "state": "Pending (ContainerCreating), 0/1 ready"})
    kept(release, 2, "k8s.event", "Normal ScalingReplicaSet Deployment/license-api: Scaled up",
         {"uid": "u2", "reason": "ScalingReplicaSet", "object": "Deployment/license-api"})
    client = APIClient()
    client.force_authenticate(admin_user)
    data = client.get(f"/api/v1/releases/{release.pk}/").json()
    kinds = {e["kind"]: e for e in data["timeline"]}
    assert "ContainerCreating" in kinds["pod.state"]["message"]
    assert kinds["k8s.event"]["data"]["reason"] == "ScalingReplicaSet"


def test_the_compare_page_lists_commits_between_releases_from_git(admin_client, service, tmp_path):
    from tests.gitrepo import make_repo

    shas = make_repo(tmp_path / "repo")
    service.git_repo = str(tmp_path / "repo")
    service.save(update_fields=["git_repo"])
    older = make_release(service, commit=shas["v1"])
    newer = make_release(service, commit=shas["main"])
    body = admin_client.get(reverse("deployments:release-compare", args=[newer.pk])).content.decode()
    table = body.split('id="commits"', 1)[1].split("</table>", 1)[0]
    assert [shas[n][:12] in table for n in ("main", "feature/main", "v2", "v1")] == [True, True, True, False]
    assert "commit for v2" in table
    back = make_release(service, commit=shas["v1"])  # going back: the commits it took out
    body = admin_client.get(reverse("deployments:release-compare", args=[back.pk])).content.decode()
    assert "Commits taken out" in body and shas["main"][:12] in body
    assert older.pk < newer.pk


def test_the_compare_page_keeps_repository_passwords_out(admin_client, service):
    service.git_repo = "https://deployer:s3cret-pass@127.0.0.1:1/license-api.git"
    service.save(update_fields=["git_repo"])
    make_release(service, commit="a" * 40)
    newer = make_release(service, commit="b" * 40)
    body = admin_client.get(reverse("deployments:release-compare", args=[newer.pk])).content.decode()
    assert "s3cret" not in body and "deployer" not in body
    assert "https://127.0.0.1:1/license-api/compare/" in body


def test_the_failure_card_reads_as_a_person_would_write_it(admin_client, service):
    release = make_release(service, state="rolled_back", failure_summary={
        "code": "CrashLoopBackOff", "pod": "license-api-abc-1", "container": "license-api",
        "exit_code": 1, "reason": "CrashLoopBackOff: container license-api in pod "
        "license-api-abc-1 exited with code 1 1 times",  # as stored by older versions
        "fatal": [{"reason": "CrashLoopBackOff", "restarts": 5}]})
    body = admin_client.get(reverse("deployments:release", args=[release.pk])).content.decode()
    card = body.split('id="h-failure"', 1)[1].split("</section>", 1)[0]
    assert "exited with code 1, 1 restart</strong>" in card and "1 times" not in card
    assert "exit code 1, restarted 5 times" in card


MIGRATE_OK = ("Operations to perform:\n  Apply all migrations: licenses\nRunning migrations:\n"
              "  Applying licenses.0012_license_seats... OK\n"
              "  Applying licenses.0013_activation_device_index... OK\n")
MIGRATE_FAILED = ("Running migrations:\n  Applying licenses.0014_customer... OK\n"
                  "  Applying licenses.0015_customer_not_null...Traceback (most recent call last):\n"
                  "django.db.utils.IntegrityError: column \"customer_id\" contains null values\n")


def test_the_compare_page_lists_migrations_run_and_migration_files_from_git(admin_client, service,
                                                                            tmp_path):
    from tests.gitrepo import _git

    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "licenses" / "migrations").mkdir(parents=True)
    (repo / "licenses" / "migrations" / "__init__.py").write_text("")
    (repo / "licenses" / "migrations" / "0012_license_seats.py").write_text("# 12\n")
    (repo / "licenses" / "views.py").write_text("# views\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "seats")
    before = _git(repo, "rev-parse", "HEAD")
    (repo / "licenses" / "migrations" / "0013_activation_device_index.py").write_text("# 13\n")
    (repo / "licenses" / "migrations" / "helpers").mkdir()
    (repo / "licenses" / "migrations" / "helpers" / "x.txt").write_text("not a migration\n")
    (repo / "licenses" / "views.py").write_text("# views, changed\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "device index")
    after = _git(repo, "rev-parse", "HEAD")
    service.git_repo = str(repo)
    service.save(update_fields=["git_repo"])
    older = make_release(service, commit=before, pre_deploy_job="license-api-pre-1",
                         pre_deploy_exit_code=0, pre_deploy_log=MIGRATE_OK)
    newer = make_release(service, commit=after, state="failed", pre_deploy_job="license-api-pre-2",
                         pre_deploy_exit_code=1, pre_deploy_log=MIGRATE_FAILED)

    body = admin_client.get(reverse("deployments:release-compare", args=[newer.pk])).content.decode()
    section = body.split('id="h-migrations"', 1)[1].split("</section>", 1)[0]
    jobs = section.split('id="migrations-run"', 1)[1].split("</table>", 1)[0]
    old_row = jobs.split(f'data-release="{older.pk}"', 1)[1].split("</tr>", 1)[0]
    new_row = jobs.split(f'data-release="{newer.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "license-api-pre-1" in old_row and "exited 0" in old_row
    assert re.findall(r"licenses\.\d{4}_\w+", old_row) == [
        "licenses.0012_license_seats", "licenses.0013_activation_device_index"]
    assert "license-api-pre-2" in new_row and "exited 1" in new_row
    assert "licenses.0014_customer" in new_row
    assert re.search(r"licenses\.0015_customer_not_null\s*<span[^>]*>failed", new_row)
    files = section.split('id="migration-files"', 1)[1].split("</ul>", 1)[0]
    assert re.findall(r'data-change="(\w+)">[^<]*?(\S+\.py)<', files) == [
        ("added", "licenses/migrations/0013_activation_device_index.py")]

    back = make_release(service, commit=before)  # going back: the newer code's migration is gone
    body = admin_client.get(reverse("deployments:release-compare", args=[back.pk])).content.decode()
    files = body.split('id="migration-files"', 1)[1].split("</ul>", 1)[0]
    assert 'data-change="deleted"' in files and "0013_activation_device_index.py" in files
    row = body.split('id="migrations-run"', 1)[1].split(f'data-release="{back.pk}"', 1)[1]
    assert "none ran" in row.split("</tr>", 1)[0]


def test_the_compare_page_says_why_migration_files_are_unknown(admin_client, service):
    make_release(service, commit="a" * 40)
    newer = make_release(service, commit="b" * 40)
    body = admin_client.get(reverse("deployments:release-compare", args=[newer.pk])).content.decode()
    section = body.split('id="h-migrations"', 1)[1].split("</section>", 1)[0]
    assert "has no git repository set" in section
