"""How build steps run: waitFor ordering and parallelism, failures, allowFailure."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1 as cb

from tests.sandbox import cloudbuild_fixtures as fixtures
from tests.sandbox.cloudbuild_fixtures import CloudBuildSandbox, wait_done

cloudbuild_sandbox = fixtures.cloudbuild_sandbox
cloudbuild = fixtures.cloudbuild

Status = cb.Build.Status


def step(id_: str, script: str, wait_for: list[str] | None = None, **kw: object) -> cb.BuildStep:
    return cb.BuildStep(id=id_, name="ubuntu", args=["bash", "-c", script], wait_for=wait_for or [], **kw)


def test_it_runs_steps_in_parallel_as_wait_for_says(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    build = cb.Build(steps=[
        step("a", "sleep 10"),
        step("b", "sleep 10", ["-"]),  # starts at once, beside a
        step("c", "echo joined", ["a", "b"]),
        step("d", "exit 3", allow_failure=True),  # after all earlier steps; may fail
    ])

    done = wait_done(client, client.create_build(project_id="sandbox", build=build).metadata.build.id)

    a, b, c, d = done.steps
    assert done.status == Status.SUCCESS
    assert b.timing.start_time < a.timing.end_time and a.timing.start_time < b.timing.end_time
    assert c.timing.start_time >= max(a.timing.end_time, b.timing.end_time)
    assert d.timing.start_time >= c.timing.end_time
    assert d.status == Status.FAILURE and d.exit_code == 3


def test_it_stops_the_build_at_the_first_failing_step(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    build = cb.Build(steps=[
        step("slow", "sleep 600", ["-"]),
        step("broken", "exit 3", ["-"]),
        step("never", "echo unreachable"),
    ])

    done = wait_done(client, client.create_build(project_id="sandbox", build=build).metadata.build.id)

    slow, broken, never = done.steps
    assert done.status == Status.FAILURE
    assert 'build step 1 "ubuntu" failed: step exited with non-zero status: 3' in done.status_detail
    assert broken.status == Status.FAILURE and broken.exit_code == 3
    assert slow.status == Status.CANCELLED and never.status == Status.QUEUED


def test_it_rejects_wait_for_an_unknown_step(cloudbuild: CloudBuildSandbox) -> None:
    with pytest.raises(exceptions.BadRequest, match="waitFor"):
        cloudbuild.client().create_build(project_id="sandbox", build=cb.Build(
            steps=[step("a", "true", ["nope"])]))
