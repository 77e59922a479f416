"""GET /api/v1/metrics/dora/: the four DORA measures per service and environment, JSON or
CSV (formula-safe), over a window; scoped to what the token may view; bad input named."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dashboard.services import dora
from tests.api.conftest import make_service, make_user
from tests.ui.conftest import make_release

pytestmark = pytest.mark.django_db
URL = "/api/v1/metrics/dora/"


@pytest.fixture
def history(service, other_service):
    start = timezone.now() - timedelta(days=3)
    make_release(service, started=start, minutes=5)
    # failed 2 min in; its automatic rollback finished at 4 min: restored 4 min after start
    make_release(service, state="rolled_back", started=start + timedelta(hours=1), minutes=4,
                 failed_after=2)
    make_release(service, started=start + timedelta(hours=2), minutes=7)
    make_release(service, started=timezone.now() - timedelta(days=20), minutes=1)
    make_release(other_service, state="failed", started=start, minutes=2, failed_after=2)


def _line(body, service):
    (row,) = [m for m in body["metrics"] if m["service"] == service]
    return row


def test_it_returns_the_four_measures_per_service_as_json(history, api_for):
    r = api_for("read").get(URL)
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["window_days"] == 28 and body["environment"] is None
    assert [m["service"] for m in body["metrics"]] == ["billing", "license-api"]
    api = _line(body, "license-api")
    assert api["environment"] == dora.IMPLICIT_ENVIRONMENT == "default"
    assert (api["deploys"], api["succeeded"], api["failures"]) == (4, 3, 1)
    assert api["deploys_per_week"] == 0.75
    assert api["change_failure_rate"] == 0.25
    assert api["time_to_restore_seconds"] == 240
    assert api["median_deploy_seconds"] == 300
    assert api["lead_time_seconds"] is None  # no git repository: unknown, not zero
    assert _line(body, "billing")["change_failure_rate"] == 1.0


def test_it_narrows_the_window_and_filters_service_and_environment(history, api_for):
    api = api_for("read")
    week = api.get(URL, {"window": 7, "service": "license-api"}).json()
    assert [m["service"] for m in week["metrics"]] == ["license-api"]
    assert week["metrics"][0]["deploys"] == 3 and week["window_days"] == 7
    until = timezone.now() - timedelta(days=10)
    old = api.get(URL, {"since": (until - timedelta(days=14)).isoformat(),
                        "until": until.isoformat()}).json()
    assert _line(old, "license-api")["deploys"] == 1 and old["window_days"] == 14
    assert datetime.fromisoformat(old["until"]) == until
    env = api.get(URL, {"environment": "default"}).json()
    assert env["environment"] == "default" and len(env["metrics"]) == 2


def test_it_exports_csv_with_formulas_neutralised(history, api_for):
    api = api_for("read")
    make_service("-cmd")  # a name a spreadsheet would run as a formula
    for r in (api.get(URL, {"format": "csv"}), api.get(URL, Accept="text/csv")):
        assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.content.decode())))
        assert list(rows[0]) == [*dora.EXPORT_FIELDS, "since", "until"]
        by_name = {row["service"]: row for row in rows}
        assert float(by_name["license-api"]["time_to_restore_seconds"]) == 240
        assert "'-cmd" in by_name and "-cmd" not in by_name


def test_it_shows_only_what_the_token_and_its_user_may_view(history, api_for, deployer):
    limited = api_for("read", services=["billing"]).get(URL).json()
    assert [m["service"] for m in limited["metrics"]] == ["billing"]
    refused = api_for("read", services=["billing"]).get(URL, {"service": "license-api"})
    assert refused.status_code == 422 and "license-api" in refused.json()["errors"]["service"][0]
    nobody = make_user("nobody")  # no view permission on any service
    assert api_for("read", user=nobody).get(URL).json()["metrics"] == []
    assert Client().get(URL).status_code == 401


@pytest.mark.parametrize("params, status, field", [
    ({"window": "0"}, 400, "window"),
    ({"window": "abc"}, 400, "window"),
    ({"window": "367"}, 400, "window"),
    ({"since": "yesterday"}, 400, "since"),
    ({"until": "2030-01-01"}, 400, "until"),
    ({"format": "xml"}, 400, "format"),
    ({"window": "7", "since": "2030-01-01T00:00:00Z"}, 422, "window"),
    ({"since": "2030-01-02T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, 422, "since"),
    ({"since": "2020-01-01T00:00:00Z", "until": "2030-01-01T00:00:00Z"}, 422, "since"),
    ({"until": "0001-01-01T00:00:00Z"}, 422, "until"),
    ({"environment": "staging"}, 422, "environment"),
    ({"service": "nope"}, 422, "service"),
])
def test_it_names_the_bad_parameter(history, api_for, params, status, field):
    r = api_for("read").get(URL, params)
    assert r.status_code == status, r.content
    assert r["Content-Type"] == "application/problem+json"
    assert field in r.json()["errors"]


def test_it_is_documented_with_its_problems(api_for):
    schema = api_for("read").get("/api/v1/schema/", Accept="application/json").json()
    op = schema["paths"]["/api/v1/metrics/dora/"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"service", "environment", "window",
                                                     "since", "until", "format"}
    assert {"200", "400", "401", "403", "422"} <= set(op["responses"])
    assert set(op["responses"]["200"]["content"]) == {"application/json", "text/csv"}


def test_it_groups_by_the_key_each_release_row_carries():
    """Per environment once rows carry one: the grouping needs no other change."""
    t = datetime(2030, 1, 1, tzinfo=UTC)
    rows = [dora.Row("api", "deploy", "succeeded", t, t + timedelta(minutes=1),
                     environment=env) for env in ("production", "staging", "staging")]
    lines = dora.compute(rows, now=t + timedelta(days=1), window_days=7)
    assert [(m.environment, m.succeeded) for m in lines] == [("production", 1), ("staging", 2)]
