"""Scheduler + kubelet simulation: each pod walks a clock-driven state machine.

Pending -> Scheduled -> Pulling -> Pulled -> Created -> Started -> Ready (after the readiness
probe's initialDelaySeconds), with behaviour chosen by the commit of the pulled image:
`dead...` crash-loops, `fa11...` never gets ready, `5105...` is ready after 3x the delay, an
image the registry lacks fails with ErrImagePull then ImagePullBackOff. Durations are divided
by the clock's speed.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import TYPE_CHECKING, Any

from ..logs import crash_lines, health_line, startup_lines
from ..resources import PODS
from . import jobpod
from .podsim import NODES, PodSim, backoff, build_status

if TYPE_CHECKING:
    from ..cluster import Cluster

Obj = dict[str, Any]
SCHEDULE, PULL, CREATE, START, CRASH_AFTER, KILL_MIN = 0.3, 1.5, 0.3, 0.3, 2.0, 0.5


def prestop_seconds(container: Obj) -> float:
    cmd = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get(
        "command") or []
    m = re.search(r"sleep\s+(\d+(?:\.\d+)?)", " ".join(cmd))
    sleep = (container.get("lifecycle") or {}).get("preStop", {}).get("sleep", {})
    if sleep.get("seconds"):
        return float(sleep["seconds"])
    return float(m.group(1)) if m else 0.0


class Kubelet:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.clock = cluster.clock
        self.sims: dict[str, PodSim] = {}
        self.pulled: set[tuple[str, str]] = set()  # (node, image) already on the node
        self.next_node = 0

    def reset(self) -> None:
        self.sims.clear()
        self.pulled.clear()

    def sync(self) -> float | None:
        wake: float | None = None
        now = self.clock.now()
        seen = set()
        for pod in self.cluster.store.list(PODS):
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            sim = self.sims.get(uid)
            if sim is None:
                sim = self.sims[uid] = PodSim(next_at=now)
            if pod["metadata"].get("deletionTimestamp") and sim.stage != "terminating":
                self.begin_termination(pod, sim)
            if sim.next_at is not None and now >= sim.next_at:
                self.step(pod, sim)
            if sim.next_at is not None:
                wake = sim.next_at if wake is None else min(wake, sim.next_at)
        for uid in [u for u in self.sims if u not in seen]:
            self.sims.pop(uid)
            self.cluster.logs.forget(uid)
        return wake

    # --- helpers -----------------------------------------------------------------------
    def later(self, sim: PodSim, seconds: float) -> None:
        sim.next_at = self.clock.now() + self.clock.sim(seconds)

    def event(self, pod: Obj, kind: str, reason: str, message: str, container: str | None = None,
              component: str = "kubelet") -> None:
        self.cluster.recorder.emit(
            pod, kind, reason, message, component,
            host=pod["spec"].get("nodeName") if component == "kubelet" else None,
            field_path=f"spec.containers{{{container}}}" if container else None,
        )

    def write(self, pod: Obj, sim: PodSim, extra: Obj | None = None) -> None:
        current = self.cluster.store.get(PODS, pod["metadata"]["namespace"],
                                         pod["metadata"]["name"])
        if current is None:
            return
        new = copy.deepcopy(current)
        if extra:
            new["spec"].update(extra)
        new["status"] = build_status(new, sim, self.clock, current.get("status") or {})
        if new != current:
            # The scheduler's binding and the kubelet's status writes are trusted: stored as is.
            self.cluster.store.put(PODS, new)

    def containers(self, pod: Obj) -> list[Obj]:
        return pod["spec"].get("containers") or []

    # --- the state machine -------------------------------------------------------------
    def step(self, pod: Obj, sim: PodSim) -> None:
        name = pod["metadata"]["name"]
        ns = pod["metadata"]["namespace"]
        first = self.containers(pod)[0] if self.containers(pod) else {"name": "main", "image": ""}
        image_ref = first.get("image", "")
        if sim.stage == "new":
            node = NODES[self.next_node % len(NODES)]
            self.next_node += 1
            sim.node_index = NODES.index(node)
            sim.ip = f"10.8.{sim.node_index}.{int(hashlib.md5(name.encode()).hexdigest(), 16) % 250 + 2}"  # noqa: S324,E501
            self.event(pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}",
                       component="default-scheduler")
            sim.stage = "scheduled"
            self.later(sim, SCHEDULE)
            self.write(pod, sim, {"nodeName": node})
        elif sim.stage in ("scheduled", "pull-retry"):
            node = pod["spec"]["nodeName"]
            policy = first.get("imagePullPolicy", "IfNotPresent")
            if policy != "Always" and (node, image_ref) in self.pulled:
                image = self.cluster.registry.resolve(image_ref)
                if image is not None:
                    sim.image = image
                    for c in self.containers(pod):
                        self.event(pod, "Normal", "Pulled", f'Container image "{c["image"]}" '
                                   "already present on machine", c["name"])
                    sim.stage = "pulled"
                    self.later(sim, CREATE)
                    self.write(pod, sim)
                    return
            for c in self.containers(pod):
                self.event(pod, "Normal", "Pulling", f'Pulling image "{c["image"]}"', c["name"])
            sim.stage = "pulling"
            self.later(sim, PULL)
            self.write(pod, sim)
        elif sim.stage == "pulling":
            self.finish_pull(pod, sim, image_ref)
        elif sim.stage == "pull-failed":
            for c in self.containers(pod):
                self.event(pod, "Normal", "BackOff", f'Back-off pulling image "{c["image"]}"',
                           c["name"])
                self.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", c["name"])
            last_error = sim.waiting[1] if sim.waiting and sim.waiting[0] == "ErrImagePull" else ""
            sim.waiting = ("ImagePullBackOff",
                           f'Back-off pulling image "{image_ref}": ErrImagePull: {last_error}')
            sim.stage = "pull-retry"
            self.later(sim, backoff(sim.pull_failures))
            self.write(pod, sim)
        elif sim.stage == "pulled":
            for c in self.containers(pod):
                self.event(pod, "Normal", "Created", f"Created container {c['name']}", c["name"])
            sim.stage = "created"
            self.later(sim, START)
            self.write(pod, sim)
        elif sim.stage == "created":
            self.start(pod, sim)
        elif sim.stage == "warming":
            self.probe(pod, sim)
        elif sim.stage == "running-crash":
            self.crash(pod, sim)
        elif sim.stage == "crash-backoff":
            for c in self.containers(pod):
                self.cluster.logs.restart(pod["metadata"]["uid"], c["name"])
                self.event(pod, "Normal", "Pulled", f'Container image "{c["image"]}" already '
                           "present on machine", c["name"])
                self.event(pod, "Normal", "Created", f"Created container {c['name']}", c["name"])
            sim.stage = "created"
            self.later(sim, START)
            self.write(pod, sim)
        elif sim.stage == "job-running":
            self.exit(pod, sim)
        elif sim.stage == "terminating":
            self.finish_termination(pod, sim)

    def finish_pull(self, pod: Obj, sim: PodSim, image_ref: str) -> None:
        image = self.cluster.registry.resolve(image_ref)
        if image is None or image.commit.startswith("bad"):
            sim.pull_failures += 1
            ref = image_ref if "/" in image_ref else f"docker.io/library/{image_ref}"
            err = (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
                   f'failed to resolve reference "{ref}": {ref}: not found')
            for c in self.containers(pod):
                self.event(pod, "Warning", "Failed", f'Failed to pull image "{c["image"]}": {err}',
                           c["name"])
                self.event(pod, "Warning", "Failed", "Error: ErrImagePull", c["name"])
            sim.waiting = ("ErrImagePull", err)
            sim.stage = "pull-failed"
            self.later(sim, 1.0)
            self.write(pod, sim)
            return
        sim.image = image
        self.pulled.add((pod["spec"]["nodeName"], image_ref))
        took = PULL / self.clock.speed
        for c in self.containers(pod):
            self.event(pod, "Normal", "Pulled",
                       f'Successfully pulled image "{c["image"]}" in {took:.3f}s ({took:.3f}s '
                       "including waiting). Image size: 48213412 bytes.", c["name"])
        sim.waiting = ("ContainerCreating", None)
        sim.stage = "pulled"
        self.later(sim, CREATE)
        self.write(pod, sim)

    def start(self, pod: Obj, sim: PodSim) -> None:
        commit = sim.image.commit if sim.image else ""
        uid = pod["metadata"]["uid"]
        if pod["spec"].get("restartPolicy", "Always") != "Always":
            self.start_to_completion(pod, sim, commit)
            return
        for c in self.containers(pod):
            self.event(pod, "Normal", "Started", f"Started container {c['name']}", c["name"])
            self.cluster.logs.write(uid, c["name"], *startup_lines(c.get("image", ""), commit,
                                                                  pod["metadata"]["name"]))
        sim.running_since = self.clock.now()
        sim.waiting = None
        sim.started_once = True
        if commit.startswith("dead"):
            sim.stage = "running-crash"
            self.later(sim, CRASH_AFTER)
            self.write(pod, sim)
            return
        probe = self.containers(pod)[0].get("readinessProbe") if self.containers(pod) else None
        delay = float((probe or {}).get("initialDelaySeconds", 0) or 0)
        sim.period = float((probe or {}).get("periodSeconds", 10) or 10)
        if probe is None:
            sim.ready = True
            sim.stage = "ready"
            sim.next_at = None
        else:
            sim.never_ready = commit.startswith("fa11")
            slow = commit.startswith("5105")
            sim.ready_at = None if sim.never_ready else (
                self.clock.now() + self.clock.sim(3 * max(delay, 2.0) if slow else delay))
            sim.stage = "warming"
            sim.first_probe = self.clock.now() + self.clock.sim(delay)
            sim.next_at = sim.ready_at if (sim.ready_at is not None and not slow) else (
                sim.first_probe)
        self.write(pod, sim)

    def start_to_completion(self, pod: Obj, sim: PodSim, commit: str) -> None:
        """A Job's container: prints, then exits (see jobpod); never restarted."""
        runs = jobpod.RUN_SECONDS
        for c in self.containers(pod):
            self.event(pod, "Normal", "Started", f"Started container {c['name']}", c["name"])
            command = [*(c.get("command") or []), *(c.get("args") or [])]
            first, _rest, _code = jobpod.output(command, commit)
            self.cluster.logs.write(pod["metadata"]["uid"], c["name"], *first)
            runs = max(runs, jobpod.run_seconds(command))
        sim.running_since = self.clock.now()
        sim.waiting = None
        sim.started_once = True
        sim.stage = "job-running"
        self.later(sim, runs)
        self.write(pod, sim)

    def exit(self, pod: Obj, sim: PodSim) -> None:
        commit = sim.image.commit if sim.image else ""
        worst = 0
        for c in self.containers(pod):
            _first, rest, code = jobpod.output(
                [*(c.get("command") or []), *(c.get("args") or [])], commit)
            self.cluster.logs.write(pod["metadata"]["uid"], c["name"], *rest)
            self.cluster.logs.close(pod["metadata"]["uid"], c["name"])
            worst = worst or code
        sim.exit_code = worst
        sim.exited_at = self.clock.now()
        sim.stage = "exited"
        sim.next_at = None
        self.write(pod, sim)

    def probe(self, pod: Obj, sim: PodSim) -> None:
        now = self.clock.now()
        probe = self.containers(pod)[0].get("readinessProbe") or {}
        path = (probe.get("httpGet") or {}).get("path", "/")
        uid, cname = pod["metadata"]["uid"], self.containers(pod)[0]["name"]
        if sim.ready_at is not None and now >= sim.ready_at:
            sim.ready = True
            sim.stage = "ready"
            sim.next_at = None
            self.cluster.logs.write(uid, cname, health_line(200, path))
            self.write(pod, sim)
            return
        self.event(pod, "Warning", "Unhealthy",
                   "Readiness probe failed: HTTP probe failed with statuscode: 503", cname)
        self.cluster.logs.write(uid, cname, health_line(503, path))
        nxt = now + self.clock.sim(sim.period)
        sim.next_at = min(nxt, sim.ready_at) if sim.ready_at is not None else nxt

    def crash(self, pod: Obj, sim: PodSim) -> None:
        commit = sim.image.commit if sim.image else ""
        uid, ns, name = pod["metadata"]["uid"], pod["metadata"]["namespace"], pod["metadata"][
            "name"]
        sim.restarts += 1
        sim.last_terminated = (sim.running_since or self.clock.now(), self.clock.now())
        wait = backoff(sim.restarts)
        for c in self.containers(pod):
            self.cluster.logs.write(uid, c["name"], *crash_lines(commit))
            self.cluster.logs.close(uid, c["name"])
            self.event(pod, "Warning", "BackOff", f"Back-off restarting failed container "
                       f"{c['name']} in pod {name}_{ns}({uid})", c["name"])
        sim.waiting = ("CrashLoopBackOff", f"back-off {int(wait)}s restarting failed container="
                       f"{self.containers(pod)[0]['name']} pod={name}_{ns}({uid})")
        sim.ready = False
        sim.stage = "crash-backoff"
        self.later(sim, wait)
        self.write(pod, sim)

    # --- termination -------------------------------------------------------------------
    def begin_termination(self, pod: Obj, sim: PodSim) -> None:
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds", 30))
        running = sim.running_since is not None and sim.waiting is None
        hold = KILL_MIN
        for c in self.containers(pod):
            if running:
                hold = max(hold, min(prestop_seconds(c), grace))
            self.event(pod, "Normal", "Killing", f"Stopping container {c['name']}", c["name"])
        sim.stage = "terminating"
        self.later(sim, hold)

    def finish_termination(self, pod: Obj, sim: PodSim) -> None:
        meta = pod["metadata"]
        for c in self.containers(pod):
            self.cluster.logs.close(meta["uid"], c["name"])
        if self.cluster.store.get(PODS, meta["namespace"], meta["name"]) is not None:
            self.cluster.store.remove(PODS, meta["namespace"], meta["name"])
        sim.next_at = None
