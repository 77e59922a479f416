"""Pure judgement of doomed pods: krane's fail-fast rules with a per-reason policy.

`fatal_reasons(pods, events, policy, sightings, now, pod_template_hash=...)` says which pods
of the new ReplicaSet cannot become ready (see DEFAULT_POLICY); no I/O, no Django. Dicts are
the Kubernetes API's JSON (camelCase), as KubeAdapter and watches return them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from dashboard.rollout.objects import HASH_LABEL, int_or_zero, parse_time

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

# krane's rules (its pod and deployment checks): doomed at once for crash
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

_NOT_FOUND = re.compile(r"not found|manifest unknown|does not exist|repository .* not exist", re.I)
_SYNC_CACHE = re.compile(r"failed to sync .*cache", re.I)


@dataclass(frozen=True)
class Fatal:
    reason: str
    pod: str
    container: str
    message: str
    exit_code: int | None = None
    first_seen: datetime | None = None
    restarts: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["first_seen"] = self.first_seen.isoformat() if self.first_seen else None
        return d


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


@dataclass
class _Candidate:
    reason: str
    pod: str
    container: str
    message: str
    exit_code: int | None = None
    count: int | None = None  # for event-based reasons: occurrences reported by Kubernetes
    since: datetime | None = None  # for event-based reasons: first occurrence
    restarts: int = 0


def _restarts(n: int) -> str:
    return "no restarts yet" if n == 0 else f"{n} restart{'' if n == 1 else 's'}"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


_OLD_COUNT = re.compile(r"(exited with code -?\d+(?: \([^)]*\))?|crashed) (\d+) times")


def readable(sentence: str) -> str:
    """A failure sentence stored before counts were written as words ("exited with code 1
    5 times") in today's form ("exited with code 1, 5 restarts")."""
    return _OLD_COUNT.sub(lambda m: f"{m.group(1)}, {_restarts(int(m.group(2)))}", sentence)


def _terminated(cs: Mapping[str, Any]) -> Mapping[str, Any]:
    state = cs.get("state") or {}
    last = cs.get("lastState") or {}
    return state.get("terminated") or last.get("terminated") or {}


def _container_candidates(
    pod: str, cs: Mapping[str, Any], pull_not_found: bool
) -> list[_Candidate]:
    name = cs.get("name", "")
    waiting = (cs.get("state") or {}).get("waiting") or {}
    reason, message = waiting.get("reason", ""), waiting.get("message", "") or ""
    term = _terminated(cs)
    exit_code = term.get("exitCode")
    restarts = int_or_zero(cs.get("restartCount"))
    out: list[_Candidate] = []
    if reason == "CrashLoopBackOff":
        why = f" ({term['reason']})" if term.get("reason") not in (None, "", "Error") else ""
        code = f"exited with code {exit_code}{why}" if exit_code is not None else "crashed"
        out.append(_Candidate(
            "CrashLoopBackOff", pod, name,
            f"container {name} in pod {pod} {code}, {_restarts(restarts)}", exit_code,
            restarts=restarts,
        ))
    elif reason == "ErrImagePull" and (_NOT_FOUND.search(message) or pull_not_found):
        out.append(_Candidate(
            "ErrImagePull", pod, name,
            f"image for container {name} in pod {pod} was not found: {message or 'not found'}"
            " (was it built and pushed?)",
        ))
    elif reason == "ImagePullBackOff" and pull_not_found:
        # krane only sees "not found" in the ErrImagePull window; the pod's Failed events
        # keep saying it, so a missing image is caught during the back-off too.
        out.append(_Candidate(
            "ErrImagePull", pod, name,
            f"image for container {name} in pod {pod} was not found (was it built and pushed?)",
        ))
    elif reason == "ImagePullBackOff":
        out.append(_Candidate(
            "ImagePullBackOff", pod, name,
            f"container {name} in pod {pod} cannot pull its image: {message or 'back-off'}",
        ))
    elif reason == "CreateContainerConfigError" and not _SYNC_CACHE.search(message):
        out.append(_Candidate(
            "CreateContainerConfigError", pod, name,
            f"container {name} in pod {pod} has a bad config: {message}",
        ))
    if term.get("reason") == "ContainerCannotRun" and exit_code != 128:
        out.append(_Candidate(
            "ContainerCannotRun", pod, name,
            f"container {name} in pod {pod} cannot run: {term.get('message', '')}".rstrip(": "),
            exit_code, restarts=restarts,
        ))
    if term.get("reason") == "OOMKilled":
        out.append(_Candidate(
            "OOMKilled", pod, name,
            f"container {name} in pod {pod} was OOMKilled (exit code {exit_code}) "
            f"after {_restarts(restarts)}",
            exit_code, restarts=restarts,
        ))
    return out


def _events_by_pod(events: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for ev in events:
        obj = ev.get("involvedObject") or ev.get("regarding") or {}
        if obj.get("kind", "Pod") == "Pod" and obj.get("name"):
            out.setdefault(obj["name"], []).append(ev)
    return out


def _event_count(ev: Mapping[str, Any]) -> int:
    series = ev.get("series") or {}
    return max(int_or_zero(ev.get("count")), int_or_zero(series.get("count")), 1)


def _event_first(ev: Mapping[str, Any]) -> datetime | None:
    return parse_time(ev.get("firstTimestamp") or ev.get("eventTime") or ev.get("lastTimestamp"))


def _container_of(ev: Mapping[str, Any]) -> str:
    path = (ev.get("involvedObject") or ev.get("regarding") or {}).get("fieldPath") or ""
    m = re.search(r"containers\{([^}]*)\}", path)
    return m.group(1) if m else ""


def _pod_candidates(pod: Mapping[str, Any], events: list[Mapping[str, Any]]) -> list[_Candidate]:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    name = meta.get("name", "")
    pull_not_found = any(
        ev.get("reason") in ("Failed", "ErrImagePull")
        and "pull" in (ev.get("message") or "").lower()
        and _NOT_FOUND.search(ev.get("message") or "")
        for ev in events
    )
    out: list[_Candidate] = []
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        out.extend(_container_candidates(name, cs, pull_not_found))
    if status.get("phase") == "Failed" and status.get("reason") not in ("Evicted", "Preempting"):
        out.append(_Candidate(
            "PodFailed", name, "",
            f"pod {name} failed: {status.get('reason') or ''} {status.get('message') or ''}"
            .strip(),
        ))
    unhealthy = [
        ev for ev in events
        if ev.get("reason") == "Unhealthy"
        and "readiness probe" in (ev.get("message") or "").lower()
    ]
    if unhealthy:
        last = unhealthy[-1]
        firsts = [t for t in (_event_first(ev) for ev in unhealthy) if t]
        count = sum(_event_count(ev) for ev in unhealthy)
        container = _container_of(last)
        out.append(_Candidate(
            "Unhealthy", name, container,
            f"readiness probe of container {container or '?'} in pod {name} failed "
            f"{_times(count)}: {last.get('message', '')}",
            count=count, since=min(firsts) if firsts else None,
        ))
    scheduled = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None
    )
    unscheduled = scheduled if scheduled and scheduled.get("status") == "False" else None
    sched_events = [ev for ev in events if ev.get("reason") == "FailedScheduling"]
    is_scheduled = bool(scheduled and scheduled.get("status") == "True") or bool(
        (pod.get("spec") or {}).get("nodeName")
    )
    if not is_scheduled and (
        (unscheduled and unscheduled.get("reason") == "Unschedulable") or sched_events
    ):
        msg = (sched_events[-1].get("message") if sched_events else None) or (
            unscheduled or {}
        ).get("message", "")
        firsts = [t for t in (_event_first(ev) for ev in sched_events) if t]
        out.append(_Candidate(
            "Unschedulable", name, "", f"pod {name} could not be scheduled: {msg}",
            count=sum(_event_count(ev) for ev in sched_events) or None,
            since=min(firsts)
            if firsts
            else parse_time((unscheduled or {}).get("lastTransitionTime")),
        ))
    return out


def fatal_reasons(
    pods: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]],
    policy: Mapping[str, Any] | None,
    sightings: dict[str, Any],
    now: datetime,
    *,
    pod_template_hash: str | None = None,
) -> list[Fatal]:
    """Which pods of the new ReplicaSet are doomed, under `policy` (merged over defaults).

    * `pods`: pod JSON; with `pod_template_hash` (Progress.pod_template_hash) only pods
      carrying that label are judged (old ReplicaSets' pods never fail a release);
      terminating pods (deletionTimestamp) are ignored.
    * `events`: core/v1 events since the release started (pod events are used).
    * `sightings`: a JSON-serialisable dict the caller keeps between calls (e.g. on the
      release); updated in place: "<pod>/<container>/<reason>" -> {"first": iso, "n": count}.
      {"after_sightings": N} = seen in N evaluations (for Unhealthy/Unschedulable: the
      failure count Kubernetes reports, if higher); {"after_seconds": T} = T seconds since
      first seen (or since the first such event).
    * scope "all_pods" (default, krane): nothing is returned unless every live pod of the
      new RS has a fatal reason; "any_pod": each doomed pod is returned.
    Returns Fatal items, most-restarted first.
    """
    rules = merge_policy(policy)
    now = parse_time(now) or datetime.now(UTC)
    by_pod = _events_by_pod(events)
    live = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        if pod_template_hash and (meta.get("labels") or {}).get(HASH_LABEL) != pod_template_hash:
            continue
        live.append(pod)
    seen_keys: set[str] = set()
    doomed: dict[str, list[Fatal]] = {}
    for pod in live:
        name = (pod.get("metadata") or {}).get("name", "")
        for cand in _pod_candidates(pod, by_pod.get(name, [])):
            key = f"{cand.pod}/{cand.container}/{cand.reason}"
            seen_keys.add(key)
            entry = sightings.setdefault(key, {"first": now.isoformat(), "n": 0})
            entry["n"] = int(entry.get("n", 0)) + 1
            first = parse_time(entry.get("first")) or now
            if cand.since and cand.since < first:
                first = cand.since
            if _is_fatal(rules.get(cand.reason, "never"), entry["n"], cand, first, now):
                doomed.setdefault(name, []).append(Fatal(
                    cand.reason, cand.pod, cand.container, cand.message, cand.exit_code,
                    first, cand.restarts,
                ))
    for key in [k for k in sightings if k not in seen_keys]:
        del sightings[key]  # the condition went away: start counting afresh next time
    if not doomed:
        return []
    if rules.get("scope", "all_pods") == "all_pods" and len(doomed) < len(live):
        return []
    result = [f for fs in doomed.values() for f in fs]
    return sorted(result, key=lambda f: (-f.restarts, f.pod, f.container))


def _is_fatal(rule: Any, n: int, cand: _Candidate, first: datetime, now: datetime) -> bool:
    if rule == "fatal":
        return True
    if not isinstance(rule, Mapping):
        return False
    if "after_sightings" in rule and max(n, cand.count or 0) >= int(rule["after_sightings"]):
        return True
    return "after_seconds" in rule and (now - first).total_seconds() >= float(
        rule["after_seconds"]
    )
