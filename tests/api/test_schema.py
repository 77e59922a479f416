"""The OpenAPI schema, the docs page built from it, and schemathesis against a live server:
generated requests (bounded) never get a server error."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from dashboard.api.models import ApiToken
from tests.api.conftest import make_service, make_user

OPERATIONS = [
    ("/api/v1/releases/", "get"), ("/api/v1/releases/", "post"),
    ("/api/v1/releases/{id}/", "get"), ("/api/v1/releases/{id}/cancel/", "post"),
    ("/api/v1/releases/{id}/rollback/", "post"), ("/api/v1/services/", "get"),
    ("/api/v1/services/{name}/", "get"), ("/api/v1/services/{name}/pause/", "post"),
    ("/api/v1/services/{name}/resume/", "post"), ("/api/v1/services/{name}/lock/", "post"),
    ("/api/v1/services/{name}/unlock/", "post"), ("/api/v1/audit/", "get"),
    ("/api/v1/audit/export/", "get"),
]


def test_it_publishes_an_openapi_3_schema_with_bearer_auth(db):
    r = Client().get("/api/v1/schema/", headers={"Accept": "application/json"})
    assert r.status_code == 200
    schema = r.json() if r["Content-Type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(r.content)
    assert schema["openapi"].startswith("3.")
    for path, method in OPERATIONS:
        assert method in schema["paths"][path], (path, method)
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    params = {p["name"] for p in schema["paths"]["/api/v1/releases/"]["post"]["parameters"]}
    assert "Idempotency-Key" in params
    assert "/api/v1/licenses/" not in str(schema["paths"])  # only this API


def test_it_points_to_the_docs_from_the_api_root(db):
    r = Client().get("/api/v1/")
    assert r.status_code == 200
    assert r.json()["docs"] == "/api/v1/docs/" and r.json()["schema"] == "/api/v1/schema/"


def test_it_serves_a_docs_page_listing_every_operation(db):
    r = Client().get("/api/v1/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    for path, method in OPERATIONS:
        assert f'id="{method.upper()}-{path}"' in html
    assert "<script" not in html and "cdn" not in html.lower()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_it_never_answers_5xx_to_generated_requests(live_server: Any, fresh_sandbox: Any,
                                                    mode: str) -> None:
    make_service("license-api", kubeconfig=str(fresh_sandbox.kubeconfig))
    boss = make_user("boss", is_superuser=True, is_staff=True)
    _, raw = ApiToken.issue(name="fuzz", scopes=["admin"], user=boss, rate_limit=100000)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json")
    headers = {"Authorization": f"Bearer {raw}"}
    generation = GenerationMode.POSITIVE if mode == "positive" else GenerationMode.NEGATIVE
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(operation.label)

        @given(case=operation.as_strategy(generation_mode=generation))
        # Derandomised so CI is reproducible; set SCHEMA_FUZZ_RANDOM=1 to explore new inputs.
        @settings(max_examples=20, deadline=None, database=None,
                  derandomize=not os.environ.get("SCHEMA_FUZZ_RANDOM"),
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=live_server.url, headers=headers,
                                   checks=[not_a_server_error])

        fuzz()
    assert len(seen) == len(OPERATIONS)
