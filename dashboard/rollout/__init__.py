"""Pure judgement of Kubernetes JSON: API objects in, verdicts out (no I/O, no Django).

objects   annotation/label constants and small readers (revision, change-cause, images)
status    `kubectl rollout status`: progress of a Deployment and its new ReplicaSet
failfast  krane's rules: which pods of the new ReplicaSet can never become ready
summary   the failure summary stored on a failed release
rows      the small rows the live views show (pods, events, rollout)

Everything else (worker, watcher, web) gathers the JSON and acts on these verdicts.
"""

from dashboard.rollout.failfast import (
    DEFAULT_POLICY,
    REASONS,
    Fatal,
    fatal_reasons,
    merge_policy,
    normalize_rule,
    validate_policy,
)
from dashboard.rollout.objects import (
    CHANGE_CAUSE,
    HASH_LABEL,
    REVISION,
    container_image,
    parse_time,
    revision_of,
)
from dashboard.rollout.status import DEADLINE_REASON, Progress, new_replicaset, progress

__all__ = [
    "CHANGE_CAUSE", "DEADLINE_REASON", "DEFAULT_POLICY", "HASH_LABEL", "REASONS", "REVISION",
    "Fatal", "Progress", "container_image", "fatal_reasons", "merge_policy", "new_replicaset",
    "normalize_rule", "parse_time", "progress", "revision_of", "validate_policy",
]
