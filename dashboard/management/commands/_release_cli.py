"""Shared by `manage.py deploy` and `manage.py rollback`: the CLI actor and `--wait` output."""

from __future__ import annotations

import getpass
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, OutputWrapper

from dashboard import states
from dashboard.models import Release, ReleaseEvent


def cli_actor() -> Any:
    """The Django user named like the OS user, if there is one (else the CLI acts as itself)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return None
    return get_user_model().objects.filter(username=name, is_active=True).first()


def _line(event: ReleaseEvent) -> str:
    text = event.message.rstrip()
    if event.kind == "build.log":
        lines = text.splitlines()
        return "\n".join(f"  | {line}" for line in lines[-10:])
    if event.kind == "state" and event.data.get("to"):
        text = f"{event.data.get('from')} -> {event.data['to']}: {text}"
    return f"[{event.at:%H:%M:%S}] {event.kind:<10} {text}"


def wait(release: Release, stdout: OutputWrapper, timeout: float = 3600) -> Release:
    """Print the release's timeline as it grows until it ends; raise CommandError unless it
    succeeded (the failure reason and whether it was rolled back are printed first)."""
    seq = 0
    deadline = time.monotonic() + timeout
    while True:
        for event in ReleaseEvent.objects.filter(release=release, seq__gt=seq).order_by("seq"):
            stdout.write(_line(event))
            seq = event.seq
        release.refresh_from_db()
        # failed -> rolling_back happens in one transaction, so a failed release is final.
        if release.state in states.TERMINAL:
            for event in ReleaseEvent.objects.filter(release=release, seq__gt=seq):
                stdout.write(_line(event))
            break
        if time.monotonic() > deadline:
            raise CommandError(f"release {release.pk} still {release.state} after {timeout:.0f} s")
        time.sleep(0.3)
    summary = release.failure_summary or {}
    if release.state == states.SUCCEEDED:
        stdout.write(f"release {release.pk} succeeded: {release.image}")
        return release
    if summary.get("reason"):
        stdout.write(f"failure: {summary['reason']}")
        for line in summary.get("logs", [])[-10:]:
            stdout.write(f"  log | {line}")
    outcome = {
        states.ROLLED_BACK: f"rolled back to revision {release.revision_before}",
        states.CANCELLED: "cancelled",
        states.SUPERSEDED: "superseded by a newer release",
    }.get(release.state, release.state)
    raise CommandError(f"release {release.pk} did not succeed: {outcome}")
