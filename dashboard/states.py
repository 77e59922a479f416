"""Release states and the one transition table.

`dashboard.releases.lifecycle.transition()` is the only code that moves a release between
states, and it refuses any move this table does not list.
"""

from __future__ import annotations

QUEUED = "queued"
BUILDING = "building"
MIGRATING = "migrating"  # the pre-deploy Job runs; the Deployment is not touched yet
DEPLOYING = "deploying"
VERIFYING = "verifying"
SUCCEEDED = "succeeded"
FAILED = "failed"
ROLLING_BACK = "rolling_back"
ROLLED_BACK = "rolled_back"
CANCELLED = "cancelled"
SUPERSEDED = "superseded"

ALL = (
    QUEUED, BUILDING, DEPLOYING, VERIFYING, SUCCEEDED, FAILED,
    ROLLING_BACK, ROLLED_BACK, CANCELLED, SUPERSEDED, MIGRATING,
)
CHOICES = [(s, s.replace("_", " ")) for s in ALL]

# At most one release per Service is in one of these (a partial unique index enforces it).
ACTIVE = frozenset({BUILDING, MIGRATING, DEPLOYING, VERIFYING, ROLLING_BACK})
# Queued is pending: waiting for the Service's active release to end.
PENDING = frozenset({QUEUED})
TERMINAL = frozenset({SUCCEEDED, FAILED, ROLLED_BACK, CANCELLED, SUPERSEDED})

TRANSITIONS: dict[str, frozenset[str]] = {
    # A deploy starts by building; a rollback (or a deploy of a known image) starts deploying.
    QUEUED: frozenset({BUILDING, MIGRATING, DEPLOYING, CANCELLED, SUPERSEDED}),
    # Cancelling a build cancels the Cloud Build: the cluster was never touched.
    BUILDING: frozenset({MIGRATING, DEPLOYING, FAILED, CANCELLED}),
    # The pre-deploy Job: a failure fails before the Deployment is touched (nothing to roll
    # back); a cancel leaves a running migration to finish (killing it half-way is worse).
    MIGRATING: frozenset({DEPLOYING, FAILED, CANCELLED}),
    # Cancelling a rollout rolls it back.
    DEPLOYING: frozenset({VERIFYING, FAILED, ROLLING_BACK}),
    VERIFYING: frozenset({SUCCEEDED, FAILED, ROLLING_BACK}),
    # With auto-rollback on, a failure that touched the cluster is undone (same transaction).
    FAILED: frozenset({ROLLING_BACK}),
    ROLLING_BACK: frozenset({ROLLED_BACK, FAILED}),
    SUCCEEDED: frozenset(),
    ROLLED_BACK: frozenset(),
    CANCELLED: frozenset(),
    SUPERSEDED: frozenset(),
}

KIND_DEPLOY = "deploy"
KIND_ROLLBACK = "rollback"
KINDS = (KIND_DEPLOY, KIND_ROLLBACK)
KIND_CHOICES = [(k, k) for k in KINDS]

VIAS = ("admin", "api", "slack", "cli", "ci", "system")
VIA_CHOICES = [(v, v) for v in VIAS]


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def is_active(state: str) -> bool:
    return state in ACTIVE


def is_terminal(state: str) -> bool:
    return state in TERMINAL
