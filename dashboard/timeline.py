"""The release timeline (ReleaseEvent rows), live messages and driver hand-offs, all tied to
the surrounding transaction: nothing is published or queued unless the change commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from dashboard import audit
from dashboard.models import Release, ReleaseEvent
from dashboard.streams import publish


def _on_commit_publish(streams: list[str], type_: str, data: dict[str, Any]) -> None:
    def send() -> None:
        for stream in streams:
            publish(stream, type_, data)

    transaction.on_commit(send)


def enqueue_advance(release_id: int, tick: int, countdown: float = 0) -> None:
    """Queue the next driver step after commit (the worker must see the committed row)."""
    from dashboard import tasks

    transaction.on_commit(
        lambda: tasks.advance_release.apply_async((release_id, tick), countdown=countdown)
    )


def record_event(release: Release, kind: str, message: str = "", data: dict[str, Any] | None = None,
                 *, publish_type: str | None = None, row_locked: bool = False,
                 created: bool = False) -> ReleaseEvent:
    """Append to the release timeline (and, after commit, its live stream). `row_locked`: the
    caller holds the release's row lock in this transaction; `created`: the caller created
    the release in this transaction, so this is its first event."""
    # No savepoint: a failure here aborts the caller's change, it is never caught and retried.
    with transaction.atomic(savepoint=False):
        if not (row_locked or created):
            # The release row lock orders concurrent writers (driver, cancel) of one timeline.
            Release.objects.select_for_update().filter(pk=release.pk).values_list("pk").first()
        last = 0 if created else (
            ReleaseEvent.objects.filter(release_id=release.pk)
            .order_by("-seq").values_list("seq", flat=True).first()
        )
        event = ReleaseEvent.objects.create(
            release_id=release.pk, seq=(last or 0) + 1, kind=kind, state=release.state,
            message=message, data=audit.normalize_payload(data),
        )
        if publish_type:
            _on_commit_publish(
                [f"release:{release.pk}"], publish_type,
                {"release": release.pk, "message": message, **(data or {})},
            )
        return event
