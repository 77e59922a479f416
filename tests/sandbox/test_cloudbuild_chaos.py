"""Chaos on the Cloud Build API: what the dashboard's retry and dedupe-by-tag paths face.

503 is answered before anything happens; 504 and added latency come after the request was
carried out, so a create the client saw fail may still have started a build.
"""

from __future__ import annotations

import pytest
import requests
from google.api_core import exceptions
from google.cloud.devtools import cloudbuild_v1 as cb

from tests.sandbox import cloudbuild_fixtures as fixtures
from tests.sandbox.cloudbuild_fixtures import CloudBuildSandbox, sleep_build, unique, wait_done

cloudbuild_sandbox = fixtures.cloudbuild_sandbox
cloudbuild = fixtures.cloudbuild


def tagged(client: cb.CloudBuildClient, tag: str) -> list[str]:
    return [b.id for b in client.list_builds(project_id="sandbox", filter=f'tags="{tag}"')]


def test_it_loses_the_answer_not_the_build_on_504_and_latency(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    lost, slow = unique("dep-504"), unique("dep-slow")
    cloudbuild.set_chaos(error_rate=1.0, codes=(504,))
    with pytest.raises(exceptions.GatewayTimeout):  # not retried by the client by default
        client.create_build(project_id="sandbox", build=sleep_build(1, tags=[lost]))
    cloudbuild.set_chaos(latency_ms=1500)
    with pytest.raises(requests.exceptions.ReadTimeout):  # raw, as the REST transport raises it
        client.create_build(project_id="sandbox", build=sleep_build(1, tags=[slow]), timeout=0.5)
    cloudbuild.set_chaos()

    found_504, found_slow = tagged(client, lost), tagged(client, slow)

    assert len(found_504) == 1 and len(found_slow) == 1  # retry by looking up the tag first
    assert wait_done(client, found_504[0]).status == cb.Build.Status.SUCCESS


def test_it_does_nothing_on_503_and_the_client_retries_reads(cloudbuild: CloudBuildSandbox) -> None:
    client = cloudbuild.client()
    tag = unique("dep-503")
    cloudbuild.set_chaos(error_rate=1.0, codes=(503,))
    with pytest.raises(exceptions.ServiceUnavailable):
        client.create_build(project_id="sandbox", build=sleep_build(1, tags=[tag]))
    cloudbuild.set_chaos()
    assert tagged(client, tag) == []
    build_id = client.create_build(project_id="sandbox", build=sleep_build(1, tags=[tag])).metadata.build.id

    cloudbuild.set_chaos(error_rate=0.5, codes=(503,))
    before = cloudbuild.request_count()
    reads = [client.get_build(project_id="sandbox", id=build_id).id for _ in range(20)]
    cloudbuild.set_chaos()

    assert reads == [build_id] * 20  # get_build's default retry covers ServiceUnavailable
    assert cloudbuild.request_count() - before > 20  # some answers were 503s, retried
