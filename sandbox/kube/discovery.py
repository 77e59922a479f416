"""Legacy (non-aggregated) discovery documents; clients fall back to these from aggregated."""

from __future__ import annotations

from typing import Any

from .resources import GROUPS, RESOURCES

Obj = dict[str, Any]

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def api_versions(server: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    }


def group(name: str) -> Obj:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in GROUPS[name]]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": versions,
        "preferredVersion": versions[0],
    }


def group_list() -> Obj:
    groups = []
    for name in GROUPS:
        g = group(name)
        del g["kind"], g["apiVersion"]
        groups.append(g)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def resource_list(group_name: str, version: str) -> Obj | None:
    found = [r for r in RESOURCES if r.group == group_name and r.version == version]
    if not found:
        return None
    resources: list[Obj] = []
    for r in found:
        entry: Obj = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for sub in r.subresources:
            kind, verbs = r.kind, ["get", "patch", "update"]
            if sub == "scale":
                entry_group = {"group": "autoscaling", "version": "v1"}
                resources.append({"name": f"{r.plural}/scale", "singularName": "",
                                  "namespaced": r.namespaced, "kind": "Scale", "verbs": verbs,
                                  **entry_group})
                continue
            if sub == "log":
                verbs = ["get"]
            if sub == "proxy":
                kind = "PodProxyOptions" if r.kind == "Pod" else "ServiceProxyOptions"
                verbs = ["create", "delete", "get", "patch", "update"]
            resources.append({"name": f"{r.plural}/{sub}", "singularName": "",
                              "namespaced": r.namespaced, "kind": kind, "verbs": verbs})
    gv = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": resources}
