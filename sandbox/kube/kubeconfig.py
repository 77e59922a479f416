"""The kubeconfig clients use to reach the sandbox (its token: any in open mode)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

TOKEN = "sandbox-token"


def write_kubeconfig(path: Path, server: str, token: str = TOKEN) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": server}}],
        "users": [{"name": "sandbox", "user": {"token": token}}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox",
                                                     "namespace": "default"}}],
        "current-context": "sandbox",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(yaml.safe_dump(config, sort_keys=False))
    tmp.replace(path)
