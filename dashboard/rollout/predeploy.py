"""The pre-deploy (migration) Job, from plain data: its settings checked, its body built from
the Deployment's own pod template, its outcome read from the Job and its pod.

The settings are four per deploy target (today fields of the Service; an environment can
carry the same four and call the same checks): a command (a JSON list of strings; empty = no
Job), its deadline in seconds, rollout steps (new pods per step before the bake), bake seconds.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

JOB_TTL_SECONDS = 24 * 3600  # finished Jobs stay a day for `kubectl logs job/...`, then go
RELEASE_ANNOTATION = "deploy.dashboard/release"
# Probes make no sense for a container that runs to completion; ports and lifecycle hooks
# neither. Everything else (env, envFrom, volumes, service account, resources) is kept.
DROPPED_CONTAINER_KEYS = ("readinessProbe", "livenessProbe", "startupProbe", "lifecycle",
                          "ports")


def check_command(value: Any) -> list[str]:
    """A JSON list of non-empty strings ([] = no pre-deploy Job); ValueError otherwise."""
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        raise ValueError('must be a JSON list of non-empty strings, e.g. ["python", '
                         '"manage.py", "migrate", "--noinput"] (or [] for none)')
    return value


def check_steps(value: Any, replicas: int | None = None) -> list[int]:
    """Rising positive pod counts, each below the replica count when it is known."""
    if not isinstance(value, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value):
        raise ValueError("must be a JSON list of positive pod counts, e.g. [1] (or [] for none)")
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise ValueError("pod counts must rise from step to step")
    if replicas is not None and value and value[-1] >= replicas:
        raise ValueError(f"a step of {value[-1]} pods is not smaller than the {replicas} "
                         "replicas: it would not pause before the rest")
    return value


def check_positive_seconds(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError("must be a positive number of seconds")
    return value


def job_name(deployment: str, release_id: int) -> str:
    """One name per release, so a re-run (crash, retry, redelivery) finds the same Job
    instead of creating a second one. Within the 63 characters a label value allows."""
    suffix = f"-predeploy-{release_id}"
    base = deployment[: 63 - len(suffix)].rstrip("-")
    return f"{base}{suffix}"


def build_job(deployment: Mapping[str, Any], *, name: str, container: str, image: str,
              command: Sequence[str], deadline_seconds: int, release_id: int) -> dict[str, Any]:
    """The Job: the Deployment's pod template (env, secrets, volumes, service account) with
    `image` and `command` in `container`, run once (backoffLimit 0, restartPolicy Never)."""
    template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
    spec = template.setdefault("spec", {})
    containers = spec.get("containers") or []
    target = next((c for c in containers if c.get("name") == container), None)
    if target is None:
        raise ValueError(f"the Deployment has no container {container!r}")
    target["image"] = image
    target["command"] = list(command)
    target.pop("args", None)
    for key in DROPPED_CONTAINER_KEYS:
        target.pop(key, None)
    # Sidecars would keep the pod from completing: the Job runs the app container alone.
    spec["containers"] = [target]
    spec["restartPolicy"] = "Never"
    meta = template.setdefault("metadata", {})
    # Not the Deployment's selector labels: the Job's pod must not join its Service or
    # count as one of its pods.
    app = (meta.get("labels") or {}).get("app") or deployment["metadata"]["name"]
    meta["labels"] = {"app.kubernetes.io/component": "predeploy", "predeploy-for": app}
    meta["annotations"] = {RELEASE_ANNOTATION: str(release_id)}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": dict(meta["labels"]),
                     "annotations": {RELEASE_ANNOTATION: str(release_id)}},
        "spec": {"backoffLimit": 0, "activeDeadlineSeconds": deadline_seconds,
                 "ttlSecondsAfterFinished": JOB_TTL_SECONDS, "template": template},
    }


@dataclass(frozen=True)
class Outcome:
    done: bool
    succeeded: bool = False
    reason: str = ""  # the Failed condition's reason (BackoffLimitExceeded, DeadlineExceeded)
    message: str = ""
    exit_code: int | None = None
    pod: str = ""


def outcome(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> Outcome:
    """Finished or not, from the Job's conditions; the exit code from its newest pod."""
    conds = {c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []
             if c.get("status") == "True"}
    newest = max(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp", ""),
                 default=None)
    exit_code = None
    if newest is not None:
        for cs in (newest.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated")
            if term is not None:
                exit_code = term.get("exitCode")
    pod = (newest or {}).get("metadata", {}).get("name", "")
    if "Complete" in conds:
        return Outcome(True, True, exit_code=exit_code, pod=pod)
    if "Failed" in conds:
        c = conds["Failed"]
        return Outcome(True, False, c.get("reason", ""), c.get("message", ""), exit_code, pod)
    return Outcome(False, exit_code=exit_code, pod=pod)


# `manage.py migrate` prints "  Applying app.0012_name... OK" per migration; one that fails
# prints its "Applying app.0013_name..." and then the traceback (no " OK").
_APPLYING = re.compile(r"^\s*Applying (?P<name>[\w.-]+\.[\w-]+)\.\.\.(?P<rest>.*)$")


@dataclass(frozen=True)
class Migration:
    name: str  # app_label.migration_name
    ok: bool


def applied_migrations(log: str) -> list[Migration]:
    """The migrations a Django `migrate` run reports in its output, in order, each OK or not
    (the one it failed on). Output of other commands yields nothing."""
    found = []
    for line in log.splitlines():
        m = _APPLYING.match(line)
        if m:
            found.append(Migration(m["name"], m["rest"].strip().startswith("OK")))
    return found
