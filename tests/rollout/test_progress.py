"""progress(): exactly `kubectl rollout status` (rollout_status.go), one evaluation."""

from __future__ import annotations

import json

from dashboard.rollout import new_replicaset, progress

from .factories import NEW_HASH, OLD_HASH, deployment, replicaset

RS = [replicaset(1, OLD_HASH, 0), replicaset(2, NEW_HASH, 3)]


def test_it_is_done_when_all_replicas_are_updated_and_available():
    p = progress(deployment(), RS)
    assert p.done and not p.deadline_exceeded
    assert p.message == 'deployment "license-api" successfully rolled out'
    assert (p.desired, p.updated, p.ready, p.available, p.revision) == (3, 3, 3, 3, 2)
    assert p.new_replicaset == f"license-api-{NEW_HASH}" and p.pod_template_hash == NEW_HASH


def test_it_waits_for_the_spec_update_to_be_observed():
    p = progress(deployment(generation=3, observed=2), RS)
    assert not p.done and not p.observed
    assert p.message == "Waiting for deployment spec update to be observed..."
    # The revision annotation may still name the previous RS: no hash to judge pods by.
    assert p.pod_template_hash is None


def test_it_accepts_an_observed_generation_ahead_of_generation():
    assert progress(deployment(generation=2, observed=3), RS).done


def test_it_waits_while_fewer_replicas_are_updated_than_desired():
    p = progress(deployment(updated=1, total=4, ready=3, available=3), RS)
    assert not p.done
    assert p.message == 'Waiting for deployment "license-api" rollout to finish: 1 out of 3 new replicas have been updated...'


def test_it_waits_for_old_replicas_pending_termination():
    p = progress(deployment(updated=3, total=4, available=3), RS)
    assert not p.done
    assert p.message.endswith("1 old replicas are pending termination...")


def test_it_waits_until_updated_replicas_are_available():
    p = progress(deployment(updated=3, total=3, ready=2, available=2), RS)
    assert not p.done
    assert p.message.endswith("2 of 3 updated replicas are available...")


def test_it_reports_the_progress_deadline_before_any_count():
    p = progress(deployment(updated=1, total=4, available=3, progressing_reason="ProgressDeadlineExceeded"), RS)
    assert p.deadline_exceeded and not p.done
    assert p.message == 'deployment "license-api" exceeded its progress deadline'


def test_it_ignores_a_deadline_condition_while_the_generation_is_not_observed():
    p = progress(deployment(generation=4, observed=3, progressing_reason="ProgressDeadlineExceeded"), RS)
    assert not p.deadline_exceeded and not p.done


def test_it_treats_missing_status_counts_as_zero():
    dep = deployment(updated=0, total=0, ready=0, available=0, progressing_reason=None)
    assert "updatedReplicas" not in dep["status"]
    p = progress(dep, RS)
    assert not p.done and p.updated == 0
    assert "0 out of 3 new replicas" in p.message


def test_it_skips_the_desired_check_when_spec_replicas_is_unset():
    # kubectl only compares updated < spec.replicas when spec.replicas is set.
    p = progress(deployment(replicas=None, updated=1, total=1, ready=1, available=1), RS)
    assert p.done and p.desired == 1


def test_it_is_done_for_a_scaled_to_zero_deployment():
    p = progress(deployment(replicas=0, updated=0, total=0, ready=0, available=0), RS)
    assert p.done


def test_it_reports_paused_deployments():
    p = progress(deployment(updated=1, total=4, available=3, paused=True), RS)
    assert p.paused and not p.done and "(paused)" in p.message


def test_it_finds_the_new_replicaset_by_revision_and_owner():
    dep = deployment(revision=2)
    foreign = replicaset(2, "ffff", owner="someone-else")
    assert new_replicaset(dep, [foreign, *RS])["metadata"]["name"] == f"license-api-{NEW_HASH}"
    assert new_replicaset(dep, [foreign]) is None
    assert progress(dep, []).pod_template_hash is None


def test_it_serialises_to_json():
    assert json.loads(json.dumps(progress(deployment(), RS).to_dict()))["done"] is True
