"""The three PATCH flavours: strategic merge, JSON merge (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request

Obj = dict[str, Any]

# Patch merge keys of the list fields the sandbox's objects carry (from the API's
# `patchMergeKey` tags). Lists not named here are replaced whole, as the server does.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "tolerations": None,
}

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any, field: str = "") -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and MERGE_KEYS.get(key):
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key] or "")
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    for key, order in orders.items():
        mk = MERGE_KEYS.get(key)
        if mk and isinstance(result.get(key), list):
            result[key] = _reorder(result[key], order, mk)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(current: list[Any], patch: list[Any], mk: str) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [copy.deepcopy(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    out = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or mk not in item:
            out.append(copy.deepcopy(item))
            continue
        idx = next(
            (i for i, c in enumerate(out) if isinstance(c, dict) and c.get(mk) == item[mk]), None
        )
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
        elif idx is None:
            out.append(strategic_merge({}, item))
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


def _reorder(items: list[Any], order: list[Any], mk: str) -> list[Any]:
    """$setElementOrder: the listed keys first, in that order; unlisted items keep theirs after."""
    keys = [o.get(mk) for o in order if isinstance(o, dict)]
    listed = [i for k in keys for i in items if isinstance(i, dict) and i.get(mk) == k]
    rest = [i for i in items if not (isinstance(i, dict) and i.get(mk) in keys)]
    return listed + rest


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    cur = doc
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    return cur, parts[-1]


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        try:
            doc = _apply_op(doc, op)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(
                422, "Invalid", f"the server rejected our request due to an error in our "
                f"request: json patch {op.get('op')} operation failed: {exc!r}"
            ) from exc
    return doc


def _get(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    return cur


def _apply_op(doc: Any, op: Obj) -> Any:
    kind, parts = op["op"], _pointer(op["path"])
    if kind == "test":
        if _get(doc, parts) != op["value"]:
            raise ValueError("test failed")
        return doc
    if kind in ("move", "copy"):
        value = copy.deepcopy(_get(doc, _pointer(op["from"])))
        if kind == "move":
            doc = _apply_op(doc, {"op": "remove", "path": op["from"]})
        return _apply_op(doc, {"op": "add", "path": op["path"], "value": value})
    if not parts:
        return None if kind == "remove" else copy.deepcopy(op["value"])
    parent, last = _parent(doc, parts)
    if kind == "remove":
        if isinstance(parent, list):
            parent.pop(int(last))
        else:
            del parent[last]
    elif kind in ("add", "replace"):
        value = copy.deepcopy(op["value"])
        if isinstance(parent, list):
            if kind == "add":
                parent.insert(len(parent) if last == "-" else int(last), value)
            else:
                parent[int(last)] = value
        else:
            if kind == "replace" and last not in parent:
                raise KeyError(last)
            parent[last] = value
    else:
        raise ValueError(f"unknown op {kind}")
    return doc


def apply_patch(content_type: str, target: Obj, body: Any) -> Obj:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == SMP:
        result = strategic_merge(target, body)
    elif ctype == MERGE:
        result = merge_patch(target, body)
    elif ctype == JSON_PATCH:
        result = json_patch(target, body)
    else:
        raise ApiError(
            415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
            f"accepted media types include: {JSON_PATCH}, {MERGE}, {SMP}, {APPLY}"
        )
    if not isinstance(result, dict):
        raise bad_request("patch did not produce an object")
    return result
