"""What the release, compare and metrics pages show beyond the release rows: build steps in
words, the failure card in today's wording, the events panel scoped to the release, commits
pod template changes and migrations between two releases (git, the cluster, the
pre-deploy Jobs' output).
Reads only; a source that does not answer leaves its part unknown, never breaks the page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from dashboard import refs, services
from dashboard.adapters.types import BUILD_TERMINAL, status_words
from dashboard.models import Release, ReleaseEvent
from dashboard.rollout import changes, failfast, predeploy
from dashboard.rollout import templates as pod_templates
from dashboard.services.dora import humanize
from dashboard.ui import live

EVENTS_KEPT = 600


def failure(summary: dict[str, Any] | None) -> dict[str, Any] | None:
    """The failure card's facts; sentences stored in an older wording read as today's."""
    if not summary:
        return None
    fatal = summary.get("fatal") or [{}]
    return {**summary, "reason": failfast.readable(str(summary.get("reason") or "")),
            "restarts": (fatal[0] or {}).get("restarts")}


def scoped_events(release: Release, state: live.LiveState) -> live.LiveState:
    """The "Kubernetes events" panel of a release: the events it kept (observe.record) and,
    while it runs, the live ones of its Deployment, ReplicaSets and pods since it started
    rolling out; never those of other objects or of earlier releases."""
    kept = [e.data for e in ReleaseEvent.objects.filter(release=release, kind=changes.EVENT)
            .order_by("-seq")[:EVENTS_KEPT]][::-1]
    state.events = changes.panel_events(
        kept, state.events, deployment=release.service.deployment,
        since=release.patched_at or release.started_at, until=release.finished_at,
        active=release.is_active)[::-1]
    return state


def step_rows(steps: list[dict[str, Any]], now: datetime | None = None) -> list[dict[str, Any]]:
    """Build steps as the page shows them: the status in words and how long the step took
    (or, while it runs, how long it has been running)."""
    now = now or timezone.now()
    rows = []
    for s in steps:
        status = str(s.get("status") or "")
        seconds, started = s.get("seconds"), s.get("started")
        duration = ""
        if seconds is not None:
            duration = humanize(timedelta(seconds=float(seconds)))
        elif started and status == "WORKING":
            begun = datetime.fromisoformat(str(started))
            duration = f"running for {humanize(now - begun)}"
        rows.append({**s, "label": s.get("label") or status_words(status),
                     "duration": duration, "done": status in BUILD_TERMINAL})
    return rows


def commits(release: Release, previous: Release | None) -> dict[str, Any]:
    """`git log previous..release` in the Service's repository (or, for a release that went
    back in history, the commits it took out)."""
    repo = release.service.git_repo
    if not (previous and repo and previous.commit_sha and release.commit_sha):
        return {"commits": None, "commits_error": "", "commits_removed": False}
    if previous.commit_sha == release.commit_sha:
        return {"commits": [], "commits_error": "", "commits_removed": False}
    try:
        added = refs.log(repo, previous.commit_sha, release.commit_sha)
        removed = [] if added else refs.log(repo, release.commit_sha, previous.commit_sha)
    except (refs.RepositoryUnavailable, ValueError) as exc:
        return {"commits": None, "commits_error": str(exc), "commits_removed": False}
    return {"commits": added or removed, "commits_error": "", "commits_removed": bool(removed)}


def template_changes(release: Release, previous: Release | None) -> dict[str, Any]:
    """Environment, args, resources... of the Deployment's pod template, as the two
    revisions' ReplicaSets ran them (while the cluster still keeps both)."""
    a = previous.revision_after if previous else None
    b = release.revision_after
    if not (a and b):
        return {"config_changes": None, "config_error": ""}
    try:
        found = services.templates(release.service, [a, b])
    except services.ServiceError as exc:
        return {"config_changes": None, "config_error": exc.detail}
    if a not in found or b not in found:
        return {"config_changes": None,
                "config_error": "the cluster no longer keeps both revisions' ReplicaSets"}
    return {"config_changes": pod_templates.diff(found[a], found[b]), "config_error": ""}


def migrations(release: Release, previous: Release | None) -> dict[str, Any]:
    """Migrations run: what each release's pre-deploy Job applied (parsed from the `migrate`
    output kept on the release), and the migration files the commits between them add or
    delete (`git diff a..b`, like `commits`)."""
    jobs = [{"release": r, "job": r.pre_deploy_job, "exit_code": r.pre_deploy_exit_code,
             "applied": predeploy.applied_migrations(r.pre_deploy_log)}
            for r in (previous, release) if r is not None]
    out: dict[str, Any] = {"migration_jobs": jobs, "migration_files": None,
                           "migration_files_error": ""}
    repo = release.service.git_repo
    if not (previous and repo and previous.commit_sha and release.commit_sha):
        return out
    if previous.commit_sha == release.commit_sha:
        out["migration_files"] = {"added": [], "deleted": []}
        return out
    try:
        files = refs.changed_files(repo, previous.commit_sha, release.commit_sha)
    except (refs.RepositoryUnavailable, ValueError) as exc:
        out["migration_files_error"] = str(exc)
        return out
    out["migration_files"] = {k: [f for f in v if not f.endswith("/__init__.py")]
                              for k, v in files.items()}
    return out
