"""The published schema of /api/v1/ is the truth: schemathesis, with every check (server
errors, status codes, content types, response schemas and headers, negative data rejected,
positive data accepted, stateful links), against a live ASGI server, once with a token of
each scope. A new seed each run (printed); any finding fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard import states
from dashboard.api.models import SCOPES, ApiToken
from dashboard.models import Cluster, Release, Service
from tests import contract
from tests.api.conftest import make_user
from tests.plugins.worker import worker_env

# In make test (every test); slow keeps them out of make test-embedded's short second pass.
pytestmark = [pytest.mark.contract, pytest.mark.slow]

# Examples per operation and phase, and phases, per token. The admin token reaches every
# operation's logic: every phase, including coverage (boundary values of every parameter,
# hundreds of requests, much the same whatever the token). The narrower scopes mostly meet 403
# on what they may not do, which fewer examples show. About a minute in all on 2 cores.
BUDGET = {"admin": 15, "read": 8, "deploy": 5, "rollback": 5, "lock": 5, "force": 5}
PHASES = {"admin": "examples,coverage,fuzzing,stateful"}
NARROW_PHASES = "examples,fuzzing,stateful"


@pytest.fixture
def server(transactional_db: None, sandbox: Any, tmp_path: Path) -> Iterator[str]:
    sandbox.reset()
    cluster = Cluster.objects.create(name="sandbox", kubeconfig_path=str(sandbox.kubeconfig),
                                     context="sandbox")
    service = Service.objects.create(
        name="license-api", cluster=cluster, namespace="default", deployment="license-api",
        container="license-api", image_repository="gcr.io/sandbox/license-api",
        gcp_project="sandbox", build_trigger_id="license-api", health_service="license-api")
    for commit in ("c0ffee1" + "0" * 33, "c0ffee2" + "0" * 33):  # something to roll back to
        Release.objects.create(service=service, commit_sha=commit, state=states.SUCCEEDED,
                               via="api", image=f"{service.image_repository}:{commit[:7]}")
    proc, url = contract.start_asgi_server(tmp_path, worker_env())
    try:
        yield url
    finally:
        proc.stop()


def test_it_answers_as_its_schema_says_to_a_token_of_each_scope(server: str,
                                                                 tmp_path: Path) -> None:
    # One server for all six runs (each would otherwise pay for a start and a database flush).
    seed = contract.new_seed()
    reports = []
    for scope in SCOPES:
        boss = make_user(f"contract-{scope}", is_superuser=True, is_staff=True)
        _, raw = ApiToken.issue(name=f"contract-{scope}", scopes=[scope], user=boss,
                                rate_limit=1_000_000)
        passed, report = contract.run(
            f"{server}/api/v1/schema/", tmp_path, headers={"Authorization": f"Bearer {raw}"},
            max_examples=BUDGET[scope], seed=seed, label=f"api/v1 {scope} token",
            phases=PHASES.get(scope, NARROW_PHASES))
        if not passed:
            reports.append(report)
    assert not reports, "\n\n".join(reports)
