"""Pure helpers of the adapters (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.cloud.devtools import cloudbuild_v1 as cb

from dashboard.adapters.buildinfo import decode_prefix, release_tag, to_info
from dashboard.adapters.errors import AdapterError, retryable_status
from dashboard.adapters.kube import event_time, selector_string, template_without_hash
from dashboard.adapters.types import BuildInfo, image_ref


def test_it_keeps_a_split_utf8_character_for_the_next_read():
    data = "done ✓".encode()
    text, used = decode_prefix(data[:-1])
    assert text == "done " and used == len(data) - 3
    assert decode_prefix(data) == ("done ✓", len(data))


def test_it_makes_valid_release_tags():
    assert release_tag(42) == "release-42"
    with pytest.raises(ValueError):
        release_tag("a b")


def test_it_reads_a_build_with_a_prefixed_log_bucket():
    build = cb.Build(
        id="b1", project_id="p", status=cb.Build.Status.FAILURE, logs_bucket="gs://my-logs/ci/builds",
        substitutions={"COMMIT_SHA": "abc"}, tags=["release-1"],
        failure_info=cb.Build.FailureInfo(detail="step build exited with 1"),
        steps=[cb.BuildStep(id="build", name="docker", status=cb.Build.Status.FAILURE, exit_code=1,
                            timing=cb.TimeSpan(start_time=datetime(2026, 1, 1, tzinfo=UTC),
                                               end_time=datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)))],
        results=cb.Results(images=[cb.BuiltImage(name="gcr.io/p/api:abc", digest="sha256:" + "1" * 64)]),
    )
    info = to_info(build)
    assert (info.log_bucket, info.log_object) == ("my-logs", "ci/builds/log-b1.txt")
    assert info.status == "FAILURE" and info.done and not info.succeeded
    assert info.failed_step.id == "build" and info.failed_step.exit_code == 1 and info.failed_step.seconds == 5
    assert info.failure_detail == "step build exited with 1" and info.commit == "abc"
    assert info.to_dict()["steps"][0]["started"] == "2026-01-01T00:00:00+00:00"


def test_it_finds_the_digest_of_a_repository_whatever_the_tag():
    info = BuildInfo(id="x", project="p", status="SUCCESS",
                     images=(("gcr.io/p/other:1", "sha256:aa"), ("gcr.io/p/api:abc", "sha256:bb")))
    assert info.digest_for("gcr.io/p/api") == "sha256:bb"
    assert info.digest_for("gcr.io/p/ap") is None
    assert image_ref("gcr.io/p/api", "sha256:bb") == "gcr.io/p/api@sha256:bb"


def test_it_renders_label_selectors_like_kubectl():
    sel = {"matchLabels": {"app": "api", "tier": "web"},
           "matchExpressions": [{"key": "env", "operator": "In", "values": ["a", "b"]},
                                {"key": "canary", "operator": "DoesNotExist"}]}
    assert selector_string(sel) == "app=api,tier=web,env in (a,b),!canary"
    assert selector_string({"app": "api"}) == "app=api"
    assert selector_string("app=api") == "app=api"


def test_it_ignores_the_pod_template_hash_when_comparing_templates():
    tpl = {"metadata": {"labels": {"app": "api", "pod-template-hash": "abc"}}, "spec": {}}
    assert template_without_hash(tpl) == {"metadata": {"labels": {"app": "api"}}, "spec": {}}
    assert tpl["metadata"]["labels"]["pod-template-hash"] == "abc"  # not mutated


def test_it_reads_event_times_of_both_event_apis():
    assert event_time({"lastTimestamp": "2026-11-27T04:00:00Z"}) == datetime(2026, 11, 27, 4, tzinfo=UTC)
    assert event_time({"eventTime": "2026-11-27T04:00:00.123456Z"}).microsecond == 123456
    assert event_time({}) is None


def test_it_says_which_statuses_are_worth_retrying():
    assert [s for s in (0, 400, 403, 404, 408, 409, 422, 429, 500, 503, 504) if retryable_status(s)] == [0, 408, 429, 500, 503, 504]
    err = AdapterError("boom", retryable=True, status=503, api="kube")
    assert str(err) == "boom" and "retryable=True" in repr(err)
