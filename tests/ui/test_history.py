"""Release history: filters, commit search, export, compare; metrics numbers; query counts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.services import dora as metrics
from dashboard.ui import metrics as charts
from tests.ui.conftest import make_release, make_service, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(service, admin_user, deployer):
    now = timezone.now()
    return {
        "a": make_release(service, commit="aaaa111" + "0" * 33, user=admin_user, via="admin",
                          started=now - timedelta(days=3)),
        "b": make_release(service, commit="bbbb222" + "0" * 33, user=deployer, via="api",
                          state="failed", started=now - timedelta(days=2)),
        "c": make_release(service, commit="cccc333" + "0" * 33, user=deployer, via="slack",
                          state="rolled_back", started=now - timedelta(hours=5)),
    }


def _ids(response):
    body = response.content.decode()
    return {int(chunk.split('"', 1)[0]) for chunk in body.split('data-release="')[1:]}


def test_it_filters_the_history_by_service_state_user_via_and_date(admin_client, history, cluster):
    other = make_service(cluster, "other-svc")
    x = make_release(other, commit="dddd444" + "0" * 33)
    url = reverse("deployments:releases")
    a, b, c = history["a"].pk, history["b"].pk, history["c"].pk
    assert _ids(admin_client.get(url)) == {a, b, c, x.pk}
    assert _ids(admin_client.get(url, {"service": "other-svc"})) == {x.pk}
    assert _ids(admin_client.get(url, {"state": "failed"})) == {b}
    assert _ids(admin_client.get(url, {"user": "deployer"})) == {b, c}
    assert _ids(admin_client.get(url, {"via": "slack"})) == {c}
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    assert _ids(admin_client.get(url, {"date_from": since})) >= {c, x.pk}
    assert a not in _ids(admin_client.get(url, {"date_from": since}))
    assert _ids(admin_client.get(url, {"q": "bbbb2"})) == {b}


def test_it_lists_only_releases_of_visible_services(client, history, cluster):
    from django.contrib.auth.models import Group

    hidden = make_service(cluster, "hidden-svc")
    hidden.allowed_groups.add(Group.objects.create(name="secret"))
    secret = make_release(hidden)
    client.force_login(make_user("v4", "view_service"))
    ids = _ids(client.get(reverse("deployments:releases")))
    assert secret.pk not in ids and history["a"].pk in ids
    exported = client.get(reverse("deployments:releases-export", args=["json"]))
    assert secret.pk not in {r["id"] for r in json.loads(exported.content)["releases"]}


def test_it_exports_the_filtered_history_as_csv_and_json(admin_client, history):
    url = reverse("deployments:releases-export", args=["csv"])
    response = admin_client.get(url, {"user": "deployer"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {int(r["id"]) for r in rows} == {history["b"].pk, history["c"].pk}
    assert {r["state"] for r in rows} == {"failed", "rolled_back"}
    assert rows[0]["requested_by"] == "deployer"
    data = json.loads(admin_client.get(
        reverse("deployments:releases-export", args=["json"]), {"q": "aaaa"}).content)
    assert data["count"] == 1 and data["releases"][0]["commit_sha"].startswith("aaaa111")
    assert data["releases"][0]["duration_seconds"] == 180.0


def test_it_neutralises_formulas_in_the_csv_export(admin_client, service):
    make_release(service, reason="=HYPERLINK(\"http://evil\")")
    body = admin_client.get(reverse("deployments:releases-export", args=["csv"])).content.decode()
    assert "'=HYPERLINK" in body


def test_it_compares_a_release_with_the_one_before(admin_client, history):
    body = admin_client.get(reverse("deployments:release-compare",
                                    args=[history["c"].pk])).content.decode()
    assert f"#{history['b'].pk}" in body
    assert "bbbb222" in body and "cccc333" in body
    assert 'class="mono changed"' in body


def test_it_pins_the_query_count_of_the_history_page(admin_client, service, django_assert_max_num_queries):
    for i in range(30):
        make_release(service, commit=f"{i:07x}" + "0" * 33, state="succeeded")
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("deployments:releases"))
    assert response.status_code == 200


def test_it_pins_the_query_count_of_the_admin_index(admin_client, cluster, django_assert_max_num_queries):
    for n in range(8):
        s = make_service(cluster, f"svc-{n}")
        make_release(s, state="succeeded")
        make_release(s, state="deploying", commit="e" * 40)
    with django_assert_max_num_queries(14):
        response = admin_client.get("/admin/")
    assert response.content.decode().count('class="dash-card"') == 8


def test_it_pins_the_query_count_of_the_audit_and_locks_pages(admin_client, cluster, admin_user, django_assert_max_num_queries):
    from dashboard import services

    for n in range(6):
        s = make_service(cluster, f"lk-{n}")
        services.lock_service(service=s, actor=admin_user, via="admin", reason=f"r{n}")
    # 13 on main when this was written (the first view records the verified prefix), plus
    # one: whether the user has a TOTP device (dashboard.ui.login, once per request).
    with django_assert_max_num_queries(14):
        assert admin_client.get(reverse("deployments:audit")).status_code == 200
    with django_assert_max_num_queries(13):
        assert admin_client.get(reverse("deployments:locks")).status_code == 200


def test_it_computes_delivery_metrics_from_fixture_releases():
    now = timezone.now()
    t = now - timedelta(days=10)
    rows = [
        # committed an hour before it started: lead time 1 h 04 min
        metrics.Row("api", "deploy", "succeeded", t, t + timedelta(minutes=4),
                    commit_at=t - timedelta(hours=1)),
        # committed two hours before: lead time 2 h 06 min
        metrics.Row("api", "deploy", "succeeded", t + timedelta(days=1),
                    t + timedelta(days=1, minutes=6), commit_at=t + timedelta(days=1, hours=-2)),
        # started at +2d, failed at +2d 00:05, automatic rollback finished at +2d 00:09:
        # restored 9 min after the failed release started
        metrics.Row("api", "deploy", "rolled_back", t + timedelta(days=2),
                    t + timedelta(days=2, minutes=9), failed_at=t + timedelta(days=2, minutes=5)),
        # started at +3d, failed without rollback; next success finishes at +3d 01:02 -> 62 min
        metrics.Row("api", "deploy", "failed", t + timedelta(days=3),
                    t + timedelta(days=3, minutes=2), failed_at=t + timedelta(days=3, minutes=2)),
        metrics.Row("api", "deploy", "succeeded", t + timedelta(days=3, minutes=50),
                    t + timedelta(days=3, hours=1, minutes=2)),
        metrics.Row("api", "deploy", "cancelled", t, t),  # never reached production
        metrics.Row("api", "rollback", "succeeded", t, t + timedelta(minutes=1)),
        metrics.Row("api", "deploy", "succeeded", now - timedelta(days=40),
                    now - timedelta(days=40) + timedelta(minutes=1)),  # outside the window
    ]
    (m,) = metrics.compute(rows, now=now, window_days=28)
    assert (m.deploys, m.succeeded, m.failures) == (5, 3, 2)
    assert m.per_week == pytest.approx(3 / 4)
    assert m.change_failure_rate == pytest.approx(0.4)
    assert m.change_failure_percent == "40%"
    assert m.time_to_restore == timedelta(minutes=35, seconds=30)  # median of 9 and 62 minutes
    assert m.lead_time == timedelta(hours=1, minutes=35)  # median of 1:04 and 2:06
    assert metrics.export_row(m)["lead_time_seconds"] == 95 * 60
    assert m.median_duration == timedelta(minutes=6)  # 4, 6 and 12 minutes
    assert sum(ok for _, ok, _ in m.weeks) == 3 and sum(bad for _, _, bad in m.weeks) == 2
    weekly = charts.weekly_chart(m)
    assert weekly.startswith("<svg") and "deploys per week" in weekly


def test_it_shows_the_metrics_page_with_svg_charts(admin_client, service, django_assert_max_num_queries):
    start = timezone.now() - timedelta(days=3)
    make_release(service, started=start, minutes=5)
    make_release(service, started=start + timedelta(hours=1), minutes=7)
    make_release(service, state="failed", started=start + timedelta(hours=2), minutes=2,
                 failed_after=2)
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse("deployments:metrics"))
    body = response.content.decode()
    row = body.split('data-service="license-api"', 1)[1].split("</tr>", 1)[0]
    assert '<td data-metric="cfr">33%</td>' in row
    assert '<td data-metric="duration">360s</td>' in row
    assert body.count("<svg") >= 2 and "cdn" not in body.lower()


def test_it_shows_lead_time_from_git_and_exports_the_figures(admin_client, service, tmp_path,
                                                             monkeypatch):
    from tests.gitrepo import make_repo

    committed = int((timezone.now() - timedelta(hours=2)).timestamp())
    monkeypatch.setenv("GIT_COMMITTER_DATE", f"{committed} +0000")
    shas = make_repo(tmp_path / "repo")
    service.git_repo = str(tmp_path / "repo")
    service.save(update_fields=["git_repo"])
    started = datetime.fromtimestamp(committed, tz=UTC) + timedelta(hours=1)
    make_release(service, commit=shas["main"], started=started, minutes=3)
    failed = make_release(service, state="rolled_back", commit="dead" * 10, started=started,
                          minutes=2, failed_after=1)
    assert failed.finished_at - failed.started_at == timedelta(minutes=2)
    body = admin_client.get(reverse("deployments:metrics")).content.decode()
    row = body.split('data-service="license-api"', 1)[1].split("</tr>", 1)[0]
    assert "Lead time for changes" in body
    lead = row.split('data-metric="lead">', 1)[1].split("<", 1)[0]
    assert lead == "63m 00s", lead  # committed 2 h ago, finished 57 min ago
    assert '<td data-metric="ttr">2m 00s</td>' in row  # the failed release's start -> rolled back
    csv_text = admin_client.get(reverse("deployments:metrics-export", args=["csv"])).content.decode()
    header, line = csv_text.splitlines()[:2]
    assert header.split(",") == list(metrics.EXPORT_FIELDS)
    values = dict(zip(header.split(","), line.split(","), strict=True))
    assert values["service"] == "license-api" and float(values["time_to_restore_seconds"]) == 120
    assert float(values["lead_time_seconds"]) == 63 * 60
    data = admin_client.get(reverse("deployments:metrics-export", args=["json"])).json()
    assert data["metrics"][0]["change_failure_rate"] == 0.5
    assert admin_client.get("/admin/deployments/metrics/export.xml").status_code == 404
