"""Build logs as GCS objects, tailed by byte offset with google-cloud-storage (as gcloud does)."""

from __future__ import annotations

import time

import pytest
import requests
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1 as cb

from tests.sandbox import cloudbuild_fixtures as fixtures
from tests.sandbox.cloudbuild_fixtures import BAD_SHA, GOOD_SHA, CloudBuildSandbox, wait_done

cloudbuild_sandbox = fixtures.cloudbuild_sandbox
cloudbuild = fixtures.cloudbuild

ONGOING = (cb.Build.Status.QUEUED, cb.Build.Status.WORKING)


def test_it_lets_google_cloud_storage_tail_a_running_build_log(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    bucket = cloudbuild.storage().bucket("sandbox_cloudbuild")
    with pytest.raises(exceptions.NotFound):
        bucket.blob("log-no-such-build.txt").download_as_bytes()
    build = client.run_build_trigger(project_id="sandbox", trigger_id="license-api",
                                     source=cb.RepoSource(commit_sha=GOOD_SHA)).metadata.build
    blob = bucket.blob(f"log-{build.id}.txt")

    cursor, chunks, nothing_new = 0, [], 0
    while True:  # gcloud's loop: poll the build, read past the cursor, one last read at the end
        finished = client.get_build(project_id="sandbox", id=build.id).status not in ONGOING
        try:
            data = blob.download_as_bytes(start=cursor, checksum=None)  # Range: bytes=N-
            chunks.append(data)
            cursor += len(data)
        except exceptions.NotFound:
            assert not chunks, "a log never disappears once written"
        except exceptions.RequestRangeNotSatisfiable:
            nothing_new += 1
        if finished:
            break
        time.sleep(0.05)

    text = b"".join(chunks).decode()
    assert len(chunks) >= 3, "the log grew while the build ran"
    assert text == blob.download_as_bytes().decode()  # full read, hashes checked by the client
    assert text.startswith(f'starting build "{build.id}"')
    for marker in ("FETCHSOURCE", "BUILD", 'Step #0 - "build": Step 1/', "Successfully tagged",
                   'Step #1 - "push-commit": ', "PUSH", "digest: sha256:"):
        assert marker in text
    assert text.rstrip().endswith("DONE")
    with pytest.raises(exceptions.RequestRangeNotSatisfiable):
        blob.download_as_bytes(start=cursor, checksum=None)
    blob.reload()
    assert blob.size == cursor and blob.content_type.startswith("text/plain")


def test_it_answers_ranges_the_way_gcs_does(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    build = client.run_build_trigger(project_id="sandbox", trigger_id="license-api",
                                     source=cb.RepoSource(commit_sha=BAD_SHA)).metadata.build
    wait_done(client, build.id)
    url = f"{cloudbuild.url}/download/storage/v1/b/sandbox_cloudbuild/o/log-{build.id}.txt?alt=media"
    full = requests.get(url, timeout=5)
    size = len(full.content)

    part = requests.get(url, headers={"Range": "bytes=10-"}, timeout=5)
    past = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=5)
    missing = requests.get(url.replace(build.id, "nope"), headers={"Range": "bytes=0-"}, timeout=5)

    assert full.status_code == 200 and "x-goog-hash" in full.headers
    assert part.status_code == 206 and part.content == full.content[10:]
    assert part.headers["Content-Range"] == f"bytes 10-{size - 1}/{size}"
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{size}"
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404
    text = full.text
    assert "The command '/bin/sh -c pip install" in text and "returned a non-zero code: 1" in text
    assert 'ERROR: build step 0 "gcr.io/cloud-builders/docker" failed' in text
    # The same bytes at the build's logUrl (for people), and at GCS's XML-API path (gcloud's).
    log_url = client.get_build(project_id="sandbox", id=build.id).log_url
    assert requests.get(log_url, timeout=5).text == text
    xml = requests.get(f"{cloudbuild.url}/sandbox_cloudbuild/log-{build.id}.txt",
                       headers={"Range": "bytes=5-"}, timeout=5)
    assert xml.status_code == 206 and xml.content == full.content[5:]
    listed = cloudbuild.storage().list_blobs("sandbox_cloudbuild", prefix=f"log-{build.id}")
    assert [b.name for b in listed] == [f"log-{build.id}.txt"]
