"""What a Slack command does, through dashboard.services and dashboard.permissions; the text
it answers with. Used by the Celery task in dashboard.api.slack."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard import permissions, refs, services, states
from dashboard.api.queries import service_summaries
from dashboard.errors import ServiceError
from dashboard.models import Release, Service


@dataclass
class Outcome:
    text: str
    release_id: int | None = None
    state: str = ""


def release_by_id(pk: int) -> Release | None:
    return Release.objects.select_related("service").filter(pk=pk).first()


def _describe(release: Release) -> str:
    what = release.short_sha or release.image or release.ref or "?"
    return f"*{release.service.name}* release #{release.pk} ({release.kind} `{what}`)"


def progress_text(release: Release) -> str:
    return f"{_describe(release)} is *{release.state.replace('_', ' ')}*."


def outcome_text(release: Release) -> str:
    icon = ":white_check_mark:" if release.state == states.SUCCEEDED else ":x:"
    text = f"{icon} {_describe(release)} ended *{release.state.replace('_', ' ')}*."
    summary = release.failure_summary or {}
    if release.state != states.SUCCEEDED and summary.get("reason"):
        text += f"\n> {summary['reason']}"
    return text


def status_text(service: Service) -> str:
    row = service_summaries(Service.objects.filter(pk=service.pk))[0]
    lines = [f"*{service.name}* ({row['cluster']}/{row['namespace']}/{row['deployment']})"]
    cur = row["current"]
    lines.append(f"deployed: #{cur['id']} `{cur['commit'][:12] or cur['image']}`" if cur
                 else "deployed: nothing through the dashboard yet")
    act = row["active"]
    if act:
        lines.append(f"in progress: #{act['id']} {act['kind']} `{act['commit'][:12]}` "
                     f"({act['state']})")
    if row["queued"]:
        lines.append(f"queued: {row['queued']}")
    if row["paused"]:
        lines.append("rollouts paused")
    lock = row["lock"]
    if lock is not None:
        lines.append(f":lock: locked by {lock.owner_name or 'someone'}: {lock.reason}")
    return "\n".join(lines)


ACK_SCHEMA = "--ack-schema"


def schema_warning(exc: Any) -> str:
    """The rollback was refused: name the releases whose migrations it would go back past."""
    lines = [f":warning: {exc.detail}"]
    for r in exc.releases:
        lines.append(f"• release #{r['id']} (`{r['commit'][:12]}`), Job `{r['job']}`:")
        lines.extend(f"    {line}" for line in r["output"][-5:])
    lines.append(f"Run the rollback again with `{ACK_SCHEMA}` to go ahead.")
    return "\n".join(lines)


def execute(cmd: Any, user: Any, key: str = "") -> Outcome:
    """Run a parsed command as `user` (via slack). Errors become the answer text."""
    if not cmd.args:
        return Outcome("Nothing to do.")
    name = cmd.args[0]
    service = Service.objects.visible_to(user).filter(name=name).first()
    if service is None:
        return Outcome(f"No service `{name}` that you can see.")
    common = {"service": service, "actor": user, "via": "slack"}
    try:
        if cmd.verb == "status":
            return Outcome(status_text(service))
        if cmd.verb == "deploy":
            if not permissions.can_deploy(user, service):
                return Outcome(f"You may not deploy *{name}*.")
            target = cmd.args[1]
            is_sha = refs.is_sha(target)
            release = services.request_release(
                **common, commit=target if is_sha else "", ref="" if is_sha else target,
                reason=cmd.rest, idempotency_key=f"slack:{key}"[:200] if key else None)
            return Outcome(f"{progress_text(release)} <requested by {user.get_username()}>",
                           release.pk, release.state)
        if cmd.verb == "rollback":
            if not permissions.can_rollback(user, service):
                return Outcome(f"You may not roll back *{name}*.")
            to = None
            if len(cmd.args) > 1:
                to = Release.objects.filter(pk=int(cmd.args[1]), service=service).first()
                if to is None:
                    return Outcome(f"No release #{cmd.args[1]} of *{name}*.")
            words = cmd.rest.split()
            ack = ACK_SCHEMA in words
            reason = " ".join(w for w in words if w != ACK_SCHEMA)
            try:
                release = services.request_rollback(**common, reason=reason, to_release=to,
                                                    acknowledge_schema_change=ack)
            except services.SchemaChanged as exc:
                return Outcome(schema_warning(exc))
            return Outcome(progress_text(release), release.pk, release.state)
        if cmd.verb == "continue":
            if not permissions.can_deploy(user, service):
                return Outcome(f"You may not continue releases of *{name}*.")
            active = Release.objects.active().filter(service=service).first()
            if active is None:
                return Outcome(f"*{name}* has no release rolling out.")
            release = services.continue_step(release=active, actor=user, via="slack",
                                             reason=cmd.rest)
            return Outcome(f":fast_forward: {_describe(release)}: bake ended early; the rest "
                           "rolls out now.", release.pk, release.state)
        if cmd.verb == "lock":
            if not permissions.can_lock(user, service):
                return Outcome(f"You may not lock *{name}*.")
            services.lock_service(**common, reason=cmd.rest)
            return Outcome(f":lock: *{name}* locked: {cmd.rest}")
        if cmd.verb == "unlock":
            if not permissions.can_lock(user, service):
                return Outcome(f"You may not unlock *{name}*.")
            services.unlock_service(**common)
            return Outcome(f":unlock: *{name}* unlocked.")
    except ServiceError as exc:
        return Outcome(f":warning: {exc.detail}")
    return Outcome("Unknown command.")
