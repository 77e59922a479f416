"""CloudBuildAdapter against the sandbox's Cloud Build REST API and GCS-style logs."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from dashboard.adapters.cloudbuild import CloudBuildAdapter, release_tag, wait_for
from dashboard.adapters.errors import AdapterError
from dashboard.adapters.types import BuildSpec

from .conftest import REPO, ROOT, commit

pytestmark = pytest.mark.timeout(120)


def trigger_spec() -> BuildSpec:
    return BuildSpec(project="sandbox", trigger_id="license-api", image_repository=REPO,
                     not_before=datetime.now(UTC))


def inline_spec() -> BuildSpec:
    return BuildSpec(project="sandbox", config_path="deploy/cloudbuild.yaml",
                     git_repo="license-api", image_repository=REPO)


def tag() -> str:
    return release_tag(uuid.uuid4().hex[:12])


def finish(cb: CloudBuildAdapter, info, timeout: float = 60):
    return wait_for(lambda: cb.get_build("sandbox", info.id), timeout=timeout, interval=0.2)


def test_it_builds_a_commit_by_trigger_to_success_with_a_digest(cloudbuild):
    sha = commit()
    info = cloudbuild.start_build(trigger_spec(), sha, tag())
    assert info.status in ("QUEUED", "WORKING") and info.commit == sha
    done = finish(cloudbuild, info)
    assert done.status == "SUCCESS" and done.succeeded and done.done
    digest = done.digest_for(REPO)
    assert digest and digest.startswith("sha256:")
    assert [s.status for s in done.steps] == ["SUCCESS"] * len(done.steps)
    assert all(s.started and s.finished and s.seconds is not None for s in done.steps)
    assert done.finish_time and done.create_time
    # Reuse: a later release of the same commit finds the digest without building.
    assert cloudbuild.find_successful_digest("sandbox", sha, REPO) == digest
    assert cloudbuild.find_successful_digest("sandbox", commit(), REPO) is None


def test_it_reports_a_bad_commit_as_failure_at_its_docker_build_step(cloudbuild):
    done = finish(cloudbuild, cloudbuild.start_build(trigger_spec(), commit("bad"), tag()))
    assert done.status == "FAILURE" and not done.succeeded
    assert done.failed_step is not None and done.failed_step.id == "build"
    assert done.failure_detail
    assert done.digest_for(REPO) is None


def test_it_builds_inline_from_cloudbuild_yaml_with_the_release_tag(cloudbuild):
    sha, t = commit(), tag()
    info = cloudbuild.start_build(inline_spec(), sha, t)
    assert t in info.tags
    assert cloudbuild.find_by_tag("sandbox", t).id == info.id
    done = finish(cloudbuild, info)
    assert done.status == "SUCCESS"
    assert (f"{REPO}:{sha}", done.digest_for(REPO)) in done.images


def test_it_never_starts_a_second_build_for_a_tag(cloudbuild, sandbox):
    sha, t = commit(), tag()
    first = cloudbuild.start_build(inline_spec(), sha, t)
    # A worker that crashed after the create retries with a new adapter: it adopts.
    again = CloudBuildAdapter(sandbox.cloudbuild_url, repo_root=ROOT).start_build(inline_spec(), sha, t)
    assert again.id == first.id
    assert [b.id for b in cloudbuild.list_builds("sandbox", f'tags="{t}"')] == [first.id]


def test_it_adopts_the_build_when_the_create_call_times_out(sandbox, chaos):
    sha, t = commit(), tag()
    # The server creates the build, then answers 1.5 s late; the client gives up at 0.5 s.
    slow = CloudBuildAdapter(sandbox.cloudbuild_url, timeout=5, write_timeout=0.5, repo_root=ROOT)
    chaos("cloudbuild", latency_ms=1500)
    info = slow.start_build(inline_spec(), sha, t)
    chaos("cloudbuild", latency_ms=0)
    builds = slow.list_builds("sandbox", f'tags="{t}"')
    assert [b.id for b in builds] == [info.id]
    assert slow.start_build(inline_spec(), sha, t).id == info.id


def test_it_adopts_a_trigger_build_by_commit_when_the_run_call_times_out(sandbox, chaos):
    sha = commit()
    spec = trigger_spec()
    slow = CloudBuildAdapter(sandbox.cloudbuild_url, timeout=5, write_timeout=0.5, repo_root=ROOT)
    slow.trigger_uid("sandbox", "license-api")  # resolved before the chaos starts
    chaos("cloudbuild", latency_ms=1500)
    info = slow.start_build(spec, sha, tag())
    chaos("cloudbuild", latency_ms=0)
    assert info.commit == sha
    same = slow.list_builds("sandbox", f'substitutions.COMMIT_SHA="{sha}"')
    assert [b.id for b in same] == [info.id]
    assert slow.start_build(spec, sha, tag()).id == info.id


def test_it_creates_nothing_when_it_cannot_look_first(sandbox, chaos):
    sha, t = commit(), tag()
    cb = CloudBuildAdapter(sandbox.cloudbuild_url, timeout=2, read_deadline=1, repo_root=ROOT)
    chaos("cloudbuild", error_rate=1.0, error_codes=[503])
    with pytest.raises(AdapterError) as err:
        cb.start_build(inline_spec(), sha, t)
    assert err.value.retryable
    chaos("cloudbuild", error_rate=0)
    assert cb.find_by_tag("sandbox", t) is None
    assert cb.start_build(inline_spec(), sha, t).id == cb.find_by_tag("sandbox", t).id


def test_it_tails_the_log_by_byte_offset(cloudbuild):
    info = cloudbuild.start_build(trigger_spec(), commit(), tag())
    assert info.log_bucket and info.log_object == f"log-{info.id}.txt"
    chunks: list[str] = []
    offset = 0
    while True:
        text, new_offset = cloudbuild.read_log(info, offset)
        assert new_offset == offset + len(text.encode())
        if text:
            chunks.append(text)
        offset = new_offset
        info = cloudbuild.get_build("sandbox", info.id)
        if info.done:
            break
        time.sleep(0.1)
    text, offset = cloudbuild.read_log(info, offset)  # the one final read, as gcloud does
    chunks.append(text)
    log = "".join(chunks)
    assert len(chunks) > 2  # it arrived in pieces
    assert log.startswith(f'starting build "{info.id}"') and "DONE" in log
    assert cloudbuild.read_log(info, offset) == ("", offset)  # 416: nothing new
    assert cloudbuild.read_log(replace(info, log_object="log-not-yet.txt"), 0) == ("", 0)  # 404
    middle, end = cloudbuild.read_log(info, 10)
    assert middle == log.encode()[10:].decode() and end == offset


def test_it_cancels_a_running_build(cloudbuild):
    info = cloudbuild.start_build(trigger_spec(), commit(), tag())
    cancelled = cloudbuild.cancel("sandbox", info.id)
    assert cancelled.status == "CANCELLED"
    # Cancelling again (a retried task) answers with the finished build, not an error.
    assert cloudbuild.cancel("sandbox", info.id).status == "CANCELLED"


def test_it_maps_errors_to_retryable_or_not(cloudbuild, sandbox, chaos):
    with pytest.raises(AdapterError) as missing:
        cloudbuild.get_build("sandbox", "no-such-build")
    assert not missing.value.retryable and missing.value.status == 404
    with pytest.raises(AdapterError) as bad_config:
        cloudbuild.start_build(BuildSpec(project="sandbox", config_path="deploy/nope.yaml"), commit(), tag())
    assert not bad_config.value.retryable
    quick = CloudBuildAdapter(sandbox.cloudbuild_url, timeout=2, read_deadline=0.5, repo_root=ROOT)
    chaos("cloudbuild", error_rate=1.0, error_codes=[503])
    with pytest.raises(AdapterError) as unavailable:
        quick.get_build("sandbox", "whatever")
    assert unavailable.value.retryable


def test_it_survives_flaky_cloud_build_with_exactly_one_build(sandbox, chaos):
    """503s (nothing happened) and 504s (it happened, the answer was lost) on 30% of calls:
    retrying start_build as a task would, then polling, gives one build that succeeds."""
    sha, t = commit(), tag()
    cb = CloudBuildAdapter(sandbox.cloudbuild_url, timeout=5, read_deadline=30, repo_root=ROOT)
    cb.adopt_pauses = (0.0, 0.1, 0.2)
    chaos("cloudbuild", error_rate=0.3, error_codes=[503, 504])
    info = None
    for _ in range(20):
        try:
            info = cb.start_build(inline_spec(), sha, t)
            break
        except AdapterError as exc:
            assert exc.retryable
    assert info is not None
    done = wait_for(lambda: cb.get_build("sandbox", info.id), timeout=60, interval=0.2)
    chaos("cloudbuild", error_rate=0)
    assert done.status == "SUCCESS"
    assert [b.id for b in cb.list_builds("sandbox", f'tags="{t}"')] == [info.id]
