"""Turning a create request or a trigger run into a queued build, as Cloud Build validates it.

Substitutions follow Cloud Build's rules: built-ins ($PROJECT_ID, $BUILD_ID, $LOCATION,
$COMMIT_SHA, $SHORT_SHA, ...), user keys must look like `_NAME`, a template key nobody
supplies or a supplied `_KEY` nobody uses is INVALID_ARGUMENT unless
options.substitutionOption is ALLOW_LOOSE (then unknown keys become ""). `$$` is a literal $.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from google.cloud.devtools import cloudbuild_v1 as cb

from .builds import DEFAULT_TIMEOUT, BuildRecord
from .shapes import DEFAULT_LOGS_BUCKET, PROJECT_NUMBER, ApiError, now

TRIGGER_NAME = "license-api"
TRIGGER_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox/cloudbuild/trigger/license-api"))
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_USER_KEY = re.compile(r"^_[A-Z0-9_]+$")
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
# Built-ins a caller may also pass by hand (gcloud builds submit --substitutions=COMMIT_SHA=...).
BUILTINS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "COMMIT_SHA",
    "SHORT_SHA",
    "REVISION_ID",
    "BRANCH_NAME",
    "TAG_NAME",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "REF_NAME",
    "TRIGGER_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
}


def trigger() -> cb.BuildTrigger:
    """The one trigger the sandbox has: builds deploy/cloudbuild.yaml of the pushed commit."""
    return cb.BuildTrigger(
        id=TRIGGER_ID,
        name=TRIGGER_NAME,
        resource_name=f"projects/sandbox/locations/global/triggers/{TRIGGER_ID}",
        description="Build the license API image from deploy/cloudbuild.yaml",
        filename="deploy/cloudbuild.yaml",
        trigger_template=cb.RepoSource(
            project_id="sandbox", repo_name="license-api", branch_name="^main$"
        ),
        create_time=datetime(2026, 1, 1, tzinfo=UTC),
        tags=["license-api"],
    )


def find_trigger(name_or_id: str) -> cb.BuildTrigger:
    t = trigger()
    if name_or_id not in (t.id, t.name):
        raise ApiError(404, f"trigger {name_or_id!r} not found (the sandbox has {TRIGGER_NAME!r})")
    return t


def build_from_trigger(
    t: cb.BuildTrigger, source: cb.RepoSource, repo_root: Path
) -> tuple[cb.Build, dict[str, str]]:
    """The trigger's config file as a Build, plus the substitutions a trigger run provides."""
    path = repo_root / t.filename
    try:
        config = yaml.safe_load(path.read_text())
        build = cb.Build.from_json(json.dumps(config))
    except (OSError, yaml.YAMLError, ValueError) as exc:
        raise ApiError(
            400, f"failed to read build config {t.filename}: {exc}", "FAILED_PRECONDITION"
        ) from exc
    branch = source.branch_name or source.tag_name or "main"
    # A branch without a commit resolves to a stable fake head commit of that branch.
    commit = source.commit_sha or hashlib.sha1(branch.encode()).hexdigest()  # noqa: S324
    repo = source.repo_name or t.trigger_template.repo_name
    build.source = cb.Source(
        repo_source=cb.RepoSource(
            project_id=source.project_id or "sandbox",
            repo_name=repo,
            commit_sha=commit,
            substitutions=dict(source.substitutions),
        )
    )
    build.build_trigger_id = t.id
    build.tags = [*build.tags, f"trigger-{t.id}", f"event-{uuid.uuid4()}"]
    provided = {
        "COMMIT_SHA": commit,
        "SHORT_SHA": commit[:7],
        "REVISION_ID": commit,
        "BRANCH_NAME": "" if source.commit_sha else branch,
        "REPO_NAME": repo,
        "REPO_FULL_NAME": repo,
        "REF_NAME": branch,
        "TRIGGER_NAME": t.name,
        "TRIGGER_BUILD_CONFIG_PATH": t.filename,
    }
    provided.update(t.substitutions)
    provided.update(source.substitutions)
    return build, provided


