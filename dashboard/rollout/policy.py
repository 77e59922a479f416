"""The fail-fast policy: per reason "fatal" | "never" | after N sightings | after T seconds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Reasons fatal_reasons() knows, each governed by one policy entry.
REASONS = (
    "CrashLoopBackOff",
    "ErrImagePull",  # only "not found" / manifest unknown: a missing image
    "ImagePullBackOff",
    "CreateContainerConfigError",
    "ContainerCannotRun",
    "OOMKilled",
    "Unhealthy",  # readiness probe failures (Unhealthy Warning events)
    "Unschedulable",  # FailedScheduling / PodScheduled=False
    "PodFailed",  # pod phase Failed (not Evicted/Preempting)
)

# krane's rules (shared/reference/failfast-krane.md c.2/c.3): doomed at once for crash
# loops, a missing image, a bad container config, ContainerCannotRun and a Failed pod; an
# image pull back-off, OOM (it becomes a crash loop), failing readiness and unschedulable
# pods are left to the progress deadline. "scope": "all_pods" = a Deployment fails only when
# every live pod of the new ReplicaSet is doomed (krane), "any_pod" = when one is.
DEFAULT_POLICY: dict[str, Any] = {
    "CrashLoopBackOff": "fatal",
    "ErrImagePull": "fatal",
    "ImagePullBackOff": "never",
    "CreateContainerConfigError": "fatal",
    "ContainerCannotRun": "fatal",
    "OOMKilled": "never",
    "Unhealthy": "never",
    "Unschedulable": "never",
    "PodFailed": "fatal",
    "scope": "all_pods",
}


# --- fail fast ---------------------------------------------------------------------------
def normalize_rule(rule: Any) -> Any:
    """One reason's rule in canonical form. Accepted spellings:
    "fatal" | "never" | {"after_sightings": N} | {"after_seconds": T} | both keys (fatal when
    either is reached), and the long form {"action": "fatal"|"never"|"after",
    "sightings": N, "seconds": T}. Raises ValueError for anything else."""
    if rule in ("fatal", "never"):
        return rule
    if isinstance(rule, Mapping) and "action" in rule:
        action = rule["action"]
        if action in ("fatal", "never"):
            return action
        if action == "after":
            rule = {
                f"after_{k}": rule[k] for k in ("sightings", "seconds") if rule.get(k) is not None
            }
        else:
            raise ValueError(f"unknown action {action!r}")
    if isinstance(rule, Mapping) and rule and set(rule) <= {"after_sightings", "after_seconds"}:
        out: dict[str, Any] = {}
        n = rule.get("after_sightings")
        if n is not None:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"after_sightings must be an integer >= 1, not {n!r}")
            out["after_sightings"] = n
        t = rule.get("after_seconds")
        if t is not None:
            if isinstance(t, bool) or not isinstance(t, int | float) or t < 0:
                raise ValueError(f"after_seconds must be a number >= 0, not {t!r}")
            out["after_seconds"] = t
        if out:
            return out
    raise ValueError(
        f"{rule!r} is not a rule: use 'fatal', 'never', {{\"after_sightings\": N}} or "
        f"{{\"after_seconds\": T}}"
    )


def merge_policy(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """DEFAULT_POLICY with a Service's overrides on top, normalised; ValueError if invalid
    (validate Service.failfast_policy with validate_policy when it is saved)."""
    policy = dict(DEFAULT_POLICY)
    for key, rule in (overrides or {}).items():
        policy[key] = rule
    validate_policy(policy)
    return {
        key: rule if key == "scope" else normalize_rule(rule) for key, rule in policy.items()
    }


def validate_policy(policy: Mapping[str, Any]) -> None:
    """Raises ValueError naming the bad entry (unknown reason, bad rule, bad scope)."""
    if not isinstance(policy, Mapping):
        raise ValueError("the fail-fast policy must be a JSON object")
    for key, rule in policy.items():
        if key == "scope":
            if rule not in ("all_pods", "any_pod"):
                raise ValueError(f"policy scope must be 'all_pods' or 'any_pod', not {rule!r}")
            continue
        if key not in REASONS:
            raise ValueError(f"unknown fail-fast reason {key!r} (known: {', '.join(REASONS)})")
        try:
            normalize_rule(rule)
        except ValueError as exc:
            raise ValueError(f"bad policy for {key}: {exc}") from None
