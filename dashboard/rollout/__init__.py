"""Pure judgement of a rollout: API JSON in, verdicts out (no I/O, no Django).

* `progress(deployment, replicasets)` mirrors `kubectl rollout status` exactly
  (kubectl pkg/polymorphichelpers/rollout_status.go) and also names the new ReplicaSet.
* `fatal_reasons(pods, events, policy, sightings, now, pod_template_hash=...)` is krane's
  "doomed container" judgement with a per-reason policy (see DEFAULT_POLICY).

Dicts are the Kubernetes API's JSON (camelCase), as KubeAdapter and watches return them.
"""

from __future__ import annotations

from .failfast import Fatal, fatal_reasons
from .policy import DEFAULT_POLICY, REASONS, merge_policy, normalize_rule, validate_policy
from .status import (
    DEADLINE_REASON,
    HASH_LABEL,
    REVISION,
    Progress,
    new_replicaset,
    parse_time,
    progress,
    revision_of,
)

__all__ = [
    "DEADLINE_REASON",
    "DEFAULT_POLICY",
    "HASH_LABEL",
    "REASONS",
    "REVISION",
    "Fatal",
    "Progress",
    "fatal_reasons",
    "merge_policy",
    "new_replicaset",
    "normalize_rule",
    "parse_time",
    "progress",
    "revision_of",
    "validate_policy",
]
