"""The sandbox's Cloud Build API through the official google-cloud-build client (REST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1 as cb

from tests.sandbox import cloudbuild_fixtures as fixtures
from tests.sandbox.cloudbuild_fixtures import (
    BAD_SHA,
    FAST_POLLING,
    GOOD_SHA,
    CloudBuildSandbox,
    sleep_build,
    unique,
    wait_done,
    wait_status,
)

cloudbuild_sandbox = fixtures.cloudbuild_sandbox
cloudbuild = fixtures.cloudbuild

Status = cb.Build.Status


def test_it_runs_the_license_api_trigger_to_success_and_pushes_the_image(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    op = client.run_build_trigger(project_id="sandbox", trigger_id="license-api",
                                  source=cb.RepoSource(commit_sha=GOOD_SHA))
    queued = op.metadata.build
    assert op.operation.name.startswith("operations/build/sandbox/")
    assert queued.status == Status.QUEUED and queued.id
    assert queued.logs_bucket == "gs://sandbox_cloudbuild"
    assert queued.log_url == f"{cloudbuild.url}/v1/projects/sandbox/builds/{queued.id}/log"

    done = op.result(timeout=30, polling=FAST_POLLING)  # polls GET /v1/operations/build/sandbox/...

    assert done.status == Status.SUCCESS
    assert [s.status for s in done.steps] == [Status.SUCCESS] * 5
    assert all(s.timing.start_time <= s.timing.end_time for s in done.steps)
    assert done.steps[0].args[2] == f"gcr.io/sandbox/license-api:{GOOD_SHA}"  # $COMMIT_SHA applied
    assert done.substitutions["SHORT_SHA"] == GOOD_SHA[:7]
    assert done.source.repo_source.commit_sha == GOOD_SHA
    assert "license-api" in done.tags and done.build_trigger_id
    assert {"FETCHSOURCE", "BUILD", "PUSH"} <= set(done.timing.keys())
    images = {i.name: i.digest for i in done.results.images}
    assert set(images) == {f"gcr.io/sandbox/license-api:{GOOD_SHA}", "gcr.io/sandbox/license-api:latest",
                           f"us-docker.pkg.dev/sandbox/apps/license-api:{GOOD_SHA}",
                           "us-docker.pkg.dev/sandbox/apps/license-api:latest"}
    # One build pushed under both names: one digest.
    assert len(set(images.values())) == 1 and next(iter(images.values())).startswith("sha256:")
    assert len(done.results.build_step_images) == 5
    pushed = cloudbuild.image(images[f"gcr.io/sandbox/license-api:{GOOD_SHA}"])
    assert pushed is not None and pushed["repository"] == "gcr.io/sandbox/license-api"
    assert pushed["commit"] == GOOD_SHA  # the kubelet can now pull it

    # The same commit rebuilt (by trigger id this time) gives the same digest.
    trigger = client.get_build_trigger(project_id="sandbox", trigger_id="license-api")
    again = client.run_build_trigger(project_id="sandbox", trigger_id=trigger.id,
                                     source=cb.RepoSource(commit_sha=GOOD_SHA)).result(timeout=30, polling=FAST_POLLING)
    assert {i.digest for i in again.results.images} == set(images.values())
    assert [t.name for t in client.list_build_triggers(project_id="sandbox")] == ["license-api"]


def test_it_fails_a_bad_commit_at_the_docker_build_step_and_pushes_nothing(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    op = client.run_build_trigger(project_id="sandbox", trigger_id="license-api",
                                  source=cb.RepoSource(commit_sha=BAD_SHA))

    with pytest.raises(exceptions.Unknown, match="Build failed"):
        op.result(timeout=30, polling=FAST_POLLING)  # as on Google: a failed build's operation carries an error
    build = wait_done(client, op.metadata.build.id)

    assert build.status == Status.FAILURE
    assert build.failure_info.type_ == cb.Build.FailureInfo.FailureType.USER_BUILD_STEP
    assert "step exited with non-zero status: 1" in build.status_detail
    assert build.steps[0].status == Status.FAILURE and build.steps[0].exit_code == 1
    assert [s.status for s in build.steps[1:]] == [Status.QUEUED] * 4
    assert not build.results.images
    assert not [i for i in cloudbuild.images() if i["commit"] == BAD_SHA]

    retried = client.retry_build(project_id="sandbox", id=build.id).metadata.build
    assert retried.id != build.id and retried.source.repo_source.commit_sha == BAD_SHA
    assert wait_done(client, retried.id).status == Status.FAILURE


def test_it_builds_an_inline_config_with_substitutions(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    tag = unique("dep-inline")
    image = "gcr.io/$PROJECT_ID/tool:${_FLAVOUR}-$SHORT_SHA"
    build = cb.Build(
        source=cb.Source(storage_source=cb.StorageSource(bucket="sandbox_src", object_="src.tgz")),
        substitutions={"COMMIT_SHA": GOOD_SHA, "_FLAVOUR": "slim"},
        steps=[
            cb.BuildStep(name="gcr.io/cloud-builders/docker", args=["build", "-t", image, "."]),
            cb.BuildStep(name="gcr.io/cloud-builders/gcloud", args=["info", "$BUILD_ID"]),
        ],
        images=[image],
        tags=[tag, "flavour-${_FLAVOUR}"],
    )
    op = client.create_build(project_id="sandbox", build=build)
    done = op.result(timeout=30, polling=FAST_POLLING)

    want = f"gcr.io/sandbox/tool:slim-{GOOD_SHA[:7]}"
    assert done.status == Status.SUCCESS
    assert done.images == [want] and done.tags == [tag, "flavour-slim"]
    assert done.steps[1].args == ["info", done.id]
    assert done.results.images[0].name == want
    assert done.results.images[0].push_timing.end_time >= done.results.images[0].push_timing.start_time
    assert cloudbuild.image(done.results.images[0].digest)["commit"] == GOOD_SHA  # type: ignore[index]


def test_it_cancels_a_running_build_and_refuses_to_cancel_a_finished_one(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    build_id = client.create_build(project_id="sandbox", build=sleep_build(6000)).metadata.build.id
    wait_status(client, build_id, Status.WORKING)

    cancelled = client.cancel_build(project_id="sandbox", id=build_id)

    assert cancelled.status == Status.CANCELLED and cancelled.finish_time
    assert cancelled.steps[0].status == Status.CANCELLED
    assert client.get_build(project_id="sandbox", id=build_id).status == Status.CANCELLED
    with pytest.raises(exceptions.BadRequest) as raised:
        client.cancel_build(project_id="sandbox", id=build_id)
    assert raised.value.response.json()["error"]["status"] == "FAILED_PRECONDITION"  # type: ignore[union-attr]
    with pytest.raises(exceptions.NotFound):
        client.cancel_build(project_id="sandbox", id="no-such-build")

    op = client.create_build(project_id="sandbox", build=sleep_build(6000))
    op.cancel()  # google.longrunning CancelOperation on the operation's own name
    assert wait_done(client, op.metadata.build.id).status == Status.CANCELLED


def test_it_times_a_build_out_after_its_timeout_or_a_steps(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    whole = client.create_build(project_id="sandbox", build=sleep_build(600, timeout=20)).metadata.build.id
    slow_step = sleep_build(600)
    slow_step.steps[0].timeout = timedelta(seconds=10)
    step = client.create_build(project_id="sandbox", build=slow_step).metadata.build.id

    timed_out, step_timed_out = wait_done(client, whole), wait_done(client, step)

    assert timed_out.status == Status.TIMEOUT and timed_out.steps[0].status == Status.TIMEOUT
    assert timed_out.timeout == timedelta(seconds=20)
    assert step_timed_out.status == Status.TIMEOUT and step_timed_out.steps[0].status == Status.TIMEOUT


def test_it_builds_the_commit_a_git_source_names(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    build = cb.Build(
        source=cb.Source(git_source=cb.GitSource(url="https://github.com/acme/license-api.git",
                                                 revision=BAD_SHA)),
        steps=[cb.BuildStep(name="gcr.io/cloud-builders/docker",
                            args=["build", "-t", "gcr.io/$PROJECT_ID/x:$COMMIT_SHA", "."])],
    )
    done = wait_done(client, client.create_build(project_id="sandbox", build=build).metadata.build.id)

    assert done.status == Status.FAILURE  # a bad... commit, named by the git revision
    assert done.steps[0].args[2] == f"gcr.io/sandbox/x:{BAD_SHA}"


def test_it_lists_builds_by_tag_status_trigger_and_create_time(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    a, b, team = unique("dep-a"), unique("dep-b"), unique("team")
    before = datetime.now(UTC)
    ok = client.create_build(project_id="sandbox", build=sleep_build(1, tags=[a, team])).metadata.build.id
    running = client.create_build(project_id="sandbox", build=sleep_build(6000, tags=[b, team])).metadata.build.id
    trig = client.run_build_trigger(project_id="sandbox", trigger_id="license-api",
                                    source=cb.RepoSource(commit_sha=BAD_SHA)).metadata.build
    wait_done(client, ok)
    wait_done(client, trig.id)

    def ids(filter_: str) -> set[str]:
        return {b.id for b in client.list_builds(project_id="sandbox", filter=filter_)}

    assert ids(f'tags="{a}"') == {ok}
    assert ids(f'tags="{team}"') == {ok, running}
    assert ids(f'status="SUCCESS" AND tags="{team}"') == {ok}
    assert ids(f'(status="WORKING" OR status="QUEUED") AND tags="{team}"') == {running}  # --ongoing
    by_trigger = ids(f'trigger_id="{trig.build_trigger_id}"')
    assert trig.id in by_trigger and not by_trigger & {ok, running}
    assert ids(f'create_time>"{before.isoformat().replace("+00:00", "Z")}" AND tags="{team}"') == {ok, running}
    assert ids(f'create_time<"2020-01-01T00:00:00Z" AND tags="{team}"') == set()
    assert ids(f'(tags="{a}" OR tags="{b}") AND NOT status="SUCCESS"') == {running}
    assert ids(f'tags="{team}" status!="SUCCESS"') == {running}
    # The dashboard's lookup of a trigger build: trigger, commit substitution, time window.
    since = before.isoformat().replace("+00:00", "Z")
    assert trig.id in ids(f'trigger_id="{trig.build_trigger_id}" AND '
                          f'substitutions.COMMIT_SHA="{BAD_SHA}" AND create_time>="{since}"')
    with pytest.raises(exceptions.BadRequest):
        ids('nonsense_field="x"')

    # Newest first, page by page: the pager follows nextPageToken itself.
    request = cb.ListBuildsRequest(project_id="sandbox", page_size=1, filter=f'tags="{team}"')
    pages = list(client.list_builds(request=request).pages)
    assert [[b.id for b in p.builds] for p in pages] == [[running], [ok]]
    client.cancel_build(project_id="sandbox", id=running)


def test_it_serves_regional_builds_at_their_own_paths(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    parent = "projects/sandbox/locations/europe-west1"
    tag = unique("regional")
    op = client.create_build(parent=parent, build=sleep_build(1, tags=[tag]))
    build_id = op.metadata.build.id
    assert op.operation.name == f"{parent}/operations/{build_id}"

    done = op.result(timeout=30, polling=FAST_POLLING)  # polls GET /v1/projects/sandbox/locations/europe-west1/operations/ID

    assert done.status == Status.SUCCESS
    assert done.name == f"{parent}/builds/{build_id}"
    assert client.get_build(name=f"{parent}/builds/{build_id}").id == build_id
    with pytest.raises(exceptions.NotFound):  # a regional build is not a global one
        client.get_build(project_id="sandbox", id=build_id)
    trig = client.run_build_trigger(request=cb.RunBuildTriggerRequest(
        name=f"{parent}/triggers/license-api", source=cb.RepoSource(commit_sha=GOOD_SHA)))
    assert trig.operation.name.startswith(f"{parent}/operations/")
    assert wait_done(client, "", name=trig.metadata.build.name).status == Status.SUCCESS
    in_region = client.list_builds(request=cb.ListBuildsRequest(parent=parent, filter=f'tags="{tag}"'))
    assert [b.id for b in in_region] == [build_id]


def test_it_answers_google_errors_for_invalid_requests(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    with pytest.raises(exceptions.NotFound):
        client.get_build(project_id="sandbox", id="missing")
    with pytest.raises(exceptions.NotFound):
        client.run_build_trigger(project_id="sandbox", trigger_id="nope", source=cb.RepoSource(commit_sha="1"))
    with pytest.raises(exceptions.BadRequest, match="at least one step"):
        client.create_build(project_id="sandbox", build=cb.Build())
    with pytest.raises(exceptions.BadRequest, match="not matched in the template"):
        client.create_build(project_id="sandbox", build=cb.Build(
            steps=[cb.BuildStep(name="ubuntu")], substitutions={"_UNUSED": "x"}))
    with pytest.raises(exceptions.BadRequest, match="tag"):
        client.create_build(project_id="sandbox", build=sleep_build(1, tags=["bad tag!"]))
    with pytest.raises(exceptions.Forbidden):
        client.get_build(project_id="someone-else", id="x")
