"""Google's own APIs beside Cloud Build on the sandbox's Google port: the OAuth2 token
endpoint, the Container API's `projects.locations.clusters.get/list`, Artifact Registry's
repositories and docker images, and the bearer-token check every Google API applies.

Names the sandbox knows: project `sandbox`, cluster `projects/sandbox/locations/us-central1/
clusters/sandbox` (its endpoint is the HTTPS Kubernetes port, its CA the sandbox's cluster
CA), and any Artifact Registry repository `projects/sandbox/locations/L/repositories/R`
holding the images pushed as `L-docker.pkg.dev/sandbox/R/IMAGE` (by builds or pre-loading).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from aiohttp import web
from aiohttp.typedefs import Middleware

from .identity import AuthError, Identity
from .registry import Registry

log = logging.getLogger("sandbox.gcp")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROJECT = "sandbox"
CLUSTER_LOCATION = "us-central1"
CLUSTER_NAME = "sandbox"
# Paths anyone may call on the Google port: the token endpoint itself.
OPEN_PATHS = frozenset({"/token"})


@dataclass
class ClusterInfo:
    endpoint: str  # host:port of the HTTPS Kubernetes API
    ca_pem: bytes
    version: str = "1.31.0-gke.sandbox"


def _error(code: int, message: str, status: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "status": status}},
                             status=code)


def google_auth_middleware(identity: Identity) -> Middleware:
    """With --auth required, every Google API path but the token endpoint needs a token."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if identity.required and request.path not in OPEN_PATHS:
            try:
                request["principal"] = identity.check(request.headers.get("Authorization"))
            except AuthError as exc:
                status = "UNAUTHENTICATED" if exc.code == 401 else "PERMISSION_DENIED"
                resp = _error(exc.code, exc.message, status)
                if exc.code == 401:
                    resp.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
                return resp
        return await handler(request)

    return middleware


def kube_auth_middleware(identity: Identity, static_token: str) -> Middleware:
    """With --auth required, the Kubernetes API needs a Google token of the service account
    or the kubeconfig's own token; discovery of the version and health stay public as on
    GKE, and the control API has its own guard."""
    public = ("/version", "/healthz", "/livez", "/readyz", "/sandbox/")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if identity.required and not request.path.startswith(public):
            header = request.headers.get("Authorization", "")
            if header != f"Bearer {static_token}":
                try:
                    identity.check(header)
                except AuthError as exc:
                    reason = "Unauthorized" if exc.code == 401 else "Forbidden"
                    return web.json_response(
                        {"kind": "Status", "apiVersion": "v1", "metadata": {},
                         "status": "Failure", "message": exc.message, "reason": reason,
                         "code": exc.code}, status=exc.code)
        return await handler(request)

    return middleware


