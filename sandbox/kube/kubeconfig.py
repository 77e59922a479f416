"""The kubeconfig clients use to reach the sandbox (its token: any in open mode)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml

TOKEN = "sandbox-token"


def write_kubeconfig(path: Path, server: str, token: str = TOKEN, ca_pem: bytes = b"") -> None:
    """`ca_pem` given: `server` is the HTTPS endpoint signed by that CA. kubectl (client-go)
    sends a bearer token only over TLS, so a sandbox that requires tokens is reached there."""
    cluster: dict[str, str] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": cluster}],
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