def _substitute(text: str, values: dict[str, str], loose: bool, used: set[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        key = m.group(1) or m.group(2)
        used.add(key)
        if key in values:
            return values[key]
        if loose:
            return ""
        raise ApiError(
            400,
            f"generic::invalid_argument: key in the template {key!r} is not "
            "matched in the substitution data; substitutions = "
            f"{ {k: v for k, v in values.items() if k.startswith('_')} }",
        )

    return _VAR.sub(repl, text)


def prepare(
    build: cb.Build,
    *,
    project: str,
    location: str,
    public_url: str,
    provided: dict[str, str] | None = None,
    retry: bool = False,
) -> BuildRecord:
    """Validate a requested build, fill in what Cloud Build fills in, queue-ready."""
    if not build.steps:
        raise ApiError(400, "invalid build: build must have at least one step")
    seen: set[str] = set()
    for i, step in enumerate(build.steps):
        if not step.name:
            raise ApiError(400, f"invalid build: build step {i} must specify name")
        for wait in step.wait_for:
            if wait != "-" and wait not in seen:  # only earlier steps can be waited for
                raise ApiError(400, f'invalid build: build step #{i} - "{step.id}": '
                               f'waitFor "{wait}" does not name an earlier step')
        if step.id in seen:
            raise ApiError(400, f'invalid build: duplicate build step id "{step.id}"')
        if step.id:
            seen.add(step.id)
    supplied = dict(build.substitutions)
    supplied.update(provided or {})
    for key in supplied:
        if not (_USER_KEY.match(key) or key in BUILTINS):
            raise ApiError(
                400,
                f"invalid value for 'build.substitutions': substitution key "
                f'"{key}" does not respect format "^_[A-Z0-9_]+$"',
            )
    build_id = str(uuid.uuid4())
    repo = build.source.repo_source
    git = build.source.git_source
    revision = git.revision if re.fullmatch(r"[0-9a-f]{7,40}", git.revision or "") else ""
    commit = supplied.get("COMMIT_SHA") or repo.commit_sha or revision
    values = {
        "PROJECT_ID": project,
        "PROJECT_NUMBER": PROJECT_NUMBER,
        "BUILD_ID": build_id,
        "LOCATION": location,
    }
    if commit:
        values.update(COMMIT_SHA=commit, SHORT_SHA=commit[:7], REVISION_ID=commit)
    if repo.repo_name:
        values.setdefault("REPO_NAME", repo.repo_name)
    if repo.branch_name:
        values.setdefault("BRANCH_NAME", repo.branch_name)
    values.update(supplied)
    loose = build.options.substitution_option == cb.BuildOptions.SubstitutionOption.ALLOW_LOOSE
    used: set[str] = set()
    sub = lambda text: _substitute(text, values, loose, used)  # noqa: E731
    for step in build.steps:
        step.name = sub(step.name)
        step.args = [sub(a) for a in step.args]
        step.env = [sub(e) for e in step.env]
        step.dir_ = sub(step.dir_)
        step.entrypoint = sub(step.entrypoint)
        step.script = sub(step.script)
    build.images = [sub(i) for i in build.images]
    build.tags = [sub(t) for t in build.tags]
    unused = [k for k in supplied if k.startswith("_") and k not in used]
    if unused and not loose and not retry:  # a retry's steps were substituted already
        raise ApiError(
            400,
            f"generic::invalid_argument: key {unused[0]!r} in the substitution "
            "data is not matched in the template",
        )
    for tag in build.tags:
        if not _TAG.match(tag):
            raise ApiError(
                400, f'invalid build tag {tag!r}: must match format "^[\\w][\\w.-]{{0,127}}$"'
            )
    build.substitutions = supplied
    build.id = build_id
    build.project_id = project
    build.name = f"projects/{project}/locations/{location}/builds/{build_id}"
    build.status = cb.Build.Status.QUEUED  # type: ignore[assignment]
    build.create_time = now()
    if not build.timeout:
        build.timeout = DEFAULT_TIMEOUT
    if not build.queue_ttl:
        build.queue_ttl = timedelta(hours=1)
    if not build.logs_bucket:
        build.logs_bucket = DEFAULT_LOGS_BUCKET
    build.log_url = f"{public_url}/v1/projects/{project}/builds/{build_id}/log"
    if repo.commit_sha:
        build.source_provenance = cb.SourceProvenance(
            resolved_repo_source=cb.RepoSource(
                project_id=repo.project_id or project,
                repo_name=repo.repo_name,
                commit_sha=repo.commit_sha,
            )
        )
    return BuildRecord(build=build, location=location, commit=commit or "")
