"""Kubernetes helpers shared by KubeAdapter: error mapping, the per-process client cache,
label selectors, revisions and event times. Pure except for api_client_for."""

from __future__ import annotations

import copy
import json
import os
import threading
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from dashboard.rollout.objects import CHANGE_CAUSE, HASH_LABEL, REVISION, UNDO_KEEP, revision_of

from .errors import AdapterError, retryable_status

__all__ = [
    "CHANGE_CAUSE", "HASH_LABEL", "REVISION", "UNDO_KEEP", "api_client_for", "event_time",
    "first_image", "map_error", "revision_of", "selector_string", "template_without_hash",
]

_clients: dict[tuple[Any, ...], client.ApiClient] = {}
_clients_lock = threading.Lock()


def map_error(exc: BaseException, what: str) -> AdapterError:
    """ApiException / urllib3 / socket errors -> AdapterError(retryable=...)."""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        message = exc.reason or ""
        try:
            body = json.loads(exc.body) if exc.body else {}
            message = body.get("message") or message
        except (TypeError, ValueError):
            pass
        if status == 0:
            return AdapterError(f"Kubernetes {what}: {message}", retryable=True, api="kube")
        refused = " (credentials refused)" if status in (401, 403) else ""
        return AdapterError(
            f"Kubernetes {what} failed ({status}{refused}): {message}",
            retryable=retryable_status(status),
            status=status,
            api="kube",
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return AdapterError(
            f"Kubernetes {what} did not answer: {exc.__class__.__name__}: {exc}",
            retryable=True,
            api="kube",
        )
    return AdapterError(f"Kubernetes {what}: {exc!r}", retryable=False, api="kube")


def api_client_for(
    kubeconfig: str | None = None, context: str | None = None, in_cluster: bool = False
) -> client.ApiClient:
    """One ApiClient per (kubeconfig, context) per process (pools must not cross a fork);
    a rewritten kubeconfig file (new mtime, e.g. a restarted sandbox) gets a new client."""
    try:
        mtime = os.stat(kubeconfig).st_mtime_ns if kubeconfig else 0
    except OSError:
        mtime = 0
    key = (os.getpid(), kubeconfig or "", context or "", in_cluster, mtime)
    with _clients_lock:
        api = _clients.get(key)
        if api is None:
            try:
                if in_cluster:
                    cfg = client.Configuration()
                    config.load_incluster_config(client_configuration=cfg)
                    api = client.ApiClient(cfg)
                else:
                    api = config.new_client_from_config(
                        config_file=kubeconfig or None, context=context or None,
                        persist_config=False,
                    )
            except (config.ConfigException, OSError, ValueError) as exc:
                raise AdapterError(
                    f"cannot load Kubernetes config {kubeconfig or '(default)'}"
                    f"{' context ' + context if context else ''}: {exc}",
                    retryable=False,
                    api="kube",
                ) from exc
            _clients[key] = api
        return api


def selector_string(selector: dict[str, Any] | str | None) -> str:
    """A LabelSelector (matchLabels + matchExpressions) as a label-selector query string."""
    if selector is None:
        return ""
    if isinstance(selector, str):
        return selector
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    if not parts and "matchLabels" not in selector and "matchExpressions" not in selector:
        # A plain {label: value} mapping is accepted too.
        parts = [f"{k}={v}" for k, v in sorted(selector.items())]
    return ",".join(parts)



def template_without_hash(template: dict[str, Any]) -> dict[str, Any]:
    tpl = copy.deepcopy(template or {})
    labels = (tpl.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return tpl


def first_image(template: dict[str, Any]) -> str:
    containers = (template.get("spec") or {}).get("containers") or []
    return containers[0].get("image", "") if containers else ""


def event_time(ev: dict[str, Any]) -> datetime | None:
    """When an event was last seen: lastTimestamp, series.lastObservedTime, eventTime or
    firstTimestamp (events.k8s.io-written events lack the legacy fields)."""
    for raw in (
        ev.get("lastTimestamp"),
        (ev.get("series") or {}).get("lastObservedTime"),
        ev.get("eventTime"),
        ev.get("firstTimestamp"),
        (ev.get("metadata") or {}).get("creationTimestamp"),
    ):
        if raw:
            try:
                at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            except ValueError:
                continue
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    return None
