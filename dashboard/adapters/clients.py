"""The one place the rest of the dashboard gets its outside clients from: one Cloud Build
adapter per process, one Kubernetes adapter per cluster (the adapters cache their HTTP
clients; building them is not free), and the raw kubernetes ApiClient the watcher's informers
stream from. Nothing outside dashboard/adapters/ constructs an adapter or an ApiClient."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from django.conf import settings
from kubernetes import client as k8s

from dashboard.adapters.cloudbuild import CloudBuildAdapter
from dashboard.adapters.kube import KubeAdapter
from dashboard.adapters.registry import RegistryAdapter
from dashboard.adapters.registry import registry as _registry
from dashboard.adapters.types import BuildInfo, BuildSpec

if TYPE_CHECKING:
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


def registry() -> RegistryAdapter:
    return _registry()


def kube(cluster: Cluster) -> KubeAdapter:
    """The adapter of `cluster`; a rewritten kubeconfig file (a new mtime: rotated
    credentials, a restarted sandbox) gets a new one."""
    path = cluster.kubeconfig_path or getattr(settings, "KUBECONFIG", "") or ""
    try:
        mtime = os.stat(path).st_mtime_ns if path and not cluster.in_cluster else 0
    except OSError:
        mtime = 0
    key = (cluster.pk, cluster.gke_name, cluster.credentials_file, cluster.kubeconfig_path,
           cluster.context, cluster.in_cluster, mtime)
    with _lock:
        if key not in _kubes:
            _kubes[key] = KubeAdapter(cluster)
        return _kubes[key]


def kube_api_client(cluster: Cluster) -> k8s.ApiClient:
    """The kubernetes ApiClient of `cluster` (for watches, which stream from it directly)."""
    return kube(cluster).api_client


def build_spec(release: Release) -> BuildSpec:
    return BuildSpec.from_service(release.service, not_before=release.started_at)


def find_release_build(cb: CloudBuildAdapter, release: Release) -> BuildInfo | None:
    """The build started for this release, if any (by tag, or trigger + commit + time)."""
    spec = build_spec(release)
    if spec.trigger_id:
        return cb.find_trigger_build(spec.project, spec.trigger_id, release.commit_sha,
                                     spec.not_before)
    return cb.find_by_tag(spec.project, release.tag)
