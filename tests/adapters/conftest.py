"""Adapters against the real sandbox (tests/plugins/sandbox.py): no mocks of the clients."""

from __future__ import annotations

import secrets
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.adapters.cloudbuild import CloudBuildAdapter
from dashboard.adapters.kube import KubeAdapter, api_client_for

ROOT = Path(__file__).resolve().parents[2]
REPO = "gcr.io/sandbox/license-api"


def commit(prefix: str = "") -> str:
    """A fresh 40-hex commit SHA with a behaviour prefix (bad/dead/fa11/5105 or none)."""
    return (prefix + secrets.token_hex(20))[:40]


def calm(sandbox: Any, *apis: str) -> None:
    """No chaos left over from another test on the shared sandbox."""
    for api in apis:
        sandbox.control("chaos", {"api": api, "error_rate": 0, "latency_ms": 0})


@pytest.fixture
def chaos(sandbox: Any) -> Iterator[Any]:
    """Set sandbox chaos for one test; always cleared afterwards."""

    def set_(api: str, **values: Any) -> None:
        sandbox.control("chaos", {"api": api, **values})

    yield set_
    calm(sandbox, "kube", "cloudbuild")


@pytest.fixture
def cloudbuild(sandbox: Any) -> CloudBuildAdapter:
    calm(sandbox, "cloudbuild")
    return CloudBuildAdapter(sandbox.cloudbuild_url, timeout=5, read_deadline=10, repo_root=ROOT)


@pytest.fixture
def cluster(sandbox: Any) -> Any:
    return types.SimpleNamespace(
        name="sandbox", kubeconfig_path=str(sandbox.kubeconfig), context="sandbox", in_cluster=False
    )


@pytest.fixture
def kube(sandbox: Any, cluster: Any) -> KubeAdapter:
    calm(sandbox, "kube")
    return KubeAdapter(cluster, timeout=(2, 5))


@pytest.fixture
def fresh_kube(fresh_sandbox: Any, cluster: Any) -> Iterator[KubeAdapter]:
    """A KubeAdapter on a sandbox reset to 3 ready license-api pods at revision 1; the
    sandbox is reset again afterwards, so later tests never see our half-done rollouts."""
    yield KubeAdapter(cluster, api_client=api_client_for(cluster.kubeconfig_path, "sandbox"),
                      timeout=(2, 5))
    fresh_sandbox.reset()
