"""What goes over the wire: enum encodings, operation names and error bodies, as Google's."""

from __future__ import annotations

import requests

from tests.sandbox import cloudbuild_fixtures as fixtures
from tests.sandbox.cloudbuild_fixtures import CloudBuildSandbox, wait_done

cloudbuild_sandbox = fixtures.cloudbuild_sandbox
cloudbuild = fixtures.cloudbuild

INTS = {"$alt": "json;enum-encoding=int"}  # what the generated REST client sends


def test_it_takes_enums_as_names_or_integers_and_answers_in_the_encoding_asked(
    cloudbuild: CloudBuildSandbox,
) -> None:
    builds = f"{cloudbuild.url}/v1/projects/sandbox/builds"
    step = {"name": "ubuntu", "args": ["true"]}
    as_ints = requests.post(builds, params=INTS, timeout=5, json={
        "steps": [step], "options": {"machineType": 5, "logging": 2}, "tags": ["wire"]}).json()
    as_names = requests.post(builds, timeout=5, json={  # gcloud: names, alt=json
        "steps": [step], "options": {"machineType": "E2_HIGHCPU_8", "logging": "GCS_ONLY"}}).json()

    meta_type = "type.googleapis.com/google.devtools.cloudbuild.v1.BuildOperationMetadata"
    assert as_ints["metadata"]["@type"] == meta_type and as_ints.get("done") is None
    assert as_ints["metadata"]["build"]["status"] == 1
    assert as_ints["metadata"]["build"]["options"] == {"machineType": 5, "logging": 2}
    assert as_names["metadata"]["build"]["status"] == "QUEUED"
    assert as_names["metadata"]["build"]["options"] == {"machineType": "E2_HIGHCPU_8", "logging": "GCS_ONLY"}

    build_id = as_ints["metadata"]["build"]["id"]
    wait_done(cloudbuild.client(), build_id)
    got_ints = requests.get(f"{builds}/{build_id}", params=INTS, timeout=5).json()
    got_names = requests.get(f"{builds}/{build_id}", params={"alt": "json"}, timeout=5).json()
    assert got_ints["status"] == 3 and got_ints["steps"][0]["status"] == 3
    assert got_names["status"] == "SUCCESS"  # sent as integers, read back as names
    assert got_names["options"] == {"machineType": "E2_HIGHCPU_8", "logging": "GCS_ONLY"}
    assert got_names["timeout"] == "3600s" and got_names["createTime"].endswith("Z")
    assert got_names["name"] == f"projects/sandbox/locations/global/builds/{build_id}"

    # The operation, polled at its real name (no $alt: the LRO client sends none) and at
    # projects/{p}/operations/{id}: done, with the Build as its typed response.
    op = requests.get(f"{cloudbuild.url}/v1/{as_ints['name']}", timeout=5).json()
    assert op["done"] is True and op["response"]["status"] == "SUCCESS"
    assert op["response"]["@type"] == "type.googleapis.com/google.devtools.cloudbuild.v1.Build"
    again = requests.get(f"{cloudbuild.url}/v1/projects/sandbox/operations/{build_id}", timeout=5)
    assert again.json()["name"] == as_ints["name"]


def test_it_answers_errors_as_google_json_errors(cloudbuild: CloudBuildSandbox) -> None:
    builds = f"{cloudbuild.url}/v1/projects/sandbox/builds"
    unknown_field = requests.post(builds, json={"steps": [{"name": "x"}], "colour": "red"}, timeout=5)
    missing = requests.get(f"{builds}/nope", timeout=5)
    bad_filter = requests.get(builds, params={"filter": 'tags="x" AND ('}, timeout=5)
    no_route = requests.get(f"{cloudbuild.url}/v1/projects/sandbox/nothing", timeout=5)

    assert unknown_field.status_code == 400
    assert unknown_field.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "colour" in unknown_field.json()["error"]["message"]
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": 404, "message": 'Build "nope" not found', "status": "NOT_FOUND"}}
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert no_route.status_code == 404 and no_route.json()["error"]["status"] == "NOT_FOUND"
