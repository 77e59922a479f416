"""/api/v1/audit/: list with filters and cursor pages, export as JSON and CSV."""

from __future__ import annotations

import csv
import io

import pytest

from dashboard import services
from tests.api.conftest import SHA, make_user

pytestmark = pytest.mark.django_db
URL = "/api/v1/audit/"


@pytest.fixture
def trail(service, other_service, deployer):
    services.lock_service(service=service, actor=deployer, via="api", reason="one")
    services.unlock_service(service=service, actor=deployer, via="api")
    services.lock_service(service=other_service, actor=deployer, via="slack", reason="two")
    services.request_release(service=other_service, commit=SHA, actor=deployer, via="api",
                             force_reason="hotfix")


def test_it_lists_the_trail_with_filters(trail, api_for):
    api = api_for("read")
    rows = api.get(URL).json()["results"]
    assert len(rows) >= 4 and rows[0]["id"] > rows[-1]["id"]
    assert all(r["hash"] and r["prev_hash"] for r in rows)
    assert {r["action"] for r in api.get(URL, {"service": "license-api"}).json()["results"]} == {
        "lock", "unlock"}
    assert [r["reason"] for r in api.get(URL, {"via": "slack"}).json()["results"]] == ["two"]
    assert api.get(URL, {"action": "unlock"}).json()["results"][0]["actor"] == "deployer"
    assert api.get(URL, {"actor": "nobody"}).json()["results"] == []
    assert api.get(URL, {"release": "x"}).status_code == 400
    assert api.get(URL, {"since": "soon"}).status_code == 400
    page = api.get(URL, {"limit": 1}).json()
    assert len(page["results"]) == 1 and page["next"]


def test_it_shows_a_limited_token_only_its_services(trail, api_for):
    rows = api_for("read", services=["license-api"]).get(URL).json()["results"]
    assert rows and {r["service"] for r in rows} == {"license-api"}


def test_it_exports_json_and_csv(trail, api_for):
    api = api_for("read")
    js = api.get(f"{URL}export/")
    assert js.status_code == 200 and js["Content-Type"].startswith("application/json")
    rows = js.json()
    assert rows[0]["id"] < rows[-1]["id"]  # oldest first
    r = api.get(f"{URL}export/", {"format": "csv", "service": "license-api"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert 'filename="audit.csv"' in r["Content-Disposition"]
    parsed = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert [p["action"] for p in parsed] == ["lock", "unlock"]
    bad = api.get(f"{URL}export/", {"format": "csv", "since": "nope"})
    assert bad.status_code == 400 and bad["Content-Type"] == "application/problem+json"


def test_it_needs_a_token_with_read(trail, db, token_for):
    from tests.api.conftest import Api

    assert Api(None).get(URL).status_code == 401
    nobody = make_user("nobody")
    assert Api(token_for("read", user=nobody)).get(URL).json()["results"] == []
    assert Api(token_for("deploy")).get(URL).status_code == 200  # write scopes imply read


def test_it_accepts_any_rfc3339_offset_in_since(trail, api_for):
    # RFC 3339 allows offsets up to 23:59; PostgreSQL only up to 15:59. Found by schemathesis.
    api = api_for("read")
    for path in (URL, f"{URL}export/"):
        assert api.get(path, {"since": "2040-09-20T16:12:33-23:20"}).status_code == 200
        assert api.get(path, {"since": "2001-01-01T00:00:00Z"}).status_code == 200
    # Instants Python cannot hold in UTC are clamped: before everything / after everything.
    assert len(api.get(URL, {"since": "0001-01-01T00:00:00+05:00"}).json()["results"]) >= 4
    assert api.get(URL, {"since": "9999-12-31T23:59:59-05:00"}).json()["results"] == []


def test_it_refuses_a_since_that_is_not_rfc3339(trail, api_for):
    # The schema says date-time (RFC 3339): an offset is required, a bare date is not one.
    api = api_for("read")
    for since in ("2001-01-01T00:00:00", "2001-01-01", "", "2001-02-30T00:00:00Z",
                  "\u0662\u0660\u0660\u0661-01-01T00:00:00Z"):
        r = api.get(URL, {"since": since})
        assert r.status_code == 400 and "since" in r.json()["errors"], since


def test_it_neutralises_formula_cells_in_the_csv_export(service, deployer, api_for):
    services.lock_service(service=service, actor=deployer, via="api", reason="=cmd|' /C calc'!A0")
    r = api_for("read").get(f"{URL}export/", {"format": "csv", "service": "license-api"})
    parsed = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert parsed[0]["reason"] == "'=cmd|' /C calc'!A0"
