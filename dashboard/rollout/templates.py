"""What changed in a Deployment's pod template between two revisions (their ReplicaSets keep
the template each revision ran): images, environment variables, args, resources, probes.
Pure: no Django, no I/O."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Change = tuple[str, str, str]  # (what, before, after)


def _containers(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    spec = template.get("spec") or {}
    return {c.get("name", ""): c for c in spec.get("containers") or []}


def _env(container: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for var in container.get("env") or []:
        if "value" in var:
            out[var["name"]] = str(var["value"])
        else:  # a reference: show where it comes from, never a secret's value
            out[var["name"]] = "from " + json.dumps(var.get("valueFrom") or {}, sort_keys=True)
    for src in container.get("envFrom") or []:
        out[f"(envFrom {json.dumps(src, sort_keys=True)})"] = "all keys"
    return out


def _text(value: Any) -> str:
    if value in (None, "", [], {}):
        return ""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


FIELDS = ("image", "command", "args", "resources", "readinessProbe", "livenessProbe", "ports")


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """Changes between two pod templates, per container, sorted; [] when they match."""
    old, new = _containers(before), _containers(after)
    out: list[Change] = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a is None or b is None:
            out.append((f"container {name}", "" if a is None else "present",
                        "" if b is None else "present"))
            continue
        for field in FIELDS:
            if _text(a.get(field)) != _text(b.get(field)):
                out.append((f"{name} {field}", _text(a.get(field)), _text(b.get(field))))
        ea, eb = _env(a), _env(b)
        for var in sorted(set(ea) | set(eb)):
            if ea.get(var) != eb.get(var):
                out.append((f"{name} env {var}", ea.get(var, ""), eb.get(var, "")))
    return out
