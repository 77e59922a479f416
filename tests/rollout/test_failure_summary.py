"""build_summary(): the failure summary stored on a failed release."""

from __future__ import annotations

import json

from dashboard.rollout import progress
from dashboard.rollout.failfast import fatal_reasons
from dashboard.rollout.summary import build_summary, log_target, warning_events

from .factories import NEW_HASH, T0, at, deployment, event, pod, replicaset

CRASH = {"exitCode": 1, "reason": "Error"}


def test_it_summarises_a_crash_loop_in_one_sentence_with_events_logs_and_changes():
    p = pod("license-api-7b6c5f5c5-x4k2p", waiting=("CrashLoopBackOff", "back-off"), last_terminated=CRASH, restarts=5)
    events = [
        event(p["metadata"]["name"], "Pulled", "Container image already present", type_="Normal"),
        event(p["metadata"]["name"], "BackOff", "Back-off restarting failed container license-api", count=5, last=at(30)),
    ]
    fatal = fatal_reasons([p], events, None, {}, T0, pod_template_hash=NEW_HASH)
    logs = [f"line {i}" for i in range(40)]
    s = build_summary(
        fatal=fatal, pods=[p], events=events, logs=logs,
        commit_from="a" * 40, commit_to="dead" + "0" * 36, digest_from="sha256:" + "1" * 64, digest_to="sha256:" + "2" * 64,
    )
    assert s["reason"] == "CrashLoopBackOff: container license-api in pod license-api-7b6c5f5c5-x4k2p exited with code 1, 5 restarts"
    assert (s["code"], s["pod"], s["container"], s["exit_code"]) == ("CrashLoopBackOff", p["metadata"]["name"], "license-api", 1)
    assert [e["reason"] for e in s["events"]] == ["BackOff"]  # Warning events only
    assert s["events"][0]["count"] == 5 and s["events"][0]["object"] == f"Pod/{p['metadata']['name']}"
    assert s["logs"] == logs[-25:]
    assert s["changed"] == {"commit_from": "a" * 40, "commit_to": "dead" + "0" * 36,
                            "digest_from": "sha256:" + "1" * 64, "digest_to": "sha256:" + "2" * 64}
    assert json.loads(json.dumps(s)) == s


def test_it_mentions_other_doomed_pods():
    pods = [pod(n, waiting=("CrashLoopBackOff", ""), last_terminated=CRASH, restarts=2) for n in ("a", "b", "c")]
    s = build_summary(fatal=fatal_reasons(pods, [], None, {}, T0))
    assert s["reason"].endswith("(and 2 more pods)")


def test_it_summarises_a_progress_deadline_and_points_at_the_unready_pod():
    dep = deployment(updated=1, total=4, ready=3, available=3, progressing_reason="ProgressDeadlineExceeded")
    prog = progress(dep, [replicaset(2, NEW_HASH, 1)])
    p = pod("license-api-7b6c5f5c5-slow1", ready=False)
    ev = event("license-api-7b6c5f5c5-slow1", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503", count=40)
    s = build_summary(progress=prog, deployment="license-api", pods=[p], events=[ev], logs={"license-api-7b6c5f5c5-slow1/license-api": ["boom"]})
    assert s["code"] == "ProgressDeadlineExceeded"
    assert s["reason"].startswith("ProgressDeadlineExceeded: deployment license-api made no progress")
    assert (s["pod"], s["container"], s["exit_code"]) == ("license-api-7b6c5f5c5-slow1", "license-api", None)
    assert s["logs"] == ["boom"]
    assert s["events"][0]["reason"] == "Unhealthy"


def test_it_labels_log_lines_from_several_containers():
    s = build_summary(reason="x", logs={"p1/api": ["a1", "a2"], "p2/api": ["b1"]})
    assert s["logs"] == ["[p1/api] a1", "[p1/api] a2", "[p2/api] b1"]
    many = build_summary(reason="x", logs={"p/api": [f"l{i}" for i in range(30)], "q/api": []})
    assert len(many["logs"]) == 25 and many["logs"][-1] == "[p/api] l29"


def test_it_takes_a_reason_from_the_caller():
    s = build_summary(reason="BuildFailed: step build exited with code 1", code="BuildFailed")
    assert s["code"] == "BuildFailed" and s["reason"].startswith("BuildFailed:")
    assert s["events"] == [] and s["logs"] == []


def test_it_summarises_a_rollout_timeout():
    s = build_summary(timeout_seconds=300)
    assert s["code"] == "RolloutTimeout" and "300 s" in s["reason"]


def test_it_picks_the_log_target():
    crash = pod("a", waiting=("CrashLoopBackOff", ""), last_terminated=CRASH, restarts=1)
    assert log_target(fatal_reasons([crash], [], None, {}, T0), [crash]) == ("a", "license-api")
    assert log_target([], [pod("ok", ready=True), pod("b", ready=False)]) == ("b", "license-api")
    assert log_target([], []) is None


def test_it_keeps_only_the_last_warning_events():
    events = [event("p", "BackOff", f"m{i}", first=at(i)) for i in range(50)]
    out = warning_events(events, limit=10)
    assert [e["message"] for e in out] == [f"m{i}" for i in range(40, 50)]
