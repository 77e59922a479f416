"""Release page context, release history (filters, search, export, compare), audit log,
locks and metrics pages. Reads only."""

from __future__ import annotations

import csv
from datetime import datetime, time, timedelta
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from dashboard import auditcheck, csvsafe, permissions, refs, services, states
from dashboard.adapters import objectstore
from dashboard.adapters.errors import AdapterError
from dashboard.audit import checkpoints
from dashboard.models import AuditEntry, Lock, Release, ReleaseEvent
from dashboard.services import dora
from dashboard.ui import facts, live, pages
from dashboard.ui import metrics as charts
from dashboard.ui.forms import ReleaseFilterForm

PAGE_SIZE = 50
EXPORT_LIMIT = 10_000
TIMELINE_LIMIT = 600  # room for what a release keeps of the cluster (observe.MAX_ENTRIES)
QUIET_KINDS = ("build.log", "pod.log")  # shown in the log panels, not the timeline
LOG_CHUNKS, LOG_LINES = 20, 200


# --- the release page -------------------------------------------------------------------------

def release_context(user: Any, release: Release) -> dict[str, Any]:
    service = release.service
    events = list(
        ReleaseEvent.objects.filter(release=release).exclude(kind__in=QUIET_KINDS)
        .order_by("-seq")[:TIMELINE_LIMIT]
    )[::-1]
    log_chunks = list(
        ReleaseEvent.objects.filter(release=release, kind="build.log").order_by("-seq")
        .values_list("message", flat=True)[:LOG_CHUNKS]
    )[::-1]
    build_log = "\n".join("".join(log_chunks).splitlines()[-LOG_LINES:])
    verify = list(ReleaseEvent.objects.filter(release=release, kind="verify").order_by("seq"))
    previous = (
        Release.objects.for_service(service).filter(pk__lt=release.pk)
        .select_related("requested_by").order_by("-id").first()
    )
    perms = pages.can_any(user, service)
    unfinished = release.state in states.ACTIVE or release.state in states.PENDING
    steps = facts.step_rows(release.build_steps or [])
    done_steps = sum(1 for s in steps if s["done"])
    step = services.step_view(release)
    return {
        "release": release,
        "service": service,
        "events": events,
        "build_log": build_log,
        "verify_events": verify,
        "previous": previous,
        "digest": pages.short_digest(pages.digest_of(release)),
        "previous_digest": pages.short_digest(pages.digest_of(previous)),
        "progress": pages.progress_percent(release),
        "rollout": release.last_progress or {},
        "rollout_percent": pages.rollout_percent(release.last_progress),
        "steps": steps,
        "steps_done": done_steps,
        "steps_percent": int(100 * done_steps / len(steps)) if steps else 0,
        "failure": facts.failure(release.failure_summary),
        "unfinished": unfinished,
        "show_cancel": unfinished and perms["can_deploy"],
        "rollout_step": step,
        "rollback_anyway_to": (
            Release.objects.for_service(service).succeeded().filter(id__lt=release.pk)
            .exclude(image="").order_by("-id").first()
            if (release.failure_summary or {}).get("code") == "foreign_write"
            and release.state == states.FAILED and perms["can_rollback"] else None),
        "show_continue": bool(step) and step.get("phase") == "baking" and perms["can_deploy"],
        "show_pause": release.state in states.ACTIVE and perms["can_pause"] and not service.paused,
        "show_resume": perms["can_pause"] and service.paused,
        "show_rollback": perms["can_rollback"] and release.state in states.TERMINAL,
        "durations": _durations(release),
        "queue": pages.queue_status(release),
        "kept_logs": list(ReleaseEvent.objects.filter(release=release, kind="pod.log")
                          .order_by("seq").values("message", "data")[:20]),
        "live": facts.scoped_events(release, live.service_state(service.name)),
        **perms,
    }


