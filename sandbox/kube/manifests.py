"""Applying deploy/k8s/*.yaml on start, and seeding what those manifests reference."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import yaml

from . import errors
from .api import Api
from .resources import BY_KIND, SECRETS

log = logging.getLogger("sandbox.kube")
Obj = dict[str, Any]


def load(directory: Path) -> list[Obj]:
    docs: list[Obj] = []
    for path in sorted(directory.glob("*.y*ml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind"):
                docs.append(doc)
    return docs


def _walk_pod_specs(doc: Obj) -> list[Obj]:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "Pod":
        return [spec]
    template = spec.get("template") or {}
    return [template["spec"]] if template.get("spec") else []


def manifest_images(directory: Path) -> list[str]:
    images: list[str] = []
    for doc in load(directory):
        for spec in _walk_pod_specs(doc):
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                if c.get("image") and c["image"] not in images:
                    images.append(c["image"])
    return images


def referenced_secrets(doc: Obj) -> dict[str, set[str]]:
    """Secrets (name -> keys) a workload reads, so the sandbox can seed dummy ones."""
    found: dict[str, set[str]] = {}
    for spec in _walk_pod_specs(doc):
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            for env in c.get("env") or []:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    found.setdefault(ref["name"], set()).add(ref["key"])
            for src in c.get("envFrom") or []:
                if src.get("secretRef"):
                    found.setdefault(src["secretRef"]["name"], set())
    return found


def apply_manifests(api: Api, directory: Path) -> None:
    import base64

    docs = load(directory)
    secrets: dict[tuple[str, str], set[str]] = {}
    for doc in docs:
        ns = (doc.get("metadata") or {}).get("namespace") or "default"
        for name, keys in referenced_secrets(doc).items():
            secrets.setdefault((ns, name), set()).update(keys)
    for (ns, name), keys in sorted(secrets.items()):
        data = {k: base64.b64encode(f"sandbox-{k}".encode()).decode() for k in sorted(keys)}
        with contextlib.suppress(errors.ApiError):
            api.create(SECRETS, ns, {"metadata": {"name": name, "namespace": ns,
                                                  "labels": {"sandbox": "seeded"}},
                                     "type": "Opaque", "data": data})
    for doc in docs:
        rt = BY_KIND.get((doc.get("apiVersion", ""), doc.get("kind", "")))
        if rt is None:
            log.warning("skipping %s %s: kind not served by the sandbox", doc.get("apiVersion"),
                        doc.get("kind"))
            continue
        ns = (doc.get("metadata") or {}).get("namespace") or "default"
        # What `kubectl apply` records, so a later `kubectl apply -f deploy/k8s/` diffs cleanly.
        doc = {**doc, "metadata": {**(doc.get("metadata") or {})}}
        doc["metadata"].setdefault("annotations", {})
        applied = json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n"
        doc["metadata"]["annotations"] = {
            **(doc["metadata"].get("annotations") or {}),
            "kubectl.kubernetes.io/last-applied-configuration": applied,
        }
        try:
            api.create(rt, ns if rt.namespaced else None, doc)
        except errors.ApiError as exc:
            log.warning("could not apply %s %s: %s", doc.get("kind"),
                        (doc.get("metadata") or {}).get("name"), exc.message)
