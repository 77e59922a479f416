"""The deployment controller: one sync per Deployment per pass, one kind of scaling move per sync.

Follows shared/reference/kubernetes-semantics.md §3.2-§3.10 (upstream
pkg/controller/deployment: syncDeployment, getNewReplicaSet, rolloutRolling, rolloutRecreate,
scale, cleanupDeployment, syncRolloutStatus).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .. import errors
from ..clock import parse_stamp
from ..resources import DEPLOYMENTS, REPLICASETS
from . import deputil as u
from .recreate import cleanup, rollout_recreate
from .scaling import Scaler

if TYPE_CHECKING:
    from ..cluster import Cluster

Obj = dict[str, Any]


class DeploymentController(Scaler):
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.api = cluster.api
        self.clock = cluster.clock

    def sync(self) -> float | None:
        wake: float | None = None
        for d in self.cluster.store.list(DEPLOYMENTS):
            at = self.sync_one(d)
            if at is not None:
                wake = at if wake is None else min(wake, at)
        return wake

    # --- helpers -----------------------------------------------------------------------
    def owned(self, d: Obj) -> list[Obj]:
        uid = d["metadata"]["uid"]
        return [
            rs for rs in self.cluster.store.list(REPLICASETS, d["metadata"]["namespace"])
            if any(o.get("uid") == uid and o.get("controller")
                   for o in rs["metadata"].get("ownerReferences") or [])
        ]

    def write_status(self, d: Obj, st: Obj) -> Obj:
        new = copy.deepcopy(d)
        new["status"] = st
        return self.api.update(DEPLOYMENTS, d["metadata"]["namespace"], d["metadata"]["name"],
                               new, "status")

    def event(self, obj: Obj, reason: str, message: str, kind: str = "Normal") -> None:
        self.cluster.recorder.emit(obj, kind, reason, message, "deployment-controller")

    # --- syncDeployment ----------------------------------------------------------------
    def sync_one(self, d: Obj) -> float | None:
        if d["metadata"].get("deletionTimestamp"):
            return None
        sel = d["spec"].get("selector") or {}
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.event(d, "SelectingAll", "This deployment is selecting all pods. A non-empty "
                       "selector is required.", "Warning")
            return None
        rss = self.owned(d)
        d = self.check_paused_conditions(d)
        if d["spec"].get("paused"):
            return self.sync_scale(d, rss, cleanup=True)
        new_rs, old = self.get_new_rs(d, rss, create=False)
        d = self.cluster.store.get(DEPLOYMENTS, d["metadata"]["namespace"],
                                   d["metadata"]["name"]) or d
        if self.is_scaling_event(d, [*old, new_rs] if new_rs else old):
            return self.sync_scale(d, self.owned(d), cleanup=False)
        if (d["spec"].get("strategy") or {}).get("type") == "Recreate":
            return self.rollout_recreate(d, self.owned(d))
        return self.rollout_rolling(d, self.owned(d))

    def check_paused_conditions(self, d: Obj) -> Obj:
        if not u.has_deadline(d):
            return d
        st = copy.deepcopy(d.get("status") or {})
        cond = u.get_condition(st, "Progressing")
        if cond and cond["reason"] == u.TIMED_OUT:
            return d
        paused_cond = cond is not None and cond["reason"] == "DeploymentPaused"
        now = self.clock.stamp()
        if d["spec"].get("paused") and not paused_cond:
            u.set_condition(st, u.new_condition("Progressing", "Unknown", "DeploymentPaused",
                                                "Deployment is paused", now))
        elif not d["spec"].get("paused") and paused_cond:
            u.set_condition(st, u.new_condition("Progressing", "Unknown", "DeploymentResumed",
                                                "Deployment is resumed", now))
        else:
            return d
        return self.write_status(d, st)

    def is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        for rs in u.active(list(rss)):
            desired = (rs["metadata"].get("annotations") or {}).get(u.DESIRED)
            if desired is not None and desired.isdigit() and int(desired) != u.replicas(d):
                return True
        return False

    # --- getNewReplicaSet --------------------------------------------------------------
    def get_new_rs(self, d: Obj, rss: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        existing = u.find_new(d, rss)
        old = [rs for rs in rss if existing is None or rs is not existing]
        new_revision = max((u.revision(rs) for rs in old), default=0) + 1
        ns, _now = d["metadata"]["namespace"], self.clock.stamp()
        if existing is not None:
            rs = copy.deepcopy(existing)
            ann = rs["metadata"].setdefault("annotations", {})
            for k, v in (d["metadata"].get("annotations") or {}).items():
                if k not in u.SKIP_ANNOTATIONS:
                    ann[k] = v
            if u.revision(rs) < new_revision:
                previous = ann.get(u.REVISION)
                if previous:
                    history = ann.get(u.REVISION_HISTORY)
                    ann[u.REVISION_HISTORY] = (
                        f"{history},{previous}" if history else previous)[-2000:]
                ann[u.REVISION] = str(new_revision)
            if d["spec"].get("minReadySeconds", 0) != rs["spec"].get("minReadySeconds", 0):
                rs["spec"]["minReadySeconds"] = d["spec"].get("minReadySeconds", 0)
            if rs != existing:
                rs = self.api.update(REPLICASETS, ns, rs["metadata"]["name"], rs)
            self.sync_deployment_revision(d, rs, "FoundNewReplicaSet",
                                          f'Found new replica set "{rs["metadata"]["name"]}"')
            return rs, old
        if not create:
            return None, old
        collisions = (d.get("status") or {}).get("collisionCount")
        template = copy.deepcopy(d["spec"]["template"])
        h = u.pod_template_hash(template, collisions)
        template.setdefault("metadata", {}).setdefault("labels", {})[u.HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"]["selector"])
        selector.setdefault("matchLabels", {})[u.HASH_LABEL] = h
        ann = {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
               if k not in u.SKIP_ANNOTATIONS}
        surge, _ = u.fenceposts(d)
        ann.update({u.REVISION: str(new_revision), u.DESIRED: str(u.replicas(d)),
                    u.MAX_REPLICAS: str(u.replicas(d) + surge)})
        name = f"{d['metadata']['name']}-{h}"
        body: Obj = {
            "metadata": {
                "name": name, "namespace": ns, "labels": template["metadata"]["labels"],
                "annotations": ann,
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "name": d["metadata"]["name"], "uid": d["metadata"]["uid"],
                    "controller": True, "blockOwnerDeletion": True,
                }],
            },
            "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                     "selector": selector, "template": template},
        }
        body["spec"]["replicas"] = self.new_rs_replicas(d, old, None)
        try:
            rs = self.api.create(REPLICASETS, ns, body)
        except errors.ApiError as exc:
            if exc.code != 409:
                raise
            found = self.cluster.store.get(REPLICASETS, ns, name)
            if found is not None and found in rss and u.templates_equal(
                found["spec"]["template"], d["spec"]["template"]
            ):
                return found, old
            st = copy.deepcopy(d.get("status") or {})
            st["collisionCount"] = (collisions or 0) + 1
            self.write_status(d, st)
            return None, old
        if u.replicas(rs) > 0:
            self.event(d, "ScalingReplicaSet",
                       f"Scaled up replica set {name} from 0 to {u.replicas(rs)}")
        self.sync_deployment_revision(d, rs, "NewReplicaSetCreated",
                                      f'Created new replica set "{name}"', created=True)
        return rs, old

    def sync_deployment_revision(
        self, d: Obj, rs: Obj, reason: str, message: str, created: bool = False
    ) -> None:
        d = self.cluster.store.get(DEPLOYMENTS, d["metadata"]["namespace"],
                                   d["metadata"]["name"]) or d
        new = copy.deepcopy(d)
        ann = new["metadata"].setdefault("annotations", {})
        rev = str(u.revision(rs))
        if ann.get(u.REVISION) != rev:
            ann[u.REVISION] = rev
        st = new.setdefault("status", {})
        if u.has_deadline(d) and (created or u.get_condition(st, "Progressing") is None):
            u.set_condition(st, u.new_condition("Progressing", "True", reason, message,
                                                self.clock.stamp()))
        if new != d:
            self.api.update(DEPLOYMENTS, d["metadata"]["namespace"], d["metadata"]["name"], new,
                            "status")

    def refresh(self, d: Obj) -> Obj:
        return self.cluster.store.get(DEPLOYMENTS, d["metadata"]["namespace"],
                                      d["metadata"]["name"]) or d

    # --- rolloutRolling ----------------------------------------------------------------
    def rollout_rolling(self, d: Obj, rss: list[Obj]) -> float | None:
        new_rs, old = self.get_new_rs(d, rss, create=True)
        d = self.refresh(d)
        all_rss = [*old, new_rs] if new_rs else list(old)
        if new_rs is not None:
            want = self.new_rs_replicas(d, old, new_rs)
            if u.replicas(new_rs) > u.replicas(d):
                want = u.replicas(d)
            if want != u.replicas(new_rs):
                new_rs = self.scale_rs(d, new_rs, want)
                return self.sync_rollout_status(d, [*old, new_rs], new_rs)
        if self.reconcile_old(d, all_rss, old, new_rs):
            return self.sync_rollout_status(d, self.owned(d), new_rs)
        st = u.calculate_status(d, all_rss, new_rs, self.clock.stamp())
        if u.complete(d, st):
            self.cleanup(d, old)
        return self.sync_rollout_status(d, self.owned(d), new_rs)

    def reconcile_old(
        self, d: Obj, all_rss: list[Obj], old: list[Obj], new_rs: Obj | None
    ) -> bool:
        if sum(u.replicas(rs) for rs in old) == 0:
            return False
        all_count = sum(u.replicas(rs) for rs in all_rss)
        min_available = u.replicas(d) - u.max_unavailable(d)
        new_unavailable = (u.replicas(new_rs) - u.status(new_rs, "availableReplicas")
                           if new_rs else 0)
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        scaled = False
        cleaned = 0
        old_sorted = u.by_creation(old)
        for i, rs in enumerate(old_sorted):
            if cleaned >= max_scaled_down:
                break
            if u.replicas(rs) == 0 or u.replicas(rs) == u.status(rs, "availableReplicas"):
                continue
            count = min(max_scaled_down - cleaned,
                        u.replicas(rs) - u.status(rs, "availableReplicas"))
            old_sorted[i] = self.scale_rs(d, rs, u.replicas(rs) - count)
            cleaned += count
            scaled = True
        available = sum(u.status(rs, "availableReplicas") for rs in all_rss)
        if available > min_available:
            to_remove = available - min_available
            removed = 0
            for i, rs in enumerate(old_sorted):
                if removed >= to_remove:
                    break
                if u.replicas(rs) == 0:
                    continue
                count = min(u.replicas(rs), to_remove - removed)
                old_sorted[i] = self.scale_rs(d, rs, u.replicas(rs) - count)
                removed += count
                scaled = True
        return scaled

    def rollout_recreate(self, d: Obj, rss: list[Obj]) -> float | None:
        return rollout_recreate(self, d, rss)

    # --- syncRolloutStatus -------------------------------------------------------------
    def sync_rollout_status(self, d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> float | None:
        d = self.refresh(d)
        if new_rs is not None:
            new_rs = self.cluster.store.get(REPLICASETS, new_rs["metadata"]["namespace"],
                                            new_rs["metadata"]["name"])
        now = self.clock.stamp()
        st = u.calculate_status(d, all_rss, new_rs, now)
        wake: float | None = None
        if not u.has_deadline(d):
            u.remove_condition(st, "Progressing")
        else:
            cur = u.get_condition(st, "Progressing")
            done = (st.get("replicas", 0) == st.get("updatedReplicas", 0) and cur is not None
                    and cur["reason"] == u.NEW_RS_AVAILABLE)
            subject = (f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs
                       else f'Deployment "{d["metadata"]["name"]}"')
            if not done:
                if u.complete(d, st):
                    u.set_condition(st, u.new_condition(
                        "Progressing", "True", u.NEW_RS_AVAILABLE,
                        f"{subject} has successfully progressed.", now))
                elif u.progressing(d, st):
                    cond = u.new_condition("Progressing", "True", "ReplicaSetUpdated",
                                           f"{subject} is progressing.", now)
                    if cur is not None and cur["status"] == "True":
                        cond["lastTransitionTime"] = cur["lastTransitionTime"]
                    u.remove_condition(st, "Progressing")
                    u.set_condition(st, cond)
                elif cur is not None and cur["reason"] != u.NEW_RS_AVAILABLE:
                    since = parse_stamp(cur.get("lastUpdateTime")) or self.clock.now()
                    deadline = since + d["spec"]["progressDeadlineSeconds"]
                    if cur["reason"] == u.TIMED_OUT or deadline < self.clock.now():
                        u.set_condition(st, u.new_condition(
                            "Progressing", "False", u.TIMED_OUT,
                            f"{subject} has timed out progressing.", now))
                    else:
                        wake = deadline + 1.0
        if st != (d.get("status") or {}):
            self.write_status(d, st)
        return wake

    # --- sync (paused or scaling event) ------------------------------------------------
    def sync_scale(self, d: Obj, rss: list[Obj], cleanup: bool) -> float | None:
        new_rs, old = self.get_new_rs(d, rss, create=False)
        d = self.refresh(d)
        self.proportional_scale(d, new_rs, old)
        if cleanup:
            self.cleanup(d, [rs for rs in self.owned(d) if new_rs is None
                             or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]])
        all_rss = self.owned(d)
        if new_rs is not None:
            new_rs = next((r for r in all_rss if r["metadata"]["uid"] == new_rs["metadata"]["uid"]),
                          None)
        d = self.refresh(d)
        st = u.calculate_status(d, all_rss, new_rs, self.clock.stamp())
        if st != (d.get("status") or {}):
            self.write_status(d, st)
        return None

    def cleanup(self, d: Obj, old: list[Obj]) -> None:
        cleanup(self, d, old)