def _durations(release: Release) -> list[tuple[str, str]]:
    out = []
    for phase, seconds in (release.timings or {}).items():
        try:
            spent = timedelta(seconds=float(seconds))
            out.append((phase.replace("_", " "), dora.humanize(spent)))
        except (TypeError, ValueError):
            continue
    if release.started_at and release.finished_at:
        out.append(("total", dora.humanize(release.finished_at - release.started_at)))
    return out


# --- history ----------------------------------------------------------------------------------

def _filtered(request: HttpRequest) -> tuple[Any, ReleaseFilterForm]:
    visible = pages.visible_services(request.user)
    names = [s.name for s in visible]
    form = ReleaseFilterForm(request.GET or None, services=names, states=list(states.ALL),
                             vias=list(states.VIAS))
    qs = Release.objects.for_list().filter(service__in=visible)
    if form.is_valid():
        d = form.cleaned_data
        if d.get("service"):
            qs = qs.filter(service__name=d["service"])
        if d.get("state"):
            qs = qs.filter(state=d["state"])
        if d.get("via"):
            qs = qs.filter(via=d["via"])
        if d.get("user"):
            qs = qs.filter(requested_by__username__iexact=d["user"].strip())
        tz = timezone.get_current_timezone()
        if d.get("date_from"):
            qs = qs.filter(created_at__gte=datetime.combine(d["date_from"], time.min, tz))
        if d.get("date_to"):
            qs = qs.filter(created_at__lt=datetime.combine(d["date_to"] + timedelta(days=1),
                                                           time.min, tz))
        if d.get("q"):
            term = d["q"].strip().lower()
            qs = qs.filter(Q(commit_sha__startswith=term) | Q(ref__icontains=term)
                           | Q(image_digest__icontains=term))
    return qs, form


def release_list(request: HttpRequest) -> dict[str, Any]:
    qs, form = _filtered(request)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    rows = [(r, dora.humanize(r.finished_at - r.started_at)
             if r.finished_at and r.started_at else "") for r in page.object_list]
    return {"filter_form": form, "page_obj": page, "rows": rows, "query": query.urlencode()}


FIELDS = ("id", "service", "kind", "state", "commit_sha", "ref", "image", "image_digest",
          "requested_by", "via", "reason", "created_at", "started_at", "finished_at",
          "duration_seconds", "rollback_of")


def _row(r: Release) -> dict[str, Any]:
    duration = (r.finished_at - r.started_at).total_seconds() if (
        r.finished_at and r.started_at) else None
    return {
        "id": r.pk, "service": r.service.name, "kind": r.kind, "state": r.state,
        "commit_sha": r.commit_sha, "ref": r.ref, "image": r.image,
        "image_digest": r.image_digest,
        "requested_by": r.requested_by.get_username() if r.requested_by else "",
        "via": r.via, "reason": r.reason,
        "created_at": r.created_at.isoformat() if r.created_at else None,
        "started_at": r.started_at.isoformat() if r.started_at else None,
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "duration_seconds": duration, "rollback_of": r.rollback_of_id,
    }


def export(request: HttpRequest, fmt: str) -> HttpResponse:
    qs, _ = _filtered(request)
    rows = [_row(r) for r in qs[:EXPORT_LIMIT]]
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "json":
        response: HttpResponse = JsonResponse({"count": len(rows), "releases": rows},
                                              json_dumps_params={"indent": 1})
        response["Content-Disposition"] = f'attachment; filename="releases-{stamp}.json"'
        return response
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="releases-{stamp}.csv"'
    writer = csv.DictWriter(response, fieldnames=FIELDS)
    writer.writeheader()
    for row in rows:
        writer.writerow(csvsafe.row(row))  # formula cells neutralised
    return response


