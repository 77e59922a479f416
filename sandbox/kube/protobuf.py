"""Decoding the protobuf bodies kubectl's typed generators send (`kubectl create deployment`,
`create configmap`, `create secret`, `create namespace`), for the few kinds they create.

Kubernetes wraps protobuf objects as `k8s\\0` + runtime.Unknown{typeMeta, raw}. The field
numbers below are those of the k8s.io/api types; a field this table does not know makes the
decode fail (the server then answers 415) rather than silently drop data.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
MAGIC = b"k8s\x00"

# message -> field number -> (json name, kind, sub-message). Kinds: str, bytes, int, bool, msg,
# rep_str, rep_msg, map_str, map_bytes, map_qty, time, intstr. The Go encoder writes zero values
# of non-pointer fields too; those carry nothing and are dropped (as JSON's omitempty does),
# except for the pointer fields marked "int*"/"bool*", where an explicit 0/false matters.
F = dict[int, tuple[str, str, str]]
SCHEMA: dict[str, F] = {
    "Unknown": {1: ("typeMeta", "msg", "TypeMeta"), 2: ("raw", "bytes", ""),
                3: ("contentEncoding", "str", ""), 4: ("contentType", "str", "")},
    "TypeMeta": {1: ("apiVersion", "str", ""), 2: ("kind", "str", "")},
    "ObjectMeta": {1: ("name", "str", ""), 2: ("generateName", "str", ""),
                   3: ("namespace", "str", ""), 8: ("creationTimestamp", "time", ""),
                   11: ("labels", "map_str", ""), 12: ("annotations", "map_str", ""),
                   14: ("finalizers", "rep_str", "")},
    "Namespace": {1: ("metadata", "msg", "ObjectMeta"), 2: ("spec", "msg", "NamespaceSpec"),
                  3: ("status", "msg", "Empty")},
    "NamespaceSpec": {1: ("finalizers", "rep_str", "")},
    "ConfigMap": {1: ("metadata", "msg", "ObjectMeta"), 2: ("data", "map_str", ""),
                  3: ("binaryData", "map_bytes", ""), 4: ("immutable", "bool*", "")},
    "Secret": {1: ("metadata", "msg", "ObjectMeta"), 2: ("data", "map_bytes", ""),
               3: ("type", "str", ""), 4: ("stringData", "map_str", ""),
               5: ("immutable", "bool*", "")},
    "Deployment": {1: ("metadata", "msg", "ObjectMeta"), 2: ("spec", "msg", "DeploymentSpec"),
                   3: ("status", "msg", "Empty")},
    "DeploymentSpec": {1: ("replicas", "int*", ""), 2: ("selector", "msg", "LabelSelector"),
                       3: ("template", "msg", "PodTemplateSpec"),
                       4: ("strategy", "msg", "DeploymentStrategy"),
                       5: ("minReadySeconds", "int", ""),
                       6: ("revisionHistoryLimit", "int*", ""), 7: ("paused", "bool", ""),
                       9: ("progressDeadlineSeconds", "int*", "")},
    "DeploymentStrategy": {1: ("type", "str", ""),
                           2: ("rollingUpdate", "msg", "RollingUpdateDeployment")},
    "RollingUpdateDeployment": {1: ("maxUnavailable", "intstr", ""),
                                2: ("maxSurge", "intstr", "")},
    "LabelSelector": {1: ("matchLabels", "map_str", ""),
                      2: ("matchExpressions", "rep_msg", "LabelSelectorRequirement")},
    "LabelSelectorRequirement": {1: ("key", "str", ""), 2: ("operator", "str", ""),
                                 3: ("values", "rep_str", "")},
    "PodTemplateSpec": {1: ("metadata", "msg", "ObjectMeta"), 2: ("spec", "msg", "PodSpec")},
    "PodSpec": {2: ("containers", "rep_msg", "Container"), 3: ("restartPolicy", "str", ""),
                4: ("terminationGracePeriodSeconds", "int*", ""), 6: ("dnsPolicy", "str", ""),
                8: ("serviceAccountName", "str", ""), 19: ("schedulerName", "str", ""),
                20: ("initContainers", "rep_msg", "Container")},
    "Container": {1: ("name", "str", ""), 2: ("image", "str", ""), 3: ("command", "rep_str", ""),
                  4: ("args", "rep_str", ""), 5: ("workingDir", "str", ""),
                  6: ("ports", "rep_msg", "ContainerPort"), 7: ("env", "rep_msg", "EnvVar"),
                  8: ("resources", "msg", "ResourceRequirements"),
                  13: ("terminationMessagePath", "str", ""), 14: ("imagePullPolicy", "str", ""),
                  20: ("terminationMessagePolicy", "str", "")},
    "ContainerPort": {1: ("name", "str", ""), 2: ("hostPort", "int", ""),
                      3: ("containerPort", "int", ""), 4: ("protocol", "str", "")},
    "EnvVar": {1: ("name", "str", ""), 2: ("value", "str", "")},
    "ResourceRequirements": {1: ("limits", "map_qty", ""), 2: ("requests", "map_qty", "")},
    "Empty": {},
}
KINDS = {("v1", "Namespace"), ("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "Deployment")}


class DecodeError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(data):
            raise DecodeError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _map(data: bytes) -> tuple[str, bytes]:
    key, value = "", b""
    for number, _, v in _fields(data):
        if number == 1:
            key = v.decode()
        elif number == 2:
            value = v
    return key, value


def decode_message(name: str, data: bytes) -> Obj:
    schema = SCHEMA[name]
    out: Obj = {}
    for number, _, value in _fields(data):
        zero = value in (0, b"")
        if number not in schema:
            if zero:
                continue
            raise DecodeError(f"{name} field {number} is not known to the sandbox")
        json_name, kind, sub = schema[number]
        if zero and not kind.endswith("*") and kind not in ("msg", "rep_str", "rep_msg"):
            continue
        kind = kind.rstrip("*")
        if kind == "str":
            out[json_name] = value.decode()
        elif kind == "bytes":
            out[json_name] = value
        elif kind == "int":
            out[json_name] = _signed(value)
        elif kind == "bool":
            out[json_name] = bool(value)
        elif kind == "msg":
            out[json_name] = decode_message(sub, value)
        elif kind == "rep_str":
            out.setdefault(json_name, []).append(value.decode())
        elif kind == "rep_msg":
            out.setdefault(json_name, []).append(decode_message(sub, value))
        elif kind in ("map_str", "map_bytes", "map_qty"):
            k, v = _map(value)
            if kind == "map_str":
                out.setdefault(json_name, {})[k] = v.decode()
            elif kind == "map_bytes":
                out.setdefault(json_name, {})[k] = base64.b64encode(v).decode()
            else:  # resource.Quantity is {string string = 1}
                out.setdefault(json_name, {})[k] = {
                    n: x.decode() for n, _, x in _fields(v)}.get(1, "0")
        elif kind == "time":
            secs = {n: x for n, _, x in _fields(value)}.get(1, 0)
            out[json_name] = (datetime.fromtimestamp(_signed(secs), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ") if secs else None)
        elif kind == "intstr":
            parts = {n: x for n, _, x in _fields(value)}
            out[json_name] = parts.get(3, b"").decode() if parts.get(1) == 1 else _signed(
                parts.get(2, 0))
    return out


def decode(body: bytes) -> Obj:
    """A protobuf-encoded object as the JSON the same client would have sent."""
    if not body.startswith(MAGIC):
        raise DecodeError("not a Kubernetes protobuf envelope")
    unknown = decode_message("Unknown", body[len(MAGIC):])
    type_meta = unknown.get("typeMeta") or {}
    kind = (type_meta.get("apiVersion", ""), type_meta.get("kind", ""))
    if kind not in KINDS:
        raise DecodeError(f"the sandbox does not decode protobuf {kind[1] or 'objects'}")
    obj = decode_message(kind[1], unknown.get("raw", b""))
    return {"apiVersion": kind[0], "kind": kind[1], **obj}
