"""Per-kind API-server rules: defaulting, validation, generation and status handling."""

from __future__ import annotations

import copy
import uuid
import zlib
from typing import Any

from . import errors
from .resources import (
    DEPLOYMENTS,
    JOBS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICES,
    ResourceType,
)

Obj = dict[str, Any]
WITH_GENERATION = {DEPLOYMENTS.key, REPLICASETS.key}


def default_pod_spec(spec: Obj) -> None:
    """The defaults kube-apiserver fills in, so templates compare equal after a round trip."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    if spec.get("serviceAccountName"):
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        image = c.get("image", "")
        tag = image.rsplit("/", 1)[-1]
        latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            p.setdefault("protocol", "TCP")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            pr = c.get(probe)
            if isinstance(pr, dict):
                pr.setdefault("timeoutSeconds", 1)
                pr.setdefault("periodSeconds", 10)
                pr.setdefault("successThreshold", 1)
                pr.setdefault("failureThreshold", 3)
                if "httpGet" in pr:
                    pr["httpGet"].setdefault("scheme", "HTTP")


def default_template(template: Obj) -> None:
    template.setdefault("metadata", {})
    default_pod_spec(template.setdefault("spec", {}))


def default(rt: ResourceType, obj: Obj) -> None:
    if rt is NAMESPACES:
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif rt is SECRETS:
        obj.setdefault("type", "Opaque")
    spec = obj.get("spec")
    if rt is DEPLOYMENTS and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            ru = strategy.setdefault("rollingUpdate", {})
            ru.setdefault("maxSurge", "25%")
            ru.setdefault("maxUnavailable", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        default_template(spec.setdefault("template", {}))
    elif rt is REPLICASETS and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        default_template(spec.setdefault("template", {}))
    elif rt is SERVICES and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
            meta = obj.get("metadata") or {}
            digest = zlib.crc32(f"{meta.get('namespace')}/{meta.get('name')}".encode())
            ip = f"10.12.{(digest >> 8) % 250 + 1}.{digest % 250 + 2}"
            spec.setdefault("clusterIP", ip)
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif rt is PODS and isinstance(spec, dict):
        default_pod_spec(spec)
        obj.setdefault("status", {"phase": "Pending", "qosClass": "Burstable"})
    elif rt is JOBS and isinstance(spec, dict):
        for key, value in (("backoffLimit", 6), ("completions", 1), ("parallelism", 1),
                           ("completionMode", "NonIndexed"), ("suspend", False),
                           ("manualSelector", False),
                           ("podReplacementPolicy", "TerminatingOrFailed")):
            spec.setdefault(key, value)
        default_template(spec.setdefault("template", {}))


def label_job(obj: Obj) -> None:
    """What kube-apiserver adds to a new Job: its uid, a selector on it, and the labels that
    let `kubectl logs job/NAME` find the pod."""
    meta = obj.setdefault("metadata", {})
    uid = meta["uid"] = str(uuid.uuid4())
    labels = {"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
              "batch.kubernetes.io/job-name": meta.get("name", ""),
              "job-name": meta.get("name", "")}
    spec = obj.setdefault("spec", {})
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), **labels}
    if not meta.get("labels"):
        meta["labels"] = dict(template_meta["labels"])


def validate(rt: ResourceType, obj: Obj, old: Obj | None) -> None:
    name = obj.get("metadata", {}).get("name", "")
    if rt is JOBS:
        validate_job(obj, old, name)
    if rt is DEPLOYMENTS:
        spec = obj.get("spec") or {}
        if not (spec.get("selector") or {}).get("matchLabels") and not (
            spec.get("selector") or {}
        ).get("matchExpressions"):
            raise errors.invalid("Deployment.apps", name, "spec.selector: Required value")
        ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
        if spec.get("strategy", {}).get("type") == "RollingUpdate" and str(
            ru.get("maxSurge")
        ) in ("0", "0%") and str(ru.get("maxUnavailable")) in ("0", "0%"):
            raise errors.invalid(
                "Deployment.apps", name,
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 "
                "when `maxSurge` is 0",
            )
        if old is not None and old["spec"].get("selector") != spec.get("selector"):
            raise errors.invalid(
                "Deployment.apps", name, "spec.selector: Invalid value: field is immutable"
            )
        if not (spec.get("template") or {}).get("spec", {}).get("containers"):
            raise errors.invalid(
                "Deployment.apps", name, "spec.template.spec.containers: Required value"
            )


def validate_job(obj: Obj, old: Obj | None, name: str) -> None:
    spec = obj.get("spec") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    if not pod_spec.get("containers"):
        raise errors.invalid("Job.batch", name, "spec.template.spec.containers: Required value")
    if pod_spec.get("restartPolicy") not in ("Never", "OnFailure"):
        raise errors.invalid(
            "Job.batch", name, f"spec.template.spec.restartPolicy: Required value: valid "
            f"values: \"OnFailure\", \"Never\" (got {pod_spec.get('restartPolicy')!r})")
    for key in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or value < 0
                                  or (key == "activeDeadlineSeconds" and value == 0)):
            raise errors.invalid("Job.batch", name, f"spec.{key}: Invalid value: {value!r}")
    if old is not None and (old.get("spec") or {}).get("template") != spec.get("template"):
        raise errors.invalid("Job.batch", name, "spec.template: Invalid value: field is "
                             "immutable")


def prepare_create(rt: ResourceType, obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    default(rt, obj)
    if rt is JOBS:
        label_job(obj)
    validate(rt, obj, None)
    if rt.key in WITH_GENERATION:
        obj["metadata"]["generation"] = 1
        obj["status"] = {}
    return obj


def prepare_update(rt: ResourceType, old: Obj, new: Obj, subresource: str | None) -> Obj:
    """Apply the update rules of the main resource or of /status to a client's new state."""
    new = copy.deepcopy(new)
    meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
    for k in ("uid", "creationTimestamp", "name", "namespace", "generation", "deletionTimestamp",
              "deletionGracePeriodSeconds"):
        if k in old_meta:
            meta[k] = old_meta[k]
        else:
            meta.pop(k, None)
    new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
    if subresource == "status":
        if "spec" in old:
            new["spec"] = copy.deepcopy(old["spec"])
        meta["labels"] = copy.deepcopy(old_meta.get("labels"))
        if meta["labels"] is None:
            meta.pop("labels")
        return new
    if "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    default(rt, new)
    validate(rt, new, old)
    if rt.key in WITH_GENERATION:
        changed = new.get("spec") != old.get("spec")
        if rt is DEPLOYMENTS:
            changed = changed or (meta.get("annotations") or {}) != (
                old_meta.get("annotations") or {}
            )
        if changed:
            meta["generation"] = old_meta.get("generation", 1) + 1
    return new
