"""The failure summary stored on a failed release, from plain data.

The caller gathers the facts (fatal reasons from failfast, the pods, Warning
events since the release started, log lines via KubeAdapter.recent_logs for the pod and
container `log_target` names) and stores the dict this returns as Release.failure_summary.
Like krane's debug output: one reason sentence, the failing pod/container, Warning
events, the last 25 log lines, and what changed since the previous release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dashboard.rollout.failfast import Fatal
from dashboard.rollout.objects import parse_time
from dashboard.rollout.status import Progress

LOG_LINES = 25
MAX_EVENTS = 30


def log_target(
    fatal: Sequence[Fatal], pods: Iterable[Mapping[str, Any]] = ()
) -> tuple[str, str] | None:
    """The (pod, container) whose logs explain the failure: the first fatal one that names
    a container, else the first container of the first not-ready pod given, else None."""
    for f in fatal:
        if f.pod and f.container:
            return f.pod, f.container
    pod_list = list(pods)
    for pod in pod_list:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        for cs in statuses:
            if not cs.get("ready"):
                return (pod.get("metadata") or {}).get("name", ""), cs.get("name", "")
    for pod in pod_list:
        containers = (pod.get("spec") or {}).get("containers") or []
        if containers:
            return (pod.get("metadata") or {}).get("name", ""), containers[0].get("name", "")
    return None


def warning_events(events: Iterable[Mapping[str, Any]], limit: int = MAX_EVENTS) -> list[dict]:
    """Warning events as small dicts, oldest first, the last `limit` of them."""
    out = []
    for ev in events:
        if ev.get("type") != "Warning":
            continue
        obj = ev.get("involvedObject") or ev.get("regarding") or {}
        at = parse_time(
            ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp")
        )
        out.append({
            "at": at.isoformat() if at else None,
            "object": f"{obj.get('kind', '')}/{obj.get('name', '')}",
            "reason": ev.get("reason", ""),
            "message": ev.get("message") or ev.get("note") or "",
            "count": int(ev.get("count") or (ev.get("series") or {}).get("count") or 1),
        })
    out.sort(key=lambda e: e["at"] or "")
    return out[-limit:]


def build_summary(
    *,
    fatal: Sequence[Fatal] = (),
    pods: Iterable[Mapping[str, Any]] = (),
    events: Iterable[Mapping[str, Any]] = (),
    logs: Sequence[str] | Mapping[str, Sequence[str]] = (),
    commit_from: str = "",
    commit_to: str = "",
    digest_from: str = "",
    digest_to: str = "",
    progress: Progress | None = None,
    deployment: str = "",
    timeout_seconds: int | None = None,
    reason: str = "",
    code: str = "",
) -> dict[str, Any]:
    """The summary dict:
    {code, reason, pod, container, exit_code, events: [...Warning], logs: [last 25 lines],
     changed: {commit_from, commit_to, digest_from, digest_to}}.

    The reason sentence comes from, in order: `reason` (given by the caller, e.g. a build
    failure or a failed verification), the first Fatal ("CrashLoopBackOff: container api in
    pod X exited with code 1 5 times"), a progress deadline, a rollout timeout, else a
    generic sentence. `logs` is a list of lines or {"pod/container": lines}.
    """
    first = fatal[0] if fatal else None
    pod_list = list(pods)
    if reason:
        sentence, code = reason, code or "Failed"
    elif first is not None:
        code = first.reason
        sentence = f"{first.reason}: {first.message}"
        others = len({f.pod for f in fatal}) - 1
        if others > 0:
            sentence += f" (and {others} more pod{'s' if others > 1 else ''})"
    elif progress is not None and progress.deadline_exceeded:
        code = "ProgressDeadlineExceeded"
        named = f" {deployment}" if deployment else ""
        sentence = (
            f"ProgressDeadlineExceeded: deployment{named} made no progress before its "
            f"deadline; {progress.available} of {progress.desired} replicas available, "
            f"{progress.updated} updated"
        )
    elif timeout_seconds is not None:
        code = "RolloutTimeout"
        state = f"; {progress.message}" if progress is not None else ""
        sentence = f"RolloutTimeout: the rollout did not finish within {timeout_seconds} s{state}"
    else:
        code = code or "Failed"
        sentence = "The release failed"
    target = log_target(fatal, pod_list)
    pod, container = (first.pod, first.container) if first else (target or ("", ""))
    exit_code = first.exit_code if first else None
    return {
        "code": code,
        "reason": sentence,
        "pod": pod,
        "container": container,
        "exit_code": exit_code,
        "events": warning_events(events),
        "logs": _last_lines(logs),
        "changed": {
            "commit_from": commit_from,
            "commit_to": commit_to,
            "digest_from": digest_from,
            "digest_to": digest_to,
        },
        "fatal": [f.to_dict() for f in fatal],
    }


def _last_lines(logs: Sequence[str] | Mapping[str, Sequence[str]]) -> list[str]:
    if isinstance(logs, Mapping):
        # One source: its lines as they are; several: each line says where it came from.
        lines: list[str] = []
        for source, chunk in logs.items():
            prefix = f"[{source}] " if len(logs) > 1 else ""
            lines.extend(f"{prefix}{line}" for line in chunk)
        return lines[-LOG_LINES:]
    flat: list[str] = []
    for item in logs:
        flat.extend(str(item).splitlines() or [""])
    return flat[-LOG_LINES:]
