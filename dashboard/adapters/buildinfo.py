"""Cloud Build wire values -> BuildInfo, the release tag, and error mapping (pure helpers)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import requests
import yaml
from google.api_core import exceptions as gexc
from google.auth import exceptions as gauth_exceptions
from google.cloud.devtools import cloudbuild_v1 as cb
from google.protobuf import json_format

from .errors import AdapterError, retryable_status
from .types import BuildInfo, StepInfo

# Cloud Build accepts tags matching this (letters, digits, _ . -; 128 chars at most).
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")


def release_tag(release_id: object) -> str:
    """The tag that marks the one build of a release."""
    tag = f"release-{release_id}"
    if not TAG_RE.match(tag):
        raise ValueError(f"{tag!r} is not a valid Cloud Build tag")
    return tag


def map_error(exc: BaseException, what: str, who: str = "") -> AdapterError:
    """google.api_core / requests / timeout exceptions -> AdapterError(retryable=...)."""
    if isinstance(exc, AdapterError):
        return exc
    if isinstance(exc, gexc.RetryError):
        cause = exc.cause
        detail = f": {cause}" if cause else ""
        return AdapterError(
            f"Cloud Build {what} kept failing{detail}", retryable=True, api="cloudbuild"
        )
    if isinstance(exc, gauth_exceptions.GoogleAuthError):
        # The token could not be had (key disabled or deleted, token endpoint down).
        transient = isinstance(exc, gauth_exceptions.TransportError)
        return AdapterError(
            f"Cloud Build {what}: the Google credentials {who or ''} could not get a token: "
            f"{exc.args[0] if exc.args else exc}".replace("  ", " "),
            retryable=transient, api="cloudbuild")
    if isinstance(exc, gexc.GoogleAPICallError):
        status = int(exc.code or 0)
        if status in (401, 403):
            return AdapterError(
                f"Cloud Build {what} refused the Google credentials {who or ''} ({status}): "
                f"{exc.message}".replace("  ", " "),
                retryable=False, status=status, api="cloudbuild")
        return AdapterError(
            f"Cloud Build {what} failed ({status}): {exc.message}",
            retryable=retryable_status(status),
            status=status,
            api="cloudbuild",
        )
    if isinstance(exc, requests.exceptions.RequestException | TimeoutError | ConnectionError):
        return AdapterError(
            f"Cloud Build {what} did not answer: {exc.__class__.__name__}: {exc}",
            retryable=True,
            api="cloudbuild",
        )
    if isinstance(exc, json_format.ParseError | yaml.YAMLError | ValueError | OSError):
        return AdapterError(f"Cloud Build {what}: {exc}", retryable=False, api="cloudbuild")
    return AdapterError(f"Cloud Build {what}: {exc!r}", retryable=False, api="cloudbuild")


def decode_prefix(data: bytes) -> tuple[str, int]:
    """Decode as much UTF-8 as is complete (a multi-byte char may be split by a read)."""
    for cut in range(0, 4):
        end = len(data) - cut
        try:
            return data[:end].decode("utf-8"), end
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), len(data)


def oldest(builds: Iterable[BuildInfo]) -> BuildInfo | None:
    items = list(builds)
    if not items:
        return None
    epoch = datetime.min.replace(tzinfo=UTC)
    return min(items, key=lambda b: (b.create_time or epoch, b.id))


def as_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def status_name(value: Any) -> str:
    try:
        return cb.Build.Status(value).name
    except ValueError:
        return "STATUS_UNKNOWN"


def to_info(build: cb.Build) -> BuildInfo:
    """A cloudbuild_v1.Build -> BuildInfo."""
    bucket = build.logs_bucket or ""
    prefix = ""
    if bucket.startswith("gs://"):
        bucket = bucket[5:]
    if "/" in bucket:
        bucket, prefix = bucket.split("/", 1)
        prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    steps = tuple(
        StepInfo(
            id=step.id or f"step-{i}",
            name=step.name,
            status=status_name(step.status),
            started=as_datetime(step.timing.start_time) if step.timing else None,
            finished=as_datetime(step.timing.end_time) if step.timing else None,
            exit_code=step.exit_code if step.exit_code else None,
        )
        for i, step in enumerate(build.steps)
    )
    failure = ""
    if build.failure_info and build.failure_info.detail:
        failure = build.failure_info.detail
    elif build.status_detail:
        failure = build.status_detail
    commit = build.substitutions.get("COMMIT_SHA", "") if build.substitutions else ""
    if not commit and build.source and build.source.repo_source:
        commit = build.source.repo_source.commit_sha
    return BuildInfo(
        id=build.id,
        project=build.project_id,
        status=status_name(build.status),
        steps=steps,
        images=tuple((img.name, img.digest) for img in build.results.images),
        failure_detail=failure,
        log_bucket=bucket,
        log_object=f"{prefix}log-{build.id}.txt" if build.id else "",
        log_url=build.log_url,
        tags=tuple(build.tags),
        commit=commit,
        trigger_id=build.build_trigger_id,
        create_time=as_datetime(build.create_time),
        start_time=as_datetime(build.start_time),
        finish_time=as_datetime(build.finish_time),
    )
