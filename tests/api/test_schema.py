"""The OpenAPI schema and the docs page built from it; the errors it documents are what
/api/v1/ answers, even where Django rather than DRF answers (unknown routes, 500s).
tests/api/test_contract.py runs schemathesis against a live server."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from dashboard.api import views

OPERATIONS = [
    ("/api/v1/releases/", "get"), ("/api/v1/releases/", "post"),
    ("/api/v1/releases/{id}/", "get"), ("/api/v1/releases/{id}/cancel/", "post"),
    ("/api/v1/releases/{id}/rollback/", "post"), ("/api/v1/releases/{id}/continue/", "post"),
    ("/api/v1/services/", "get"),
    ("/api/v1/services/{name}/", "get"), ("/api/v1/services/{name}/pause/", "post"),
    ("/api/v1/services/{name}/resume/", "post"), ("/api/v1/services/{name}/lock/", "post"),
    ("/api/v1/services/{name}/unlock/", "post"), ("/api/v1/audit/", "get"),
    ("/api/v1/audit/export/", "get"),
    ("/api/v1/services/{name}/revisions/", "get"),
    ("/api/v1/services/{name}/revisions/", "post"),
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


def _schema() -> dict[str, Any]:
    r = Client().get("/api/v1/schema/", {"format": "json"})
    assert r.status_code == 200
    return r.json()


def test_it_documents_every_error_as_one_problem_details_component(db):
    schema = _schema()
    problem = schema["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code"}
    assert {"errors", "owner", "reason", "expires_at", "retry_after"} <= set(problem["properties"])
    for path, method in OPERATIONS:
        responses = schema["paths"][path][method]["responses"]
        errors = {code: r for code, r in responses.items() if int(code) >= 400}
        assert {"401", "403", "406", "429", "503"} <= set(errors), (path, method)
        for code, response in errors.items():
            assert list(response["content"]) == ["application/problem+json"], (path, code)
            ref = response["content"]["application/problem+json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Problem" and response["description"]
        if method == "post":
            assert {"400", "409", "415", "422"} <= set(errors), path
        if "{" in path:
            assert "404" in errors, path


def test_it_documents_the_audit_export_as_json_or_csv_with_a_file_name(db):
    ok = _schema()["paths"]["/api/v1/audit/export/"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {"application/json", "text/csv"}
    assert "Content-Disposition" in ok["headers"]


def test_it_publishes_the_patterns_the_server_checks(db):
    schemas = _schema()["components"]["schemas"]
    create = schemas["ReleaseCreate"]["properties"]
    assert create["service"]["pattern"] == "^[-a-zA-Z0-9_]+$"
    assert create["commit"]["pattern"] == "^(?:[0-9a-fA-F]{7,40})?$"
    assert "anyOf" in schemas["ReleaseCreate"]  # a commit or a ref
    assert schemas["Lock"]["properties"]["expires_at"]["format"] == "date-time"
    links = _schema()["paths"]["/api/v1/releases/"]["post"]["responses"]["202"]["links"]
    assert links["GetRelease"]["operationId"] == "releases_retrieve"


@pytest.mark.parametrize("path", ["/api/v1/releases/null,null/", "/api/v1/nothing-here",
                                  "/api/v1/releases/1/explode/"])
def test_it_answers_unknown_api_paths_with_problem_details(db, path):
    r = Client().get(path)
    assert r.status_code == 404 and r["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 404 and r.json()["code"] == "not_found"


def test_it_answers_405_with_problem_details_and_allow(db, api_for):
    api = api_for("read")
    r = api.client.delete("/api/v1/services/", headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 405 and r["Content-Type"] == "application/problem+json"
    assert "GET" in r["Allow"] and r.json()["status"] == 405


def test_it_answers_a_bug_with_500_problem_details(db, api_for, monkeypatch):
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "service_summaries", explode)
    api = api_for("read")
    client = Client(raise_request_exception=False)
    r = client.get("/api/v1/services/", headers={"Authorization": f"Bearer {api.token}"})
    assert r.status_code == 500 and r["Content-Type"] == "application/problem+json"
    assert r.json()["status"] == 500 and "a bug" not in r.content.decode()


def test_it_leaves_errors_outside_the_api_alone(db):
    assert Client().get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_it_exports_an_empty_trail_as_a_csv_header_row(db, api_for):
    r = api_for("read").get("/api/v1/audit/export/", {"format": "csv", "actor": "nobody"})
    assert r.status_code == 200 and r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"] == 'attachment; filename="audit.csv"'
    assert next(csv.reader(io.StringIO(r.content.decode())))[:3] == ["id", "at", "actor"]
    js = api_for("read").get("/api/v1/audit/export/", {"format": "json", "actor": "nobody"})
    assert js["Content-Type"] == "application/json" and js.json() == []
    assert api_for("read").get("/api/v1/audit/export/", {"format": "xml"}).status_code == 400
