"""The simulated cluster: store, watch hub, API rules, controllers, and their run loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Protocol

from ..chaos import Chaos
from ..registry import Registry, split_reference
from .api import Api
from .clock import Clock
from .controllers.deployment import DeploymentController
from .controllers.endpoints import EndpointsController
from .controllers.gc import GarbageCollector
from .controllers.job import JobController
from .controllers.kubelet import Kubelet
from .controllers.podsim import NODES
from .controllers.replicaset import ReplicaSetController
from .events import Recorder
from .logs import LogStore
from .manifests import apply_manifests, manifest_images
from .resources import DEPLOYMENTS, JOBS, NAMESPACES, PODS, REPLICASETS, SERVICES
from .resources import NODES as NODE_TYPE
from .snapshot import Snapshot
from .store import Change, Store
from .watch import WatchHub

log = logging.getLogger("sandbox.kube")


class Controller(Protocol):
    def sync(self) -> float | None:
        """Reconcile everything once; return the clock time it next needs to run, if any."""
PRELOADED_COMMIT = "0000000000000000000000000000000000000000"
WAKES = {k.key for k in (DEPLOYMENTS, REPLICASETS, PODS, SERVICES, JOBS)}
MAX_PASSES = 200  # a pass that still writes after this many is a controller bug; stop looping


class Cluster:
    def __init__(
        self, *, registry: Registry, chaos: Chaos, speed: float = 1.0,
        manifests: Path | None = None, preload: Path | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.registry = registry
        self.chaos = chaos
        self.clock = clock or Clock(speed)
        self.manifests = manifests
        self.preload = preload
        self.requests = 0
        self.cloudbuild_app: Any = None  # set by __main__ when Cloud Build is served too
        self.identity: Any = None  # sandbox.identity.Identity, set by __main__
        self.hub = WatchHub()
        self.logs = LogStore(self.clock)
        self._setup()
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.snapshot: Snapshot | None = None  # the settled start state, for a warm reset
        self.client_writes = 0  # API writes by clients since the last cold start

    def _setup(self) -> None:
        self.store = Store(self.clock)
        self.store.listeners.append(self.hub.on_change)
        self.store.listeners.append(self._on_change)
        self.api = Api(self.store, self.clock)
        self.recorder = Recorder(self.store, self.clock)
        self.kubelet = Kubelet(self)
        self.controllers: list[Controller] = [
            GarbageCollector(self), self.kubelet, ReplicaSetController(self),
            DeploymentController(self), EndpointsController(self), JobController(self),
        ]

    def _on_change(self, change: Change) -> None:
        # Only kinds the controllers read wake them: Events, ConfigMaps and the like do not,
        # so write bursts of those do not cost controller passes (watch latency, idle CPU).
        if change.key in WAKES:
            self.poke()

    def poke(self) -> None:
        if hasattr(self, "wakeup"):
            self.wakeup.set()

    def bootstrap(self) -> None:
        """What the cluster holds right after start: namespaces, nodes, the repo's manifests."""
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(NAMESPACES, None, {"metadata": {"name": ns}, "spec": {
                "finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
        for i, node in enumerate(NODES):
            self.api.create(NODE_TYPE, None, {
                "metadata": {"name": node, "labels": {
                    "kubernetes.io/hostname": node, "kubernetes.io/os": "linux",
                    "cloud.google.com/gke-nodepool": "pool-1"}},
                "spec": {"podCIDR": f"10.8.{i}.0/24"},
                "status": {"conditions": [{"type": "Ready", "status": "True",
                                           "reason": "KubeletReady"}],
                           "addresses": [{"type": "InternalIP", "address": f"10.128.0.{i + 2}"}],
                           "nodeInfo": {"kubeletVersion": "v1.32.4-gke.1000",
                                        "containerRuntimeVersion": "containerd://1.7.24"}},
            })
        self.preload_images()
        if self.manifests is not None and self.manifests.is_dir():
            apply_manifests(self.api, self.manifests)

    def preload_images(self) -> None:
        """Every image the manifests name, plus the --preload file's `image [commit]` lines."""
        if self.manifests is not None and self.manifests.is_dir():
            for image in manifest_images(self.manifests):
                if self.registry.resolve(image) is None:
                    self._push(image, PRELOADED_COMMIT)
        if self.preload is not None:
            for line in self.preload.read_text().splitlines():
                parts = line.split()
                if parts and not parts[0].startswith("#"):
                    self._push(parts[0], parts[1] if len(parts) > 1 else PRELOADED_COMMIT)

    def _push(self, reference: str, commit: str) -> None:
        repository, tag, _digest = split_reference(reference)
        self.registry.push(repository, tag or "latest", commit)

    def reset(self) -> None:
        """Back to the state right after start (watches are closed; clients re-list)."""
        self.hub.drop_all()
        self.logs.clear()
        self.chaos.reset()
        if self.identity is not None:
            self.identity.disabled = False  # revoked tokens stay revoked
        self.registry.clear()  # builds pushed since start are forgotten; re-preloaded below
        rv = self.store.rv
        self._setup()
        # Versions keep rising across a reset, and every older one is gone (410).
        self.store.rv = self.store.expired_below = rv
        if self.snapshot is not None:
            self.preload_images()
            self.snapshot.restore(self)
        else:
            self.client_writes = 0
            self.bootstrap()
        self.poke()

    def settled(self) -> bool:
        """Every Deployment rolled out, nothing pending: the state right after start."""
        deployments = self.store.list(DEPLOYMENTS)
        return bool(deployments) and all(
            d.get("status", {}).get("observedGeneration") == d["metadata"].get("generation")
            and d.get("status", {}).get("availableReplicas", 0) == d["spec"].get("replicas", 1)
            and d.get("status", {}).get("updatedReplicas", 0) == d["spec"].get("replicas", 1)
            for d in deployments)

    # --- the control loop --------------------------------------------------------------
    def run_passes(self) -> float | None:
        """Run every controller until a whole pass writes nothing; the earliest timer."""
        wake: float | None = None
        for _ in range(MAX_PASSES):
            before = self.store.rv
            wake = None
            for controller in self.controllers:
                try:
                    at = controller.sync()
                except Exception:
                    log.exception("controller %s failed", type(controller).__name__)
                    at = None
                if at is not None:
                    wake = at if wake is None else min(wake, at)
            if self.store.rv == before:
                if (wake is None and self.snapshot is None and not self.client_writes
                        and self.settled()):
                    self.snapshot = Snapshot.take(self)
                return wake
        log.warning("controllers did not settle after %d passes", MAX_PASSES)
        return self.clock.now() + 0.05

    async def run(self) -> None:
        while True:
            self.wakeup.clear()
            self.clock.advanced.clear()
            wake = self.run_passes()
            timeout = None if wake is None else max(0.0, wake - self.clock.now())
            waiters = [asyncio.ensure_future(self.wakeup.wait()),
                       asyncio.ensure_future(self.clock.advanced.wait())]
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            # Let bursts of API writes land before the next pass.
            await asyncio.sleep(0)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