def compare(release: Release) -> dict[str, Any]:
    previous = (
        Release.objects.for_service(release.service).filter(pk__lt=release.pk)
        .select_related("requested_by", "service").order_by("-id").first()
    )
    now, before = _row(release), (_row(previous) if previous else {})
    rows = [(f.replace("_", " "), before.get(f, ""), now.get(f, ""),
             previous is not None and before.get(f) != now.get(f)) for f in FIELDS if f != "id"]
    diff_url = ""
    repo = refs.redact(release.service.git_repo or "").removesuffix(".git")  # no credentials
    if previous and previous.commit_sha and release.commit_sha and repo.startswith("https://"):
        diff_url = f"{repo}/compare/{previous.commit_sha}...{release.commit_sha}"
    return {"release": release, "previous": previous, "rows": rows, "diff_url": diff_url,
            **facts.commits(release, previous), **facts.template_changes(release, previous),
            **facts.migrations(release, previous)}


# --- audit, locks, metrics --------------------------------------------------------------------

AUDIT_CHECK_PER_VIEW = 2000  # entries hashed per view at most (~0.1 s): the page stays fast


def audit_context(request: HttpRequest) -> dict[str, Any]:
    names = [s.name for s in pages.visible_services(request.user)]
    qs = AuditEntry.objects.filter(Q(service__in=names) | Q(service="")).order_by("-id")
    service = request.GET.get("service", "")
    if service in names:
        qs = qs.filter(service=service)
    action = request.GET.get("action", "").strip()
    if action:
        qs = qs.filter(action=action)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    # Only what was appended since the last check (dashboard/auditcheck.py); the full walk
    # runs hourly and in `manage.py verify_audit`.
    result = auditcheck.verify_recent(limit=AUDIT_CHECK_PER_VIEW)
    bad = result.bad
    return {"page_obj": page, "rows": list(page.object_list), "services": names,
            "service": service, "action": action,
            "chain": {"ok": bad is None, "checked": result.checked,
                      "bad_id": bad.pk if bad else None, "problem": result.problem,
                      "full_at": result.full_at, "more": result.more},
            "anchor": _anchor()}


def _anchor() -> dict[str, Any]:
    """The chain against its latest signed checkpoint (kept outside the database)."""
    try:
        report = checkpoints.compare(checkpoints.read_latest(objectstore.configured()))
    except (checkpoints.CheckpointError, AdapterError) as exc:
        return {"ok": False, "text": f"the latest checkpoint cannot be used: {exc}"}
    cp = report.checkpoint
    if cp is None:
        return {"ok": None, "text": "no signed checkpoint yet"}
    if not report.ok:
        return {"ok": False, "text": report.truncation or report.rewrite}
    return {"ok": True, "text": f"matches the checkpoint of {cp.at} (entry {cp.head_id}, "
                                f"{cp.count} entries; {report.entries_after} newer)"}


def locks_context(user: Any) -> dict[str, Any]:
    visible = list(pages.visible_services(user))
    locks = list(Lock.objects.filter(service__in=visible).select_related("service", "owner")
                 .order_by("service__name"))
    lockable = [s for s in visible if permissions.can_lock(user, s)]
    lockable_ids = {s.pk for s in lockable}
    return {"locks": locks, "lockable": lockable, "lockable_ids": lockable_ids,
            "now": timezone.now()}


def metrics_context(request: HttpRequest) -> dict[str, Any]:
    try:
        days = max(7, min(int(request.GET.get("days", "28")), 365))
    except ValueError:
        days = 28
    visible = list(pages.visible_services(request.user))
    computed = dora.figures(visible, now=timezone.now(), window_days=days)
    return {"metrics": computed, "charts": charts.charts(computed), "days": days,
            "humanize": dora.humanize}


def metrics_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The metrics page's figures as JSON or CSV (same window: ?days=)."""
    ctx = metrics_context(request)
    rows = [dora.export_row(m) for m in ctx["metrics"]]
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "json":
        response: HttpResponse = JsonResponse({"window_days": ctx["days"], "metrics": rows},
                                              json_dumps_params={"indent": 1})
        response["Content-Disposition"] = f'attachment; filename="metrics-{stamp}.json"'
        return response
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="metrics-{stamp}.csv"'
    writer = csv.DictWriter(response, fieldnames=dora.EXPORT_FIELDS)
    writer.writeheader()
    writer.writerows(csvsafe.row(r) for r in rows)  # like every CSV export
    return response
