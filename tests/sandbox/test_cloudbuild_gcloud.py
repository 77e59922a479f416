"""gcloud, pointed at the sandbox by api_endpoint_overrides/cloudbuild, with auth disabled.

gcloud talks to the regional form (`/v1/projects/sandbox/locations/global/builds`), sends enum
names and reads names back. (`gcloud builds log` is not covered: it reads the log from a
hard-coded https://storage.googleapis.com URL that no endpoint override redirects.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from google.cloud.devtools import cloudbuild_v1 as cb

from tests.sandbox import cloudbuild_fixtures as fixtures
from tests.sandbox.cloudbuild_fixtures import (
    GOOD_SHA,
    CloudBuildSandbox,
    sleep_build,
    unique,
    wait_done,
    wait_status,
)

cloudbuild_sandbox = fixtures.cloudbuild_sandbox
cloudbuild = fixtures.cloudbuild

GCLOUD = shutil.which("gcloud")
pytestmark = pytest.mark.skipif(GCLOUD is None, reason="gcloud is not installed on this machine")


def gcloud(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CLOUDSDK_CONFIG": str(config), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    result = subprocess.run([GCLOUD or "gcloud", *args], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert not check or result.returncode == 0, f"gcloud {' '.join(args)}: {result.stderr}"
    return result


@pytest.fixture
def gcloud_config(cloudbuild: CloudBuildSandbox, tmp_path: Path) -> Path:
    """What `gcloud config set` would write, written directly (each gcloud run costs seconds)."""
    (tmp_path / "configurations").mkdir()
    (tmp_path / "active_config").write_text("default")
    (tmp_path / "configurations" / "config_default").write_text(
        "[core]\nproject = sandbox\ndisable_usage_reporting = true\n"
        "[auth]\ndisable_credentials = true\n"
        "[component_manager]\ndisable_update_check = true\n"
        f"[api_endpoint_overrides]\ncloudbuild = {cloudbuild.url}/\n")
    return tmp_path


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(result.stdout)


def test_it_lists_describes_and_cancels_builds_with_gcloud(cloudbuild: CloudBuildSandbox,
                                                         gcloud_config: Path) -> None:
    client = cloudbuild.client()
    tag = unique("gc")
    done = client.run_build_trigger(project_id="sandbox", trigger_id="license-api",
                                    source=cb.RepoSource(commit_sha=GOOD_SHA)).metadata.build.id
    finished = client.create_build(project_id="sandbox", build=sleep_build(1, tags=[tag])).metadata.build.id
    running = client.create_build(project_id="sandbox", build=sleep_build(6000, tags=[tag])).metadata.build.id
    wait_done(client, done)
    wait_done(client, finished)
    wait_status(client, running, cb.Build.Status.WORKING)

    with ThreadPoolExecutor() as pool:  # each gcloud run costs seconds: read in parallel
        reads = [pool.submit(gcloud, gcloud_config, "builds", *args, "--format=json") for args in (
            ["list"], ["list", f"--filter=tags={tag}"], ["list", "--ongoing"], ["describe", done])]
        listed, by_tag, ongoing, described = (as_json(r.result()) for r in reads)
    cancel = gcloud(gcloud_config, "builds", "cancel", running)
    again = gcloud(gcloud_config, "builds", "cancel", running, check=False)

    assert {done, finished, running} <= {b["id"] for b in listed}
    assert [b["id"] for b in by_tag] == [running, finished]  # newest first
    assert running in {b["id"] for b in ongoing} and not {done, finished} & {b["id"] for b in ongoing}
    assert described["status"] == "SUCCESS" and described["source"]["repoSource"]["commitSha"] == GOOD_SHA
    assert described["results"]["images"][0]["digest"].startswith("sha256:")
    assert cancel.returncode == 0
    assert client.get_build(project_id="sandbox", id=running).status == cb.Build.Status.CANCELLED
    assert again.returncode != 0 and "FAILED_PRECONDITION" in again.stderr


def test_it_runs_a_build_gcloud_submits(cloudbuild: CloudBuildSandbox, gcloud_config: Path) -> None:
    submitted = as_json(gcloud(gcloud_config, "builds", "submit", "--no-source", "--async",
                               "--config", str(fixtures.REPO_ROOT / "deploy" / "cloudbuild.yaml"),
                               f"--substitutions=COMMIT_SHA={GOOD_SHA}", "--format=json"))

    build = wait_done(cloudbuild.client(), submitted["id"])

    assert submitted["status"] == "QUEUED"
    assert build.status == cb.Build.Status.SUCCESS
    assert build.results.images[0].name == f"gcr.io/sandbox/license-api:{GOOD_SHA}"
