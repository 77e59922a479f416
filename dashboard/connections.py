"""Where the pipeline gets its adapters: one Cloud Build client per process, one Kubernetes
adapter per cluster (the adapters cache their HTTP clients; building them is not free)."""

from __future__ import annotations

import threading
from typing import Any

from dashboard.adapters.cloudbuild import CloudBuildAdapter
from dashboard.adapters.kube import KubeAdapter
from dashboard.adapters.types import BuildInfo, BuildSpec
from dashboard.models import Cluster, Release

_lock = threading.Lock()
_builder: CloudBuildAdapter | None = None
_kubes: dict[tuple[Any, ...], KubeAdapter] = {}


def builder() -> CloudBuildAdapter:
    global _builder
    with _lock:
        if _builder is None:
            _builder = CloudBuildAdapter()
        return _builder


def kube(cluster: Cluster) -> KubeAdapter:
    key = (cluster.pk, cluster.kubeconfig_path, cluster.context, cluster.in_cluster)
    with _lock:
        if key not in _kubes:
            _kubes[key] = KubeAdapter(cluster)
        return _kubes[key]


def build_spec(release: Release) -> BuildSpec:
    return BuildSpec.from_service(release.service, not_before=release.started_at)


def find_release_build(cb: CloudBuildAdapter, release: Release) -> BuildInfo | None:
    """The build started for this release, if any (by tag, or trigger + commit + time)."""
    spec = build_spec(release)
    if spec.trigger_id:
        return cb.find_trigger_build(spec.project, spec.trigger_id, release.commit_sha,
                                     spec.not_before)
    return cb.find_by_tag(spec.project, release.tag)
