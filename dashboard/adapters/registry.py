"""Image repositories: which names are valid, and whether a digest is in Artifact Registry.

Artifact Registry names images `LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE`; the old
Container Registry names (`[REGION.]gcr.io/PROJECT/IMAGE`) keep working, as Google serves them
from Artifact Registry's gcr.io repositories. Before the worker points a Deployment at
`REPO@sha256:...`, `require_digest` asks Artifact Registry (official google-cloud-artifact-
registry client; settings.ARTIFACT_REGISTRY_ENDPOINT overrides Google's endpoint) whether
that image exists, so a missing image fails the release before the Deployment changes
instead of as ImagePullBackOff after. gcr.io names are not looked up (their repositories
live under other names), they are left to the rollout's own checks.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from urllib.parse import quote

from google.api_core import exceptions as gexc
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as gauth_exceptions
from google.auth.credentials import Credentials
from google.cloud import artifactregistry_v1

from dashboard.names import AR_RE

from .errors import AdapterError, retryable_status
from .google import credential_error, who
from .google import credentials as google_credentials

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ArImage:
    location: str
    project: str
    repo: str
    image: str

    @property
    def repository_name(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/repositories/{self.repo}"

    def docker_image_name(self, digest: str) -> str:
        # The image id is one path segment: slashes inside the image name are escaped.
        return f"{self.repository_name}/dockerImages/{quote(self.image, safe='')}@{digest}"


def parse_ar(repository: str) -> ArImage | None:
    m = AR_RE.match(repository)
    return ArImage(m["location"], m["project"], m["repo"], m["image"]) if m else None


class RegistryAdapter:
    def __init__(self, endpoint: str | None = None, *, credentials: Credentials | None = None,
                 timeout: float = 15.0) -> None:
        if endpoint is None:
            from django.conf import settings

            endpoint = getattr(settings, "ARTIFACT_REGISTRY_ENDPOINT", None)
        self.endpoint = endpoint or None
        self.timeout = timeout
        self._credentials = credentials
        self._client: artifactregistry_v1.ArtifactRegistryClient | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @property
    def credentials(self) -> Credentials:
        if self._credentials is None:
            self._credentials = google_credentials(sandbox=bool(self.endpoint))
        return self._credentials

    @property
    def client(self) -> artifactregistry_v1.ArtifactRegistryClient:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._pid = os.getpid()
                options = ClientOptions(api_endpoint=self.endpoint) if self.endpoint else None
                self._client = artifactregistry_v1.ArtifactRegistryClient(
                    transport="rest", credentials=self.credentials, client_options=options)
            return self._client

    def require_digest(self, image: str) -> str | None:
        """Check `REPO@sha256:...` is in Artifact Registry; returns its URI, or None when the
        name is not an Artifact Registry digest (not checked). AdapterError when it is missing
        (not retryable) or the registry cannot answer (retryable)."""
        repository, _, digest = image.partition("@")
        ar = parse_ar(repository)
        if ar is None or not digest:
            # Not Artifact Registry, or a tag (an explicit `repo:tag` deploy, a rollback to
            # the original image): the rollout's ErrImagePull fail-fast covers those.
            return None
        if not DIGEST_RE.match(digest):
            raise AdapterError(f"image {image!r} names no sha256 digest", retryable=False,
                               api="artifactregistry")
        name = ar.docker_image_name(digest)
        try:
            found = self.client.get_docker_image(name=name, timeout=self.timeout)
        except gexc.NotFound as exc:
            raise AdapterError(
                f"image {image} is not in Artifact Registry ({ar.repository_name}): the build "
                "that pushed it is gone or pushed elsewhere; the Deployment was not changed",
                retryable=False, status=404, api="artifactregistry") from exc
        except gauth_exceptions.GoogleAuthError as exc:
            raise credential_error(self.credentials, "Artifact Registry API", exc) from exc
        except gexc.GoogleAPICallError as exc:
            status = int(exc.code or 0)
            refused = " refused the Google credentials" if status in (401, 403) else " failed"
            raise AdapterError(
                f"Artifact Registry look-up of {image} as {who(self.credentials)}{refused} "
                f"({status}): {exc.message}", retryable=retryable_status(status),
                status=status, api="artifactregistry") from exc
        except (OSError, ValueError) as exc:
            raise AdapterError(f"Artifact Registry did not answer: {exc}", retryable=True,
                               api="artifactregistry") from exc
        return str(found.uri or image)


_adapter: RegistryAdapter | None = None
_adapter_lock = threading.Lock()


def registry() -> RegistryAdapter:
    """The process's RegistryAdapter (its HTTP client is rebuilt after a fork)."""
    global _adapter
    with _adapter_lock:
        if _adapter is None:
            _adapter = RegistryAdapter()
        return _adapter
