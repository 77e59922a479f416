"""metadata.managedFields, approximated: which manager wrote which fields, per write.

Like kube-apiserver, the manager is the request's `fieldManager`, else the User-Agent up to
its first "/" (`kubectl set image` sends fieldManager=kubectl-set; the Python client without
one is "OpenAPI-Generator"). Each client write merges the fields it changed into that
manager's entry (operation Update, or Apply for server-side apply) with the write's time.
Unlike the real thing, only changed fields are recorded, and other managers' entries are not
trimmed of fields they lose. Controllers' own writes (status, scaling) record nothing.
"""

from __future__ import annotations

import contextvars
import json
from typing import Any

from aiohttp import web

Obj = dict[str, Any]
CURRENT: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "field_manager", default=None)
TRACKED_METADATA = ("labels", "annotations")


def manager_of(request: web.Request) -> tuple[str, str]:
    operation = "Apply" if "apply-patch" in request.headers.get("Content-Type", "") else "Update"
    name = request.query.get("fieldManager") or request.headers.get(
        "User-Agent", "unknown").split("/", 1)[0].strip()
    return name[:128] or "unknown", operation


@web.middleware
async def field_manager_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    token = CURRENT.set(manager_of(request) if request.method in ("POST", "PUT", "PATCH")
                        else None)
    try:
        return await handler(request)
    finally:
        CURRENT.reset(token)


def _key(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return "k:" + json.dumps({"name": item["name"]}, separators=(",", ":"))
    return None


def changed(old: Any, new: Any) -> Obj:
    """fieldsV1 of what differs between two values (lists of named objects merge by name)."""
    out: Obj = {}
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            a, b = old.get(k), new.get(k)
            if a != b:
                out[f"f:{k}"] = changed(a, b)
        return out
    if isinstance(old, list) and isinstance(new, list) and all(_key(i) for i in old + new):
        olds = {_key(i): i for i in old}
        for item in new:
            k = _key(item)
            if olds.get(k) != item:
                out[str(k)] = changed(olds.get(k, {}), item)
        return out
    return {}


def _merge(into: Obj, fields: Obj) -> Obj:
    for k, v in fields.items():
        into[k] = _merge(dict(into.get(k) or {}), v) if v else into.get(k, {})
    return into


def record(old: Obj | None, new: Obj, subresource: str | None, stamp: str) -> None:
    """Merge this write's changed fields into its manager's entry of new's managedFields."""
    who = CURRENT.get()
    if who is None:
        return
    manager, operation = who
    before = old or {}
    fields: Obj = {}
    meta_old, meta_new = before.get("metadata") or {}, new.get("metadata") or {}
    meta = changed({k: meta_old.get(k) for k in TRACKED_METADATA if k in meta_old},
                   {k: meta_new.get(k) for k in TRACKED_METADATA if k in meta_new})
    if meta:
        fields["f:metadata"] = meta
    part = "status" if subresource == "status" else "spec"
    body = changed(before.get(part), new.get(part))
    if body:
        fields[f"f:{part}"] = body
    if not fields:
        return
    entries = [dict(e) for e in (meta_new.get("managedFields") or [])]
    for e in entries:
        if (e.get("manager"), e.get("operation"), e.get("subresource")) == (
                manager, operation, subresource):
            e["fieldsV1"] = _merge(dict(e.get("fieldsV1") or {}), fields)
            e["time"] = stamp
            break
    else:
        entry: Obj = {"manager": manager, "operation": operation,
                      "apiVersion": new.get("apiVersion", ""), "time": stamp,
                      "fieldsType": "FieldsV1", "fieldsV1": fields}
        if subresource:
            entry["subresource"] = subresource
        entries.append(entry)
    meta_new["managedFields"] = entries
