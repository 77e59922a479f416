"""Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import bad_request

Obj = dict[str, Any]


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside `( ... )` value sets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


_SET = re.compile(r"^([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$")
_EQ = re.compile(r"^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s,]*)$")
_KEY = re.compile(r"^(!?)\s*([^\s!=(),]+)$")


def parse_labels(text: str | None) -> list[Requirement]:
    if not text:
        return []
    reqs = []
    for part in _split_top(text):
        if m := _SET.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(Requirement(m.group(1), m.group(2), values))
        elif m := _EQ.match(part):
            op = "=" if m.group(2) in ("=", "==") else "!="
            reqs.append(Requirement(m.group(1), op, (m.group(3),)))
        elif m := _KEY.match(part):
            reqs.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise bad_request(f"unable to parse requirement: {part!r}")
    return reqs


def labels_match(reqs: list[Requirement], obj: Obj) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def selector_to_string(selector: Obj | None) -> str:
    """Render a LabelSelector (matchLabels + matchExpressions) as a query string."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        else:
            parts.append(f"!{key}")
    return ",".join(parts)


def selector_matches(selector: Obj | None, obj: Obj) -> bool:
    """An empty selector matches nothing here (the controllers refuse to select everything)."""
    text = selector_to_string(selector)
    return bool(text) and labels_match(parse_labels(text), obj)


# Fields with a non-obvious path: events.k8s.io's `regarding` is core's `involvedObject`.
_ALIASES = {
    "source": ("source.component", "reportingComponent"),
    "regarding": ("involvedObject",),
    "reportingController": ("reportingComponent",),
}


def _lookup(obj: Obj, path: str) -> str:
    head = path.split(".", 1)[0]
    if head in _ALIASES and path == head and head == "source":
        for alt in _ALIASES["source"]:
            value = _lookup(obj, alt)
            if value:
                return value
        return ""
    if head in _ALIASES and head != "source" and head not in obj:
        path = _ALIASES[head][0] + path[len(head) :]
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


FieldReq = tuple[str, bool, str]  # (path, equal?, value)


def parse_fields(text: str | None) -> list[FieldReq]:
    if not text:
        return []
    reqs = []
    for part in _split_top(text):
        if "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), False, v.strip()))
        elif "==" in part:
            k, v = part.split("==", 1)
            reqs.append((k.strip(), True, v.strip()))
        elif "=" in part:
            k, v = part.split("=", 1)
            reqs.append((k.strip(), True, v.strip()))
        else:
            raise bad_request(f"invalid field selector: {part!r}")
    return reqs


def fields_match(reqs: list[FieldReq], obj: Obj) -> bool:
    return all((_lookup(obj, path) == value) == eq for path, eq, value in reqs)


def make_filter(
    namespace: str | None, label_selector: str | None, field_selector: str | None
) -> Callable[[Obj], bool]:
    lreqs = parse_labels(label_selector)
    freqs = parse_fields(field_selector)
    if not lreqs and not freqs:  # the common watch: whole collection, per event, per watcher
        if not namespace:
            return lambda obj: True
        return lambda obj: obj["metadata"].get("namespace") == namespace

    def match(obj: Obj) -> bool:
        if namespace and obj.get("metadata", {}).get("namespace") != namespace:
            return False
        return labels_match(lreqs, obj) and fields_match(freqs, obj)

    return match
