"""Slack commands end to end: a real Celery worker runs them and posts progress and the
outcome to a local HTTP server standing in for response_url; the release really runs on the
sandbox (Cloud Build + Kubernetes)."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.api.models import SlackUserMapping
from dashboard.models import Release
from tests.api.conftest import ALL_PERMS, make_service, make_user
from tests.gitrepo import make_repo

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def texts(received: list[Any]) -> list[str]:
    return [r.json()["text"] for r in received]


def test_it_deploys_a_branch_from_slack_and_posts_progress_and_outcome(
        sandbox_worker, fresh_sandbox, receiver, slack_post, tmp_path):
    service = make_service("license-api", kubeconfig=str(fresh_sandbox.kubeconfig))
    shas = make_repo(tmp_path / "repo")
    service.git_repo = str(tmp_path / "repo")
    service.save(update_fields=["git_repo"])
    user = make_user("ada", ALL_PERMS)
    SlackUserMapping.objects.create(team_id="T1", slack_user_id="U1", user=user)
    url = f"{receiver.url}/hooks/1"

    ack = slack_post("deploy license-api main from slack", response_url=url, trigger_id="t1")
    assert ack.status_code == 200 and ack.json()["response_type"] == "ephemeral"
    # Slack retries the same delivery: it must not start a second release
    retry = slack_post("deploy license-api main from slack", response_url=url,
                       trigger_id="t1", retry=1)
    assert "Already on it" in retry.json()["text"]

    got = receiver.wait_for(lambda rs: any("ended" in t for t in texts(rs)), timeout=120)
    posted = texts(got)
    assert "requested by ada" in posted[0]
    assert posted[-1].startswith(":white_check_mark:") and "succeeded" in posted[-1]
    assert 2 <= len(posted) <= 5  # Slack allows five posts per response_url
    assert all(r.path == "/hooks/1" for r in got)
    release = Release.objects.get()
    assert release.state == "succeeded" and release.via == "slack"
    assert release.requested_by == user and release.reason == "from slack"
    assert (release.commit_sha, release.ref) == (shas["main"], "main")


def test_it_answers_status_lock_and_unmapped_users_through_the_worker(
        sandbox_worker, fresh_sandbox, receiver, slack_post):
    make_service("license-api", kubeconfig=str(fresh_sandbox.kubeconfig))
    user = make_user("bob", ALL_PERMS)
    SlackUserMapping.objects.create(team_id="T1", slack_user_id="U2", user=user)

    slack_post("lock license-api big migration", user_id="U2", trigger_id="a",
               response_url=f"{receiver.url}/lock")
    receiver.wait_for(lambda rs: any(r.path == "/lock" for r in rs))
    slack_post("status license-api", user_id="U2", trigger_id="b",
               response_url=f"{receiver.url}/status")
    slack_post("deploy license-api abc1234", user_id="U9", trigger_id="c",
               response_url=f"{receiver.url}/stranger")
    slack_post("deploy license-api no-such-branch", user_id="U2", trigger_id="d",
               response_url=f"{receiver.url}/ref")
    got = receiver.wait_for(lambda rs: {"/status", "/stranger", "/ref"} <= {r.path for r in rs})
    by_path = {r.path: r.json()["text"] for r in got}
    assert "locked" in by_path["/lock"]
    assert "locked by bob: big migration" in by_path["/status"]
    assert "not linked" in by_path["/stranger"]
    assert "no git repository" in by_path["/ref"]  # a branch needs the Service's git_repo
    assert not Release.objects.exists()
