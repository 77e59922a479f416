"""fatal_reasons(): krane's doomed-container rules under a per-reason policy."""

from __future__ import annotations

import json

import pytest

from dashboard.rollout.failfast import DEFAULT_POLICY, fatal_reasons, merge_policy, validate_policy

from .factories import NEW_HASH, OLD_HASH, T0, at, event, pod

CRASH = {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-27T04:00:00Z"}


def crashing(name="license-api-7b6c5f5c5-x4k2p", **kw):
    return pod(name, waiting=("CrashLoopBackOff", "back-off 40s restarting failed container"), last_terminated=CRASH, restarts=5, **kw)


def judge(pods, events=(), policy=None, sightings=None, now=T0, pod_template_hash=NEW_HASH):
    sightings = {} if sightings is None else sightings
    return fatal_reasons(pods, events, policy, sightings, now, pod_template_hash=pod_template_hash)


def test_it_fails_a_crash_loop_at_once_with_exit_code_and_restarts():
    [f] = judge([crashing()])
    assert f.reason == "CrashLoopBackOff"
    assert (f.pod, f.container, f.exit_code, f.restarts) == ("license-api-7b6c5f5c5-x4k2p", "license-api", 1, 5)
    assert f.message == "container license-api in pod license-api-7b6c5f5c5-x4k2p exited with code 1, 5 restarts"
    assert f.first_seen == T0


def test_it_names_oomkilled_in_a_crash_loop_message():
    p = pod("p1", waiting=("CrashLoopBackOff", ""), last_terminated={"exitCode": 137, "reason": "OOMKilled"}, restarts=3)
    fatals = judge([p])
    assert [f.reason for f in fatals] == ["CrashLoopBackOff"]  # OOMKilled alone is "never" by default
    assert "exited with code 137 (OOMKilled), 3 restarts" in fatals[0].message


def test_it_judges_only_pods_of_the_new_replicaset():
    old = crashing("license-api-84d9f6b7c-aaaaa", pod_hash=OLD_HASH)
    assert judge([old]) == []
    assert judge([old], pod_template_hash=None) != []  # no hash given: every pod given is judged


def test_it_ignores_terminating_pods():
    assert judge([crashing(deleting=True)]) == []


def test_it_fails_only_when_every_new_pod_is_doomed_by_default():
    healthy = pod("license-api-7b6c5f5c5-ok123", ready=True)
    assert judge([crashing(), healthy]) == []
    assert [f.pod for f in judge([crashing(), healthy], policy={"scope": "any_pod"})] == ["license-api-7b6c5f5c5-x4k2p"]
    both = judge([crashing("a"), crashing("b")])
    assert {f.pod for f in both} == {"a", "b"}


def test_it_fails_a_missing_image_at_once():
    p = pod("p1", waiting=("ErrImagePull", 'rpc error: code = NotFound desc = failed to pull and unpack image "gcr.io/sandbox/license-api:nope": not found'))
    [f] = judge([p])
    assert f.reason == "ErrImagePull" and "not found" in f.message


def test_it_treats_other_pull_errors_and_back_off_as_transient():
    timeout = pod("p1", waiting=("ErrImagePull", "rpc error: code = Unknown desc = i/o timeout"))
    backoff = pod("p2", waiting=("ImagePullBackOff", 'Back-off pulling image "gcr.io/x:1"'))
    assert judge([timeout]) == []
    assert judge([backoff]) == []


def test_it_catches_a_missing_image_during_back_off_from_the_pull_events():
    p = pod("p1", waiting=("ImagePullBackOff", 'Back-off pulling image "gcr.io/sandbox/license-api:nope"'))
    ev = event("p1", "Failed", 'Failed to pull image "gcr.io/sandbox/license-api:nope": manifest unknown: not found')
    [f] = judge([p], [ev])
    assert f.reason == "ErrImagePull"


def test_it_can_make_image_pull_back_off_fatal_after_some_time():
    p = pod("p1", waiting=("ImagePullBackOff", "Back-off pulling image"))
    policy = {"ImagePullBackOff": {"after_seconds": 60}}
    sightings: dict = {}
    assert judge([p], policy=policy, sightings=sightings, now=at(0)) == []
    assert judge([p], policy=policy, sightings=sightings, now=at(59)) == []
    [f] = judge([p], policy=policy, sightings=sightings, now=at(61))
    assert f.reason == "ImagePullBackOff" and f.first_seen == at(0)


def test_it_fails_create_container_config_errors_except_cache_sync():
    bad = pod("p1", waiting=("CreateContainerConfigError", 'secret "license-api-env" not found'))
    syncing = pod("p2", waiting=("CreateContainerConfigError", "failed to sync secret cache: timed out waiting for the condition"))
    assert [f.reason for f in judge([bad])] == ["CreateContainerConfigError"]
    assert judge([syncing]) == []


def test_it_fails_container_cannot_run_unless_exit_code_128():
    cannot = pod("p1", terminated={"exitCode": 127, "reason": "ContainerCannotRun", "message": "exec: not found"})
    infra = pod("p2", terminated={"exitCode": 128, "reason": "ContainerCannotRun"})
    assert [f.reason for f in judge([cannot])] == ["ContainerCannotRun"]
    assert judge([infra]) == []


def test_it_fails_failed_pods_but_not_evicted_ones():
    failed = pod("p1", phase="Failed", reason="DeadlineExceeded")
    evicted = pod("p2", phase="Failed", reason="Evicted")
    assert [f.reason for f in judge([failed])] == ["PodFailed"]
    assert judge([evicted]) == []


def test_it_counts_oomkills_across_calls_with_after_sightings():
    p = pod("p1", last_terminated={"exitCode": 137, "reason": "OOMKilled"}, restarts=1, ready=False)
    policy = {"OOMKilled": {"after_sightings": 3}}
    sightings: dict = {}
    assert judge([p], policy=policy, sightings=sightings, now=at(0)) == []
    # The caller persists sightings as JSON between task runs.
    sightings = json.loads(json.dumps(sightings))
    assert judge([p], policy=policy, sightings=sightings, now=at(2)) == []
    [f] = judge([p], policy=policy, sightings=sightings, now=at(4))
    assert f.reason == "OOMKilled" and f.exit_code == 137 and f.first_seen == at(0)


def test_it_forgets_a_sighting_when_the_condition_clears():
    bad = pod("p1", last_terminated={"exitCode": 137, "reason": "OOMKilled"}, restarts=1)
    good = pod("p1", ready=True)
    policy = {"OOMKilled": {"after_sightings": 2}}
    sightings: dict = {}
    judge([bad], policy=policy, sightings=sightings)
    judge([good], policy=policy, sightings=sightings)
    assert sightings == {}
    assert judge([bad], policy=policy, sightings=sightings) == []


def test_it_ignores_readiness_failures_by_default_and_counts_them_when_asked():
    p = pod("p1", ready=False)
    ev = event("p1", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=12, first=at(0), last=at(60))
    assert judge([p], [ev]) == []
    [f] = judge([p], [ev], policy={"Unhealthy": {"after_sightings": 10}})
    assert f.reason == "Unhealthy"
    assert f.message == "readiness probe of container license-api in pod p1 failed 12 times: Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert judge([p], [ev], policy={"Unhealthy": {"after_sightings": 20}}) == []
    # after_seconds counts from the first failure Kubernetes reported.
    assert judge([p], [ev], policy={"Unhealthy": {"after_seconds": 30}}, now=at(45))[0].first_seen == at(0)


def test_it_does_not_count_liveness_failures_as_readiness_failures():
    ev = event("p1", "Unhealthy", "Liveness probe failed: connection refused", count=50)
    assert judge([pod("p1")], [ev], policy={"Unhealthy": "fatal"}) == []


def test_it_judges_unschedulable_pods_by_policy():
    p = pod("p1", scheduled=False, unschedulable_message="0/3 nodes are available: 3 Insufficient cpu.")
    ev = event("p1", "FailedScheduling", "0/3 nodes are available: 3 Insufficient cpu.", container=None, first=at(0))
    assert judge([p], [ev]) == []
    [f] = judge([p], [ev], policy={"Unschedulable": {"after_seconds": 30}}, now=at(31))
    assert f.reason == "Unschedulable" and "Insufficient cpu" in f.message and f.container == ""


def test_it_never_fails_what_the_policy_says_never():
    assert judge([crashing()], policy={"CrashLoopBackOff": "never"}) == []
    assert judge([crashing()], policy={"CrashLoopBackOff": {"after_sightings": 2}}) == []


def test_it_keeps_sightings_json_serialisable():
    sightings: dict = {}
    judge([crashing()], sightings=sightings)
    assert json.loads(json.dumps(sightings)) == sightings
    assert list(sightings) == ["license-api-7b6c5f5c5-x4k2p/license-api/CrashLoopBackOff"]


def test_it_validates_policies():
    validate_policy(DEFAULT_POLICY)
    assert merge_policy({"Unhealthy": {"after_seconds": 120}})["Unhealthy"] == {"after_seconds": 120}
    for bad in ({"Bogus": "fatal"}, {"CrashLoopBackOff": "sometimes"}, {"OOMKilled": {"after_sightings": 0}},
                {"OOMKilled": {"after_minutes": 1}}, {"OOMKilled": {"action": "later"}}, {"scope": "most"},
                {"OOMKilled": {"after_sightings": True}}):
        with pytest.raises(ValueError):
            merge_policy(bad)


def test_it_accepts_the_long_policy_form_stored_on_services():
    policy = merge_policy({
        "CrashLoopBackOff": {"action": "never"},
        "OOMKilled": {"action": "after", "sightings": 2},
        "Unhealthy": {"action": "after", "seconds": 90},
        "ImagePullBackOff": {"action": "fatal"},
    })
    assert policy["CrashLoopBackOff"] == "never" and policy["ImagePullBackOff"] == "fatal"
    assert policy["OOMKilled"] == {"after_sightings": 2}
    assert policy["Unhealthy"] == {"after_seconds": 90}
    assert judge([crashing()], policy={"CrashLoopBackOff": {"action": "never"}}) == []


def test_it_fails_on_whichever_threshold_comes_first():
    p = pod("p1", waiting=("ImagePullBackOff", "Back-off pulling image"))
    policy = {"ImagePullBackOff": {"after_sightings": 100, "after_seconds": 10}}
    sightings: dict = {}
    assert judge([p], policy=policy, sightings=sightings, now=at(0)) == []
    assert judge([p], policy=policy, sightings=sightings, now=at(11))[0].reason == "ImagePullBackOff"
    policy = {"ImagePullBackOff": {"after_sightings": 2, "after_seconds": 1000}}
    sightings = {}
    assert judge([p], policy=policy, sightings=sightings, now=at(0)) == []
    assert judge([p], policy=policy, sightings=sightings, now=at(1))[0].reason == "ImagePullBackOff"


def test_it_writes_counts_as_a_person_would():
    once = pod("p1", waiting=("CrashLoopBackOff", ""), last_terminated=CRASH, restarts=1)
    assert judge([once])[0].message.endswith("exited with code 1, 1 restart")
    fresh = pod("p2", waiting=("CrashLoopBackOff", ""), last_terminated=CRASH, restarts=0)
    assert judge([fresh])[0].message.endswith("exited with code 1, no restarts yet")
    assert " 1 times" not in judge([once])[0].message


def test_it_rewords_failure_sentences_stored_in_the_old_form():
    from dashboard.rollout.failfast import readable

    old = "CrashLoopBackOff: container api in pod p1 exited with code 1 1 times"
    assert readable(old) == "CrashLoopBackOff: container api in pod p1 exited with code 1, 1 restart"
    assert readable("container api in pod p exited with code 137 (OOMKilled) 3 times").endswith(
        "(OOMKilled), 3 restarts")
    assert readable("readiness probe failed 12 times: 503") == "readiness probe failed 12 times: 503"
