"""Kubernetes through the official client (36.x), returning the API's own JSON as dicts.

Every read uses `_preload_content=False` and parses the body, so callers (and the pure
functions in dashboard/rollout/) see exactly what the API server sent: camelCase keys,
`metadata.annotations`, `status.conditions`... the same shape watches deliver.
Every call carries `_request_timeout`; errors become AdapterError (see `map_error`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from dashboard.rollout.foreign import FIELD_MANAGER  # signs every write (managedFields)

from . import gke
from .errors import AdapterError
from .kubeutil import (
    CHANGE_CAUSE,
    HASH_LABEL,
    REVISION,
    UNDO_KEEP,
    api_client_for,
    event_time,
    first_image,
    map_error,
    revision_of,
    selector_string,
    template_without_hash,
)
from .types import UndoResult

__all__ = [
    "CHANGE_CAUSE",
    "HASH_LABEL",
    "REVISION",
    "KubeAdapter",
    "api_client_for",
    "event_time",
    "map_error",
    "revision_of",
    "selector_string",
    "template_without_hash",
]


class KubeAdapter:
    """Calls on one cluster.

    `cluster` is anything with `kubeconfig_path`, `context` and `in_cluster` attributes
    (the Cluster model, or a SimpleNamespace in tests); an empty kubeconfig_path means
    settings.KUBECONFIG. A `gke_name` wins over both: endpoint and CA from the Container
    API, Google access token (adapters/gke.py). Or pass `api_client` directly.
    `timeout` is (connect, read) seconds.
    """

    def __init__(
        self,
        cluster: Any = None,
        *,
        api_client: client.ApiClient | None = None,
        timeout: float | tuple[float, float] = (5.0, 20.0),
    ) -> None:
        gke_name = str(getattr(cluster, "gke_name", "") or "")
        if api_client is None and gke_name:
            api_client = gke.api_client(gke_name,
                                        str(getattr(cluster, "credentials_file", "") or ""))
        if api_client is None:
            kubeconfig = getattr(cluster, "kubeconfig_path", "") or None
            if kubeconfig is None and not getattr(cluster, "in_cluster", False):
                from django.conf import settings

                kubeconfig = getattr(settings, "KUBECONFIG", None)
            api_client = api_client_for(
                kubeconfig,
                getattr(cluster, "context", "") or None,
                bool(getattr(cluster, "in_cluster", False)),
            )
        self.api_client = api_client
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.batch = client.BatchV1Api(api_client)
        self.timeout = timeout
        self.retry_pauses: tuple[float, ...] = (0.1, 0.3)

    # -- plumbing --------------------------------------------------------------------------
    def _json(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call, parse the JSON body. A fast 5xx/429 answer is retried a couple of times
        (every call made here is a read or an idempotent patch); timeouts are not, so a
        slow server costs one timeout, and the caller decides what to do next."""
        for attempt, pause in enumerate((*self.retry_pauses, None)):
            try:
                resp = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
                data = resp.data
                break
            except Exception as exc:
                error = map_error(exc, what)
                if pause is None or not error.retryable or error.status == 0:
                    if attempt:
                        error.message += f" (after {attempt + 1} attempts)"
                    raise error from exc
                time.sleep(pause)
        try:
            return json.loads(data or b"null")
        except ValueError as exc:  # a truncated body: the connection broke mid-answer
            raise AdapterError(
                f"Kubernetes {what}: bad JSON: {exc}", retryable=True, api="kube"
            ) from exc

    # -- reads -----------------------------------------------------------------------------
    def deployment(self, ns: str, name: str) -> dict[str, Any]:
        """The Deployment as the API's JSON."""
        return self._json(
            f"get deployment {ns}/{name}", self.apps.read_namespaced_deployment, name, ns
        )

    def replicasets(self, ns: str, deployment: dict[str, Any] | str) -> list[dict[str, Any]]:
        """ReplicaSets controlled by the Deployment (its selector + controller ownerRef),
        oldest revision first. Pass the Deployment dict to save a GET."""
        dep = self.deployment(ns, deployment) if isinstance(deployment, str) else deployment
        uid = dep["metadata"].get("uid")
        items = self._json(
            f"list replicasets of {ns}/{dep['metadata']['name']}",
            self.apps.list_namespaced_replica_set,
            ns,
            label_selector=selector_string(dep["spec"].get("selector")),
        ).get("items", [])
        owned = [
            rs for rs in items
            if any(
                ref.get("controller") and ref.get("uid") == uid
                for ref in rs["metadata"].get("ownerReferences") or []
            )
        ]
        return sorted(
            owned, key=lambda rs: (revision_of(rs), rs["metadata"].get("creationTimestamp", ""))
        )

    def pods(self, ns: str, selector: dict[str, Any] | str) -> list[dict[str, Any]]:
        """Pods matching a label selector (a query string, a LabelSelector or a label map)."""
        return self._json(
            f"list pods in {ns}",
            self.core.list_namespaced_pod,
            ns,
            label_selector=selector_string(selector),
        ).get("items", [])

    def events(
        self,
        ns: str,
        since: datetime | None = None,
        involved_names: Iterable[str] | None = None,
        field_selector: str = "",
    ) -> list[dict[str, Any]]:
        """core/v1 Events in `ns`, oldest first.

        `field_selector` goes to the server (e.g. "type=Warning" or
        "involvedObject.kind=Pod"); `involved_names` (names of the Deployment, its
        ReplicaSets and pods) and `since` (last seen at/after) filter in the client, since
        field selectors have no set membership. `since` is compared at whole seconds.
        """
        kwargs: dict[str, Any] = {}
        if field_selector:
            kwargs["field_selector"] = field_selector
        items = self._json(
            f"list events in {ns}", self.core.list_namespaced_event, ns, **kwargs
        ).get("items", [])
        names = set(involved_names) if involved_names is not None else None
        if since is not None:
            # Event timestamps have whole-second precision: compare at that precision, or an
            # event from the same second as `since` would be dropped.
            since = since.replace(microsecond=0)
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
        out = []
        for ev in items:
            if names is not None and (ev.get("involvedObject") or {}).get("name") not in names:
                continue
            if since is not None:
                at = event_time(ev)
                if at is not None and at < since:
                    continue
            out.append(ev)
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(out, key=lambda e: event_time(e) or epoch)

    def pod_log(
        self, ns: str, pod: str, container: str, tail_lines: int = 25, previous: bool = False
    ) -> str:
        """The container's log tail (`previous=True`: the last terminated instance)."""
        try:
            resp = self.core.read_namespaced_pod_log(
                pod, ns, container=container, tail_lines=tail_lines, previous=previous,
                _preload_content=False, _request_timeout=self.timeout,
            )
            return bytes(resp.data or b"").decode("utf-8", errors="replace")
        except Exception as exc:
            raise map_error(exc, f"log of {ns}/{pod}/{container}") from exc

    def log_lines(self, ns: str, pod: str, container: str, *, tail_lines: int = 200,
                  previous: bool = False, follow: bool = False,
                  max_seconds: float = 600.0) -> Iterator[str]:
        """`kubectl logs [--previous] [-f] --tail=N`: the container's log, line by line.
        Opening raises AdapterError; a follow ends when the container does, or after
        `max_seconds` without a line (the read timeout)."""
        try:
            resp = self.core.read_namespaced_pod_log(
                pod, ns, container=container, tail_lines=tail_lines, previous=previous,
                follow=follow, _preload_content=False,
                _request_timeout=(self.timeout[0] if isinstance(self.timeout, tuple)
                                  else self.timeout, max_seconds) if follow else self.timeout,
            )
        except Exception as exc:
            raise map_error(exc, f"log of {ns}/{pod}/{container}") from exc

        def lines() -> Iterator[str]:
            try:
                yield from iter_resp_lines(resp)
            except Exception:
                return  # the stream ended (timeout, the container stopped, a reset)
            finally:
                resp.release_conn()

        return lines()

    def recent_logs(self, ns: str, pod: str, container: str, tail_lines: int = 25) -> list[str]:
        """Best-effort last lines for a failure summary: the current instance, else (for a
        crash-looping container that is waiting) the previous one; [] when neither is there."""
        for previous in (False, True):
            try:
                text = self.pod_log(ns, pod, container, tail_lines, previous=previous)
            except AdapterError:
                continue
            lines = text.splitlines()
            if lines:
                return lines[-tail_lines:]
        return []

    # -- writes ----------------------------------------------------------------------------
    def _patch(self, what: str, ns: str, name: str, body: Any) -> dict[str, Any]:
        # A dict body goes out as strategic-merge-patch, a list as json-patch (client 36).
        return self._json(what, self.apps.patch_namespaced_deployment, name, ns, body,
                          field_manager=FIELD_MANAGER)

    def set_image(
        self, ns: str, name: str, container: str, image: str, change_cause: str = ""
    ) -> int:
        """`kubectl set image` + change-cause: a strategic merge patch of the container's
        image (merged by container name, so probes/env/sidecars stay) and the
        kubernetes.io/change-cause annotation. Returns the new metadata.generation.
        Refuses (non-retryable) a container name the Deployment does not have, since the
        merge would otherwise add a new container."""
        dep = self.deployment(ns, name)
        names = [c.get("name") for c in dep["spec"]["template"]["spec"].get("containers", [])]
        if container not in names:
            raise AdapterError(
                f'unable to find container named "{container}" in deployment {ns}/{name} '
                f"(has {', '.join(n for n in names if n) or 'none'})",
                retryable=False,
                status=422,
                api="kube",
            )
        body: dict[str, Any] = {
            "spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}
        }
        if change_cause:
            body["metadata"] = {"annotations": {CHANGE_CAUSE: change_cause}}
        out = self._patch(f"set image on {ns}/{name}", ns, name, body)
        return int(out["metadata"].get("generation", 0))

    def undo(
        self, ns: str, name: str, to_revision: int | None = None, change_cause: str = ""
    ) -> UndoResult:
        """`kubectl rollout undo [--to-revision=N]`: patch the Deployment's template back
        to that ReplicaSet's (minus pod-template-hash), annotations as kubectl builds them,
        plus `change_cause` when given. Default: the previous (second-highest) revision.
        Refuses a paused Deployment and an unknown revision (non-retryable)."""
        dep = self.deployment(ns, name)
        if dep["spec"].get("paused"):
            raise AdapterError(
                f"you cannot rollback a paused deployment {ns}/{name}; resume it first",
                retryable=False, status=409, api="kube",
            )
        by_revision = {
            revision_of(rs): rs for rs in self.replicasets(ns, dep) if revision_of(rs) > 0
        }
        if to_revision:
            target = by_revision.get(to_revision)
            if target is None:
                raise AdapterError(
                    f"unable to find specified revision {to_revision} in history of {ns}/{name}",
                    retryable=False, status=404, api="kube",
                )
        else:
            revisions = sorted(by_revision)
            if len(revisions) < 2:
                raise AdapterError(
                    f'no rollout history found for deployment "{name}"',
                    retryable=False, status=404, api="kube",
                )
            to_revision = revisions[-2]
            target = by_revision[to_revision]
        template = template_without_hash(target["spec"]["template"])
        image = first_image(template)
        generation = int(dep["metadata"].get("generation", 0))
        if template == template_without_hash(dep["spec"]["template"]):
            return UndoResult(to_revision, generation, skipped=True, image=image)
        current = dep["metadata"].get("annotations") or {}
        annotations = {k: v for k, v in current.items() if k in UNDO_KEEP}
        for key, value in (target["metadata"].get("annotations") or {}).items():
            if key not in UNDO_KEEP:
                annotations[key] = value
        if change_cause:
            annotations[CHANGE_CAUSE] = change_cause
        patch = [
            {"op": "replace", "path": "/spec/template", "value": template},
            # "add" sets the member whether or not it exists ("replace" needs it to exist).
            {"op": "add", "path": "/metadata/annotations", "value": annotations},
        ]
        out = self._patch(f"undo {ns}/{name} to revision {to_revision}", ns, name, patch)
        return UndoResult(to_revision, int(out["metadata"].get("generation", 0)), False, image)

    def history(self, ns: str, name: str) -> list[dict[str, Any]]:
        """`kubectl rollout history`: [{revision, change_cause, image, replicaset,
        replicas}] oldest first, from the Deployment's ReplicaSets."""
        out = []
        for rs in self.replicasets(ns, name):
            revision = revision_of(rs)
            if revision <= 0:
                continue
            meta = rs["metadata"]
            out.append({
                "revision": revision,
                "change_cause": (meta.get("annotations") or {}).get(CHANGE_CAUSE, ""),
                "image": first_image(rs["spec"].get("template") or {}),
                "replicaset": meta.get("name", ""),
                "replicas": int((rs.get("status") or {}).get("replicas") or 0),
            })
        return out

    def pause(self, ns: str, name: str) -> int:
        """spec.paused=true (idempotent). Returns metadata.generation."""
        out = self._patch(f"pause {ns}/{name}", ns, name, {"spec": {"paused": True}})
        return int(out["metadata"].get("generation", 0))

    def resume(self, ns: str, name: str) -> int:
        """Clear spec.paused (a null removes it, as kubectl's patch does). Idempotent."""
        out = self._patch(f"resume {ns}/{name}", ns, name, {"spec": {"paused": None}})
        return int(out["metadata"].get("generation", 0))

    # -- Jobs (the pre-deploy step) --------------------------------------------------------
    def job(self, ns: str, name: str) -> dict[str, Any] | None:
        """The Job as the API's JSON, or None when there is none of that name."""
        try:
            return self._json(f"get job {ns}/{name}", self.batch.read_namespaced_job, name, ns)
        except AdapterError as exc:
            if exc.status == 404:
                return None
            raise

    def create_job(self, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create the Job; if one of that name exists (a re-run after a crash, or a retried
        create whose first answer was lost) return it: the name is the idempotency key."""
        name = body["metadata"]["name"]
        try:
            return self._json(f"create job {ns}/{name}", self.batch.create_namespaced_job, ns,
                              body, field_manager=FIELD_MANAGER)
        except AdapterError as exc:
            if exc.status != 409:
                raise
        found = self.job(ns, name)
        if found is None:
            raise AdapterError(f"Kubernetes job {ns}/{name} exists and vanished; retrying",
                               retryable=True, api="kube")
        return found

    # -- service proxy ---------------------------------------------------------------------
    def proxy_get(self, ns: str, service: str, port: int | str, path: str) -> tuple[int, str]:
        """GET through the API server's service proxy:
        /api/v1/namespaces/{ns}/services/{service}:{port}/proxy/{path}.

        Returns (status, body) for any HTTP answer, 503 and other 5xx included (the
        service or the proxy said no: verification just counts it as not healthy).
        Raises AdapterError for 401/403 (misconfigured access, not retryable) and for
        connection errors/timeouts (retryable)."""
        return self._proxy_get(
            f"/api/v1/namespaces/{ns}/services/{service}:{port}/proxy/{path.lstrip('/')}")

    def pod_proxy_get(self, ns: str, pod: str, port: int | str, path: str) -> tuple[int, str]:
        """GET one pod's own endpoint through the API server's pod proxy
        (/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path}); answers as proxy_get."""
        return self._proxy_get(
            f"/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/{path.lstrip('/')}")

    def _proxy_get(self, resource: str) -> tuple[int, str]:
        try:
            resp = self.api_client.call_api(
                resource, "GET",
                header_params={"Accept": "*/*"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=self.timeout,
            )
            return int(resp.status), bytes(resp.data or b"").decode("utf-8", errors="replace")
        except ApiException as exc:
            status = int(exc.status or 0)
            if status in (401, 403) or status == 0:
                raise map_error(exc, f"proxy GET {resource}") from exc
            body = exc.body or ""
            if isinstance(body, bytes):
                body = body.decode("utf-8", "replace")
            return status, body
        except Exception as exc:
            raise map_error(exc, f"proxy GET {resource}") from exc
