"""A GKE cluster by name: its endpoint and CA from the Container API, and a Kubernetes
ApiClient that authenticates with the Google access token, refreshed before it expires.

`projects/P/locations/L/clusters/C` is looked up with the official google-cloud-container
client (REST; settings.CONTAINER_ENDPOINT overrides Google's endpoint, e.g. the sandbox).
The ApiClient trusts that cluster's CA only, and its `refresh_api_key_hook` runs before
every request, watches included, so a long-lived client (the watcher's informers) never
sends an expired token: a watch that outlives its token keeps streaming (the API server
checks a token when a request starts), and the next list or watch carries a fresh one.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as gauth_exceptions
from google.auth.credentials import Credentials
from google.cloud import container_v1
from kubernetes import client
from kubernetes.client.rest import ApiException

from dashboard.names import GKE_CLUSTER_RE

from .errors import AdapterError, retryable_status
from .google import credential_error, fresh_token, who
from .google import credentials as google_credentials

_lock = threading.Lock()
_clients: dict[tuple[Any, ...], client.ApiClient] = {}


@dataclass(frozen=True)
class Endpoint:
    name: str
    host: str  # https://IP[:port]
    ca_pem: bytes
    identity: str  # who the calls are made as


def container_endpoint() -> str | None:
    from django.conf import settings

    return getattr(settings, "CONTAINER_ENDPOINT", None) or None


def describe(name: str, creds: Credentials, endpoint: str | None = None,
             timeout: float = 15.0) -> Endpoint:
    """`projects.locations.clusters.get`: the cluster's endpoint and CA (AdapterError)."""
    if not GKE_CLUSTER_RE.match(name):
        raise AdapterError(f"{name!r} is not a GKE cluster name "
                           "(projects/PROJECT/locations/LOCATION/clusters/CLUSTER)",
                           retryable=False, api="container")
    endpoint = endpoint if endpoint is not None else container_endpoint()
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    try:
        manager = container_v1.ClusterManagerClient(transport="rest", credentials=creds,
                                                    client_options=options)
        found = manager.get_cluster(
            name=name, timeout=timeout,
            retry=gretry.Retry(predicate=gretry.if_exception_type(
                gexc.ServiceUnavailable, gexc.InternalServerError, gexc.TooManyRequests),
                initial=0.2, maximum=2.0, timeout=timeout))
    except gauth_exceptions.GoogleAuthError as exc:
        raise credential_error(creds, "Container API", exc) from exc
    except gexc.GoogleAPICallError as exc:
        status = int(exc.code or 0)
        refused = " refused the Google credentials" if status in (401, 403) else " failed"
        raise AdapterError(
            f"Container API get {name} as {who(creds)}{refused} ({status}): {exc.message}",
            retryable=retryable_status(status), status=status, api="container") from exc
    except (gexc.RetryError, OSError, ValueError) as exc:
        raise AdapterError(f"Container API get {name} did not answer: {exc}",
                           retryable=True, api="container") from exc
    if not found.endpoint or not found.master_auth.cluster_ca_certificate:
        raise AdapterError(f"GKE cluster {name} has no endpoint or CA yet (status "
                           f"{found.status.name})", retryable=True, api="container")
    return Endpoint(name, f"https://{found.endpoint}",
                    base64.b64decode(found.master_auth.cluster_ca_certificate), who(creds))


def _ca_file(pem: bytes) -> str:
    """The kubernetes client reads a CA from a file only: a private one per process."""
    fd, path = tempfile.mkstemp(prefix="gke-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return path


def api_client(name: str, key_file: str = "") -> client.ApiClient:
    """One ApiClient per (process, cluster name, key file), built from the Container API."""
    cache_key = (os.getpid(), name, key_file)
    with _lock:
        found = _clients.get(cache_key)
    if found is not None:
        return found
    endpoint = container_endpoint()
    creds = google_credentials(key_file, sandbox=bool(endpoint))
    ep = describe(name, creds, endpoint)
    cfg = client.Configuration()
    cfg.host = ep.host
    cfg.ssl_ca_cert = _ca_file(ep.ca_pem)
    cfg.verify_ssl = True
    api = f"Kubernetes API of {name}"

    def refresh(conf: client.Configuration) -> None:
        token = fresh_token(creds, api)
        if token:
            conf.api_key = {"BearerToken": token}
            conf.api_key_prefix = {"BearerToken": "Bearer"}

    cfg.refresh_api_key_hook = refresh
    # The client only asks the hook when a BearerToken is already set: set the first now.
    refresh(cfg)
    built = client.ApiClient(cfg)
    _retry_once_on_401(built, creds, api)
    built.gke_identity = ep.identity  # type: ignore[attr-defined]  # for the admin
    with _lock:
        return _clients.setdefault(cache_key, built)


def _retry_once_on_401(api_client: client.ApiClient, creds: Credentials, api: str) -> None:
    """A token can be refused before it expires (revoked, the key rotated): on a 401, get a
    new token and send the request once more, as google-auth's own sessions do. Wraps the
    REST client every call of this ApiClient goes through (informers' lists and watches too).
    A second 401 is the answer: the credential itself is refused."""
    rest = api_client.rest_client
    send = rest.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return send(method, url, *args, **kwargs)
        except ApiException as exc:
            headers = kwargs.get("headers")
            if exc.status != 401 or not creds.token or headers is None:
                raise
        token = fresh_token(creds, api, force=True)
        api_client.configuration.api_key = {"BearerToken": token}
        key = next((k for k in headers if k.lower() == "authorization"), "authorization")
        headers[key] = f"Bearer {token}"
        return send(method, url, *args, **kwargs)

    rest.request = request


def forget(name: str) -> None:
    """Drop cached clients of `name` (the cluster was edited or its CA rotated)."""
    with _lock:
        for key in [k for k in _clients if k[1] == name]:
            _clients.pop(key)
