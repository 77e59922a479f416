"""Foreign writes: did somebody else change the Deployment's pod template during a release?

The release knows the one template it wants (the template it found, with its image in its
container), so any other template is a write it did not make: another image, env,
resources... A scale (spec.replicas) or a pause is not in the template, so it never counts.
Who did it and what they changed come from metadata.managedFields (the newest entry of a
manager that is not ours and that touches spec.template); the change-cause annotation and
the generation are reported as they are.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.rollout.objects import CHANGE_CAUSE, parse_time

FIELD_MANAGER = "deploy-dashboard"  # the fieldManager of every write the dashboard makes


def fingerprint(template: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True, default=str).encode()).hexdigest()


def expected_template(deployment: Mapping[str, Any], container: str, image: str
                      ) -> dict[str, Any]:
    """The Deployment's template with `image` in `container`: what `set image` makes of it."""
    template = copy.deepcopy((deployment.get("spec") or {}).get("template") or {})
    for c in (template.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            c["image"] = image
    return template


@dataclass(frozen=True)
class ForeignWrite:
    manager: str
    fields: list[str] = field(default_factory=list)
    change_cause: str = ""
    generation: int = 0

    def sentence(self, deployment: str) -> str:
        what = ", ".join(self.fields) or "the pod template"
        cause = f" (change-cause: {self.change_cause})" if self.change_cause else ""
        return (f"foreign_write: {self.manager} changed {what} of deployment {deployment} "
                f"during the release (generation {self.generation}){cause}; not undone: the "
                "other writer's change stays until someone decides (roll back anyway)")

    def to_dict(self) -> dict[str, Any]:
        return {"manager": self.manager, "fields": self.fields,
                "change_cause": self.change_cause, "generation": self.generation}


def _paths(fields: Mapping[str, Any], prefix: str) -> list[str]:
    out: list[str] = []
    for key, sub in fields.items():
        if key == ".":
            continue
        if key.startswith("f:"):
            path = f"{prefix}.{key[2:]}" if prefix else key[2:]
        elif key.startswith("k:"):
            try:
                name = json.loads(key[2:]).get("name", key[2:])
            except ValueError:
                name = key[2:]
            path = f"{prefix}[{name}]"
        else:
            path = f"{prefix}.{key}"
        out.extend(_paths(sub, path) if sub else [path])
    return out


def _template_fields(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec = ((entry.get("fieldsV1") or {}).get("f:spec")) or {}
    return spec.get("f:template") if isinstance(spec, Mapping) else None


def foreign_write(deployment: Mapping[str, Any], expected_fingerprint: str, *,
                  since: datetime | None = None,
                  own_managers: Iterable[str] = (FIELD_MANAGER,)) -> ForeignWrite | None:
    """None while the template is the one the release wants; else who changed it and what."""
    template = (deployment.get("spec") or {}).get("template") or {}
    if not expected_fingerprint or fingerprint(template) == expected_fingerprint:
        return None
    meta = deployment.get("metadata") or {}
    own = set(own_managers)
    candidates = []
    for entry in meta.get("managedFields") or []:
        if entry.get("manager") in own or entry.get("subresource"):
            continue
        fields = _template_fields(entry)
        if fields:
            at = parse_time(entry.get("time"))
            candidates.append((at, entry, fields))
    if since is not None:  # managedFields times have whole seconds
        since = since.replace(microsecond=0)
        recent = [c for c in candidates if c[0] is not None and c[0] >= since]
        candidates = recent or candidates
    manager, paths = "an unknown writer", []
    if candidates:
        _, entry, fields = max(candidates, key=lambda c: c[0].timestamp() if c[0] else 0.0)
        manager = str(entry.get("manager") or manager)
        paths = _paths(fields, "spec.template")
    return ForeignWrite(manager, paths, (meta.get("annotations") or {}).get(CHANGE_CAUSE, ""),
                        int(meta.get("generation") or 0))