def add_routes(app: web.Application, identity: Identity, registry: Registry,
               cluster: Callable[[], ClusterInfo | None]) -> None:
    async def token(request: web.Request) -> web.Response:
        form = await request.post()
        try:
            body = identity.grant(str(form.get("grant_type", "")), str(form.get("assertion", "")))
        except AuthError as exc:
            error, _, text = exc.message.partition(": ")
            code = 400 if exc.code in (400, 401) else exc.code
            return web.json_response({"error": error if text else "invalid_grant",
                                      "error_description": text or exc.message}, status=code)
        return web.json_response(body)

    def project_of(request: web.Request) -> str:
        project = request.match_info["project"]
        if project != PROJECT:
            raise web.HTTPForbidden(
                text=json.dumps({"error": {"code": 403, "status": "PERMISSION_DENIED",
                                           "message": f"Permission denied on project {project}"}}),
                content_type="application/json")
        return project

    def cluster_json(info: ClusterInfo) -> dict[str, object]:
        name = f"projects/{PROJECT}/locations/{CLUSTER_LOCATION}/clusters/{CLUSTER_NAME}"
        host = info.endpoint.rsplit(":", 1)[0]
        return {
            "name": CLUSTER_NAME, "location": CLUSTER_LOCATION, "zone": CLUSTER_LOCATION,
            "endpoint": info.endpoint, "status": "RUNNING",
            "selfLink": f"https://container.googleapis.com/v1/{name}",
            "currentMasterVersion": info.version, "currentNodeVersion": info.version,
            "masterAuth": {"clusterCaCertificate": base64.b64encode(info.ca_pem).decode()},
            "privateClusterConfig": {"privateEndpoint": host},
            "workloadIdentityConfig": {"workloadPool": f"{PROJECT}.svc.id.goog"},
            "createTime": "2026-01-01T00:00:00+00:00",
        }

    async def get_cluster(request: web.Request) -> web.Response:
        project_of(request)
        info = cluster()
        loc, name = request.match_info["location"], request.match_info["cluster"]
        if info is None or (loc, name) != (CLUSTER_LOCATION, CLUSTER_NAME):
            return _error(404, f"Not found: projects/{PROJECT}/locations/{loc}/clusters/{name}.",
                          "NOT_FOUND")
        return web.json_response(cluster_json(info))

    async def list_clusters(request: web.Request) -> web.Response:
        project_of(request)
        info = cluster()
        loc = request.match_info["location"]
        found = [cluster_json(info)] if info and loc in ("-", CLUSTER_LOCATION) else []
        return web.json_response({"clusters": found})

    def repo_name(request: web.Request) -> tuple[str, str, str]:
        return (project_of(request), request.match_info["location"], request.match_info["repo"])

    async def get_repository(request: web.Request) -> web.Response:
        project, loc, repo = repo_name(request)
        prefix = f"{loc}-docker.pkg.dev/{project}/{repo}/"
        if not any(i.repository.startswith(prefix) for i in registry.images()):
            return _error(404, f"Requested entity was not found: repository {repo} in {loc}",
                          "NOT_FOUND")
        return web.json_response({
            "name": f"projects/{project}/locations/{loc}/repositories/{repo}",
            "format": "DOCKER", "mode": "STANDARD_REPOSITORY",
        })

    async def get_docker_image(request: web.Request) -> web.Response:
        project, loc, repo = repo_name(request)
        # The image id is the last path segment, `IMAGE@sha256:HEX` with `/` in IMAGE sent as
        # %2F: read it from the raw path before aiohttp decodes it.
        raw = request.raw_path.split("?", 1)[0].rsplit("/dockerImages/", 1)[-1]
        image_id = unquote(raw)
        while "%" in image_id and unquote(image_id) != image_id:  # `/` escaped, then escaped
            image_id = unquote(image_id)
        image, _, digest = image_id.partition("@")
        base = f"projects/{project}/locations/{loc}/repositories/{repo}/dockerImages/{image_id}"
        found = registry.resolve(f"{loc}-docker.pkg.dev/{project}/{repo}/{image}@{digest}") \
            if image and digest.startswith("sha256:") else None
        if found is None:
            return _error(404, f"Requested entity was not found: {base}", "NOT_FOUND")
        uploaded = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return web.json_response({
            "name": base, "uri": f"{found.repository}@{found.digest}",
            "tags": registry.tags_of(found.repository, found.digest),
            "imageSizeBytes": "52428800",
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "uploadTime": uploaded, "buildTime": uploaded, "updateTime": uploaded,
        })

    r = app.router
    r.add_post("/token", token)
    base = "/v1/projects/{project}/locations/{location}"
    r.add_get(f"{base}/clusters", list_clusters)
    r.add_get(base + "/clusters/{cluster:[^/:]+}", get_cluster)
    r.add_get(base + "/repositories/{repo:[^/:]+}", get_repository)
    r.add_get(base + "/repositories/{repo:[^/:]+}/dockerImages/{image:.+}", get_docker_image)
