"""The image registry shared by the Cloud Build and Kubernetes halves of the sandbox.

Cloud Build pushes images here; the simulated kubelet pulls from here. An image that was
never pushed (nor pre-loaded) fails to pull with ErrImagePull "not found".
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Image:
    repository: str  # e.g. us-docker.pkg.dev/sandbox/apps/license-api (or gcr.io/...)
    tag: str | None
    digest: str  # sha256:<64 hex>
    commit: str  # the commit the image was built from ("" when unknown)


def digest_for(repository: str, commit: str) -> str:
    """Deterministic digest per image name + commit, as a rebuild of one commit gives; the
    same image pushed under two registries' names (gcr.io and Artifact Registry) keeps it."""
    image = repository.rsplit("/", 1)[-1]
    return "sha256:" + hashlib.sha256(f"{image}@{commit}".encode()).hexdigest()


def split_reference(ref: str) -> tuple[str, str | None, str | None]:
    """Split `repo[:tag][@sha256:...]` into (repository, tag, digest)."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    return ref, tag, digest


class Registry:
    """Thread-safe map of pushed images, looked up by tag or digest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_digest: dict[tuple[str, str], Image] = {}
        self._tags: dict[tuple[str, str], str] = {}

    def push(self, repository: str, tag: str | None, commit: str) -> Image:
        image = Image(repository, tag, digest_for(repository, commit), commit)
        with self._lock:
            self._by_digest[(repository, image.digest)] = image
            if tag:
                self._tags[(repository, tag)] = image.digest
        return image

    def resolve(self, reference: str) -> Image | None:
        """The image a pod spec's `image:` names, or None when it cannot be pulled."""
        repository, tag, digest = split_reference(reference)
        with self._lock:
            if digest:
                return self._by_digest.get((repository, digest))
            found = self._tags.get((repository, tag or "latest"))
            return self._by_digest.get((repository, found)) if found else None

    def delete(self, repository: str, digest: str) -> bool:
        """Forget one image and its tags (a cleanup policy or a person deleted it)."""
        with self._lock:
            found = self._by_digest.pop((repository, digest), None)
            for key in [k for k, d in self._tags.items() if k[0] == repository and d == digest]:
                del self._tags[key]
        return found is not None

    def images(self) -> list[Image]:
        with self._lock:
            return list(self._by_digest.values())

    def tags_of(self, repository: str, digest: str) -> list[str]:
        with self._lock:
            return sorted(t for (r, t), d in self._tags.items() if r == repository and d == digest)

    def clear(self) -> None:
        with self._lock:
            self._by_digest.clear()
            self._tags.clear()
