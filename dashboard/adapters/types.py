"""Plain values the adapters take and return (no Django models, so adapters test alone)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

# Cloud Build statuses (Build.Status names).
BUILD_ONGOING = frozenset({"STATUS_UNKNOWN", "PENDING", "QUEUED", "WORKING"})
BUILD_TERMINAL = frozenset(
    {"SUCCESS", "FAILURE", "INTERNAL_ERROR", "TIMEOUT", "CANCELLED", "EXPIRED"}
)
# What people read instead of the enum names (timeline, release page, live updates).
BUILD_STATUS_WORDS = {
    "STATUS_UNKNOWN": "not started", "PENDING": "pending", "QUEUED": "queued",
    "WORKING": "running", "SUCCESS": "succeeded", "FAILURE": "failed",
    "INTERNAL_ERROR": "failed (Cloud Build internal error)", "TIMEOUT": "timed out",
    "CANCELLED": "cancelled", "EXPIRED": "expired",
}


def status_words(status: str) -> str:
    """A Cloud Build status as words ("WORKING" -> "running"); unknown names lower-cased."""
    return BUILD_STATUS_WORDS.get(status, status.replace("_", " ").lower())


@dataclass(frozen=True)
class BuildSpec:
    """What to build, from a Service's fields.

    Either `trigger_id` (run the Service's Cloud Build trigger at the commit) or
    `config_path` (an inline build from that cloudbuild.yaml, relative to the repository
    root unless absolute, with `git_repo` as its source). `not_before` is when the release
    started: trigger builds cannot carry our tag, so after an error they are found by
    trigger id + COMMIT_SHA substitution + create_time >= not_before (minus clock skew).
    """

    project: str
    trigger_id: str = ""
    config_path: str = ""
    git_repo: str = ""
    image_repository: str = ""
    substitutions: dict[str, str] = field(default_factory=dict)
    not_before: datetime | None = None

    @classmethod
    def from_service(cls, service: Any, *, not_before: datetime | None = None) -> BuildSpec:
        """Build a spec from anything with the Service's attribute names (duck-typed)."""
        return cls(
            project=service.gcp_project,
            trigger_id=getattr(service, "build_trigger_id", "") or "",
            config_path=getattr(service, "build_config_path", "") or "",
            git_repo=getattr(service, "git_repo", "") or "",
            image_repository=getattr(service, "image_repository", "") or "",
            not_before=not_before,
        )


@dataclass(frozen=True)
class StepInfo:
    id: str
    name: str
    status: str
    started: datetime | None = None
    finished: datetime | None = None
    exit_code: int | None = None

    @property
    def seconds(self) -> float | None:
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds()
        return None


@dataclass(frozen=True)
class BuildInfo:
    """A Cloud Build build as the dashboard needs it.

    `images` are (name, digest) pairs from results.images; `log_bucket` is the bare bucket
    name (no gs://) and `log_object` the full object name of `log-{id}.txt`.
    """

    id: str
    project: str
    status: str
    steps: tuple[StepInfo, ...] = ()
    images: tuple[tuple[str, str], ...] = ()
    failure_detail: str = ""
    log_bucket: str = ""
    log_object: str = ""
    log_url: str = ""
    tags: tuple[str, ...] = ()
    commit: str = ""
    trigger_id: str = ""
    create_time: datetime | None = None
    start_time: datetime | None = None
    finish_time: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in BUILD_TERMINAL

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    def digest_for(self, image_repository: str) -> str | None:
        """The digest of the first pushed image in `image_repository` (any tag), if any."""
        for name, digest in self.images:
            if digest and image_repository and _same_repository(name, image_repository):
                return digest
        return None

    @property
    def failed_step(self) -> StepInfo | None:
        for step in self.steps:
            if step.status in ("FAILURE", "TIMEOUT", "INTERNAL_ERROR"):
                return step
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (datetimes as ISO strings), for events and streams."""
        return _jsonable(asdict(self))


def _same_repository(image_name: str, repository: str) -> bool:
    base = image_name.split("@", 1)[0]
    last = base.rsplit("/", 1)[-1]
    if ":" in last:
        base = base.rsplit(":", 1)[0]
    return base == repository.rstrip("/")


def image_ref(repository: str, digest: str) -> str:
    """`repo@sha256:...`: what the Deployment is patched to (immutable, unlike a tag)."""
    return f"{repository}@{digest}"


@dataclass(frozen=True)
class UndoResult:
    """What `KubeAdapter.undo` did: the revision it went back to and the new generation.

    `skipped` is True when the template already matched that revision (nothing sent).
    """

    to_revision: int
    generation: int
    skipped: bool
    image: str = ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
