"""Cloud Build through the official client (REST transport), and its logs through GCS.

One build per release, even across crashes and client timeouts: `start_build` first looks
for a build already made for the release and adopts it, and after ANY error from the
create call (a timeout included: the server may have created the build anyway) it looks
again before giving up. How a build is recognised:

* inline builds (cloudbuild.yaml) carry the release's tag (e.g. `release-42`) and are
  found with `tags="release-42"`;
* trigger builds cannot be given extra tags (RunBuildTrigger only takes a RepoSource), so
  they are found by `trigger_id`, the `COMMIT_SHA` substitution the trigger fills in, and
  `create_time` at or after the release's start (`BuildSpec.not_before`, minus a few
  seconds of clock skew). The oldest match wins, so repeated calls agree.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.api_core.client_options import ClientOptions
from google.cloud.devtools import cloudbuild_v1 as cb
from google.protobuf import json_format

from .buildinfo import TAG_RE, decode_prefix, map_error, oldest, release_tag, to_info
from .errors import AdapterError
from .google import credentials as google_credentials
from .google import who
from .types import BuildInfo, BuildSpec

__all__ = ["CLOCK_SKEW", "TAG_RE", "CloudBuildAdapter", "map_error", "release_tag", "to_info",
           "wait_for"]

T = TypeVar("T")

CLOCK_SKEW = timedelta(seconds=5)
_TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.GatewayTimeout,
    gexc.DeadlineExceeded,
    gexc.TooManyRequests,
    gexc.InternalServerError,
    gexc.BadGateway,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)


class CloudBuildAdapter:
    """Start, poll, tail, cancel and look up builds.

    `endpoint` defaults to settings.CLOUDBUILD_ENDPOINT: when set (the sandbox), the client
    talks plain REST to it and so does the GCS client for logs; when unset, Google's
    endpoints. Either way with Application Default Credentials (cloud-platform scope, see
    adapters/google.py), anonymous only against an endpoint override without a key file.
    `timeout` is the per-request timeout in seconds for reads, `write_timeout` for
    create/run/cancel (default: the same); reads retry transient errors for
    `read_deadline` seconds in all; creates/cancels are never retried blindly (a create
    whose answer is lost is found by the lookup that follows any error).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        credentials: Any = None,
        timeout: float = 15.0,
        write_timeout: float | None = None,
        read_deadline: float = 30.0,
        repo_root: str | Path | None = None,
    ) -> None:
        if endpoint is None:
            from django.conf import settings

            endpoint = getattr(settings, "CLOUDBUILD_ENDPOINT", None)
            repo_root = repo_root or getattr(settings, "BASE_DIR", None)
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.timeout = timeout
        self.write_timeout = write_timeout if write_timeout is not None else timeout
        self.repo_root = Path(repo_root) if repo_root else Path.cwd()
        if credentials is None:
            credentials = google_credentials(sandbox=bool(self.endpoint))
        self._credentials = credentials
        self._read_retry = gretry.Retry(
            predicate=gretry.if_exception_type(*_TRANSIENT),
            initial=0.2,
            maximum=3.0,
            multiplier=2.0,
            timeout=read_deadline,
        )
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._client: cb.CloudBuildClient | None = None
        self._storage: Any = None
        self._trigger_ids: dict[tuple[str, str], str] = {}
        self.adopt_pauses: tuple[float, ...] = (0.0, 0.5, 1.0)

    @property
    def who(self) -> str:
        """The identity the calls are made as (for messages and the admin)."""
        return who(self._credentials)

    # -- clients ---------------------------------------------------------------------------
    def _forked(self) -> None:
        # HTTP sessions must not be shared across a fork (Celery prefork children).
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._client = None
            self._storage = None

    @property
    def client(self) -> cb.CloudBuildClient:
        with self._lock:
            self._forked()
            if self._client is None:
                options = ClientOptions(api_endpoint=self.endpoint) if self.endpoint else None
                self._client = cb.CloudBuildClient(
                    credentials=self._credentials, transport="rest", client_options=options
                )
            return self._client

    @property
    def storage(self) -> Any:
        with self._lock:
            self._forked()
            if self._storage is None:
                from google.cloud import storage  # type: ignore[attr-defined]

                if self.endpoint:
                    self._storage = storage.Client(
                        project="-",
                        credentials=self._credentials,
                        client_options={"api_endpoint": self.endpoint},
                    )
                else:
                    self._storage = storage.Client(credentials=self._credentials)
            return self._storage

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            raise map_error(exc, what, self.who) from exc

    # -- starting --------------------------------------------------------------------------
    def start_build(self, spec: BuildSpec, commit: str, tag: str) -> BuildInfo:
        """Start the release's build, or adopt the one already started for it.

        Looks the build up first (tag, or trigger+commit+time: see the module docstring),
        then creates it; after any error from the create call it looks again and adopts
        what it finds, else raises the (mapped) error. Never creates a second build for a
        tag that already has one. Raises AdapterError.
        """
        if not TAG_RE.match(tag):
            raise AdapterError(f"invalid build tag {tag!r}", retryable=False, api="cloudbuild")
        existing = self._find_existing(spec, commit, tag)
        if existing is not None:
            return existing
        try:
            if spec.trigger_id:
                op = self.client.run_build_trigger(
                    project_id=spec.project,
                    trigger_id=spec.trigger_id,
                    source=cb.RepoSource(
                        project_id=spec.project,
                        commit_sha=commit,
                        substitutions=dict(spec.substitutions),
                    ),
                    retry=None,
                    timeout=self.write_timeout,
                )
            else:
                build = self.inline_build(spec, commit, tag)
                op = self.client.create_build(
                    project_id=spec.project, build=build, retry=None, timeout=self.write_timeout
                )
            return to_info(op.metadata.build)
        except Exception as exc:
            error = map_error(exc, "create build", self.who)
            # The request may have reached the server: look before reporting a failure,
            # and when the outcome is unknown (timeout, 5xx) look again a little later, as
            # the server may still be writing it. The next attempt looks first anyway.
            pauses = self.adopt_pauses if error.retryable else (0.0,)
            for pause in pauses:
                time.sleep(pause)
                try:
                    found = self._find_existing(spec, commit, tag)
                except AdapterError:
                    continue
                if found is not None:
                    return found
            raise error from exc

    def inline_build(self, spec: BuildSpec, commit: str, tag: str) -> cb.Build:
        """The Build for an inline build: cloudbuild.yaml + source + substitutions + tag."""
        path = Path(spec.config_path)
        if not path.is_absolute():
            path = self.repo_root / path
        try:
            data = yaml.safe_load(path.read_text()) or {}
            build = cb.Build.from_json(json.dumps(data))
        except (OSError, yaml.YAMLError, json_format.ParseError) as exc:
            raise AdapterError(
                f"cannot use build config {spec.config_path!r}: {exc}", retryable=False,
                api="cloudbuild",
            ) from exc
        if spec.git_repo:
            if "://" in spec.git_repo or spec.git_repo.startswith("git@"):
                git = cb.GitSource(url=spec.git_repo, revision=commit)
                build.source = cb.Source(git_source=git)
            else:
                build.source = cb.Source(
                    repo_source=cb.RepoSource(
                        project_id=spec.project, repo_name=spec.git_repo, commit_sha=commit
                    )
                )
        subs = dict(build.substitutions)
        subs.update(spec.substitutions)
        subs.update({"COMMIT_SHA": commit, "SHORT_SHA": commit[:7]})
        build.substitutions = subs
        build.tags = [*(t for t in build.tags if t != tag), tag]
        return build

    def _find_existing(self, spec: BuildSpec, commit: str, tag: str) -> BuildInfo | None:
        if spec.trigger_id:
            return self.find_trigger_build(spec.project, spec.trigger_id, commit, spec.not_before)
        return self.find_by_tag(spec.project, tag)

    # -- looking up ------------------------------------------------------------------------
    def list_builds(self, project: str, filter_: str, limit: int = 50) -> list[BuildInfo]:
        """Builds matching a Cloud Build list filter, newest first (at most `limit`)."""

        def run() -> list[BuildInfo]:
            request = cb.ListBuildsRequest(project_id=project, filter=filter_, page_size=limit)
            pager = self.client.list_builds(
                request=request, retry=self._read_retry, timeout=self.timeout
            )
            out: list[BuildInfo] = []
            for build in pager:
                out.append(to_info(build))
                if len(out) >= limit:
                    break
            return out

        return self._call("list builds", run)

    def find_by_tag(self, project: str, tag: str) -> BuildInfo | None:
        """The (oldest) build carrying `tag`, or None."""
        return oldest(self.list_builds(project, f'tags="{tag}"'))

    def trigger_uid(self, project: str, trigger: str) -> str:
        """A trigger's id (Services may name a trigger by name or id; builds carry the id)."""
        key = (project, trigger)
        if key not in self._trigger_ids:
            found = self._call(
                "get trigger",
                lambda: self.client.get_build_trigger(
                    project_id=project, trigger_id=trigger, retry=self._read_retry,
                    timeout=self.timeout,
                ),
            )
            self._trigger_ids[key] = found.id or trigger
        return self._trigger_ids[key]

    def find_trigger_build(
        self, project: str, trigger_id: str, commit: str, not_before: datetime | None
    ) -> BuildInfo | None:
        """The oldest build of the trigger (name or id) at `commit` created at/after
        `not_before` (minus CLOCK_SKEW). `not_before` should always be given (the
        release's start): without it any earlier build of that commit would be adopted."""
        uid = self.trigger_uid(project, trigger_id)
        query = f'trigger_id="{uid}"'
        if not_before is not None:
            since = (not_before - CLOCK_SKEW).astimezone(UTC)
            query += f' AND create_time>="{since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}"'
        builds = self._list_by_commit(project, query, commit)
        return oldest(b for b in builds if b.trigger_id in ("", uid))

    def _list_by_commit(self, project: str, query: str, commit: str) -> list[BuildInfo]:
        """`query` narrowed to builds of `commit`: server-side by the COMMIT_SHA
        substitution; if the server refuses that filter (400), client-side over `query`."""
        try:
            builds = self.list_builds(project, f'{query} AND substitutions.COMMIT_SHA="{commit}"')
        except AdapterError as exc:
            if exc.retryable or exc.status != 400:
                raise
            builds = self.list_builds(project, query, limit=200)
        return [b for b in builds if b.commit == commit]

    def get_build(self, project: str, build_id: str) -> BuildInfo:
        return self._call(
            "get build",
            lambda: to_info(
                self.client.get_build(
                    project_id=project, id=build_id, retry=self._read_retry, timeout=self.timeout
                )
            ),
        )

    def find_successful_digest(
        self, project: str, commit: str, image_repository: str
    ) -> str | None:
        """The image digest of the newest SUCCESS build of `commit` that pushed to
        `image_repository` (so a redeploy of a built commit skips the build), else None."""
        for info in self._list_by_commit(project, 'status="SUCCESS"', commit):
            digest = info.digest_for(image_repository)
            if digest:
                return digest
        return None

    # -- cancel ----------------------------------------------------------------------------
    def cancel(self, project: str, build_id: str) -> BuildInfo:
        """Cancel a build; a build that already finished is returned as it is."""
        try:
            return to_info(
                self.client.cancel_build(
                    project_id=project, id=build_id, retry=None, timeout=self.write_timeout
                )
            )
        except Exception as exc:
            error = map_error(exc, "cancel build", self.who)
            if error.retryable or error.status in (400, 409, 412):
                # FAILED_PRECONDITION for a finished build, or an unknown outcome: read it.
                info = self.get_build(project, build_id)
                if info.done:
                    return info
            raise error from exc

    # -- logs ------------------------------------------------------------------------------
    def read_log(self, info: BuildInfo, offset: int = 0) -> tuple[str, int]:
        """New log text since byte `offset` -> (text, new_offset), as gcloud tails it.

        Reads `gs://{log_bucket}/{log_object}` with `Range: bytes={offset}-`: 206/200 gives
        bytes; 416 (nothing new) and 404 (not written yet) give ("", offset). A UTF-8
        character cut at the end is left for the next read.
        """
        if not info.log_bucket or not info.log_object:
            return "", offset
        blob = self.storage.bucket(info.log_bucket).blob(info.log_object)
        try:
            data = blob.download_as_bytes(
                start=offset, checksum=None, timeout=self.timeout, retry=None
            )
        except (gexc.RequestRangeNotSatisfiable, gexc.NotFound):
            return "", offset
        except Exception as exc:
            raise map_error(exc, "read build log", self.who) from exc
        text, used = decode_prefix(data)
        return text, offset + used


def wait_for(fn: Callable[[], BuildInfo], *, timeout: float, interval: float = 0.5) -> BuildInfo:
    """Poll `fn` until the build is done or `timeout` passes (a test/CLI helper)."""
    deadline = time.monotonic() + timeout
    info = fn()
    while not info.done and time.monotonic() < deadline:
        time.sleep(interval)
        info = fn()
    return info
