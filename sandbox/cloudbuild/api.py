"""The Cloud Build v1 REST routes: builds, triggers and long-running operations.

Global builds (`/v1/projects/{p}/builds`, the client's default) and builds in location
`global` (`/v1/projects/{p}/locations/global/builds`, what gcloud uses) are one set; other
locations are separate, as on Google: a regional build is not found at the global path.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from google.cloud.devtools import cloudbuild_v1 as cb

from .builds import BuildRecord, Executor
from .filters import compile_filter
from .prepare import build_from_trigger, find_trigger, prepare, trigger
from .shapes import (
    PROJECT,
    PROJECT_NUMBER,
    ApiError,
    build_id_from_operation,
    build_json,
    operation_json,
    operation_name,
    page,
    parse_message,
    to_json,
    wants_int_enums,
)


class BuildStore:
    def __init__(self) -> None:
        self.records: dict[str, BuildRecord] = {}

    def add(self, rec: BuildRecord) -> None:
        self.records[rec.build.id] = rec

    def get(self, location: str, build_id: str) -> BuildRecord:
        rec = self.records.get(build_id)
        if rec is None or rec.location != location:
            raise ApiError(404, f'Build "{build_id}" not found')
        return rec

    def in_location(self, location: str) -> list[BuildRecord]:
        recs = [r for r in self.records.values() if r.location == location]
        return sorted(recs, key=lambda r: r.build.create_time, reverse=True)

    def clear(self) -> None:
        self.records.clear()


def _project(request: web.Request) -> str:
    project = request.match_info["project"]
    if project not in (PROJECT, PROJECT_NUMBER):
        raise ApiError(
            403,
            f"The caller does not have permission (the sandbox serves project "
            f"{PROJECT!r} only, not {project!r})",
        )
    return PROJECT


def _location(request: web.Request) -> str:
    return request.match_info.get("location", "global")


def _json(request: web.Request, body: dict[str, Any]) -> web.Response:
    return web.json_response(body)


class Api:
    def __init__(self, store: BuildStore, executor: Executor, public_url: str) -> None:
        self.store = store
        self.executor = executor
        self.public_url = public_url

    def _start(self, rec: BuildRecord, request: web.Request) -> web.Response:
        self.store.add(rec)
        self.executor.start(rec)
        name = operation_name(rec.build.project_id, rec.location, rec.build.id)
        return _json(request, operation_json(name, rec.build, wants_int_enums(request)))

    async def create_build(self, request: web.Request) -> web.Response:
        project = _project(request)
        build = parse_message(cb.Build, await request.read(), "build")
        rec = prepare(
            build, project=project, location=_location(request), public_url=self.public_url
        )
        return self._start(rec, request)

    async def get_build(self, request: web.Request) -> web.Response:
        _project(request)
        rec = self.store.get(_location(request), request.match_info["id"])
        return _json(request, build_json(rec.build, wants_int_enums(request)))

    async def list_builds(self, request: web.Request) -> web.Response:
        _project(request)
        q = request.query
        predicate = compile_filter(q.get("filter", ""))
        builds = [r.build for r in self.store.in_location(_location(request)) if predicate(r.build)]
        size = int(q.get("pageSize", "0") or 0)
        chunk, token = page(builds, size, q.get("pageToken", ""), default=50, maximum=1000)
        ints = wants_int_enums(request)
        body: dict[str, Any] = {"builds": [build_json(b, ints) for b in chunk]}
        if token:
            body["nextPageToken"] = token
        return _json(request, body)

    async def cancel_build(self, request: web.Request) -> web.Response:
        _project(request)
        rec = self.store.get(_location(request), request.match_info["id"])
        if rec.finished:
            status = cb.Build.Status(rec.build.status).name
            raise ApiError(
                400,
                f"build {rec.build.id} is not running (status {status}); "
                "only a QUEUED or WORKING build can be cancelled",
                "FAILED_PRECONDITION",
            )
        self.executor.cancel(rec)
        return _json(request, build_json(rec.build, wants_int_enums(request)))

    async def retry_build(self, request: web.Request) -> web.Response:
        project = _project(request)
        old = self.store.get(_location(request), request.match_info["id"]).build
        build = cb.Build(
            steps=old.steps,
            images=old.images,
            tags=old.tags,
            source=old.source,
            substitutions=old.substitutions,
            options=old.options,
            timeout=old.timeout,
            build_trigger_id=old.build_trigger_id,
            logs_bucket=old.logs_bucket,
        )
        for step in build.steps:  # the retried build runs the same steps afresh
            step.status = cb.Build.Status.STATUS_UNKNOWN  # type: ignore[assignment]
            step.timing = cb.TimeSpan()
            step.pull_timing = cb.TimeSpan()
            step.exit_code = 0
        rec = prepare(
            build,
            project=project,
            location=_location(request),
            public_url=self.public_url,
            retry=True,
        )
        return self._start(rec, request)

    async def get_log(self, request: web.Request) -> web.Response:
        """logUrl: the build's log as plain text, for people and browsers."""
        _project(request)
        rec = self.store.records.get(request.match_info["id"])
        if rec is None:
            raise ApiError(404, f'Build "{request.match_info["id"]}" not found')
        text = bytes(rec.log.data).decode() if rec.log else "(the build has not started yet)\n"
        return web.Response(text=text, content_type="text/plain")

    async def list_triggers(self, request: web.Request) -> web.Response:
        _project(request)
        return _json(request, {"triggers": [to_json(trigger(), wants_int_enums(request))]})

    async def get_trigger(self, request: web.Request) -> web.Response:
        _project(request)
        t = find_trigger(request.match_info["trigger"])
        return _json(request, to_json(t, wants_int_enums(request)))

    async def run_trigger(self, request: web.Request) -> web.Response:
        project = _project(request)
        t = find_trigger(request.match_info["trigger"])
        raw = await request.read()
        if "location" in request.match_info:  # regional: the body is RunBuildTriggerRequest
            source = parse_message(cb.RunBuildTriggerRequest, raw, "request").source
        else:  # global: the body is the RepoSource itself
            source = parse_message(cb.RepoSource, raw, "source")
        build, provided = build_from_trigger(t, source, self.executor.repo_root)
        rec = prepare(
            build,
            project=project,
            location=_location(request),
            public_url=self.public_url,
            provided=provided,
        )
        return self._start(rec, request)

    def _operation_build(self, request: web.Request) -> BuildRecord:
        """The build behind `operations/build/{p}/{b64}` or `projects/p/.../operations/x`."""
        if "tail" in request.match_info:
            location, build_id = "global", build_id_from_operation(request.match_info["tail"])
        else:
            _project(request)
            location, build_id = _location(request), request.match_info["op"]
            if build_id not in self.store.records:  # `projects/p/operations/{base64 id}` too
                build_id = build_id_from_operation(f"build/{PROJECT}/{build_id}") or build_id
        rec = self.store.records.get(build_id or "")
        if rec is None or rec.location != location:
            raise ApiError(404, "Operation not found")
        return rec

    async def get_operation(self, request: web.Request) -> web.Response:
        rec = self._operation_build(request)
        name = operation_name(rec.build.project_id, rec.location, rec.build.id)
        return _json(request, operation_json(name, rec.build, wants_int_enums(request)))

    async def cancel_operation(self, request: web.Request) -> web.Response:
        """google.longrunning CancelOperation: cancels the build; answers Empty."""
        rec = self._operation_build(request)
        if not rec.finished:
            self.executor.cancel(rec)
        return _json(request, {})


def add_routes(app: web.Application, api: Api) -> None:
    r = app.router
    bid = "{id:[^/:]+}"
    for base in ("/v1/projects/{project}", "/v1/projects/{project}/locations/{location}"):
        r.add_post(f"{base}/builds", api.create_build)
        r.add_get(f"{base}/builds", api.list_builds)
        r.add_get(f"{base}/builds/{bid}", api.get_build)
        r.add_post(f"{base}/builds/{bid}:cancel", api.cancel_build)
        r.add_post(f"{base}/builds/{bid}:retry", api.retry_build)
        r.add_get(f"{base}/builds/{bid}/log", api.get_log)
        r.add_get(f"{base}/triggers", api.list_triggers)
        r.add_get(f"{base}/triggers/{{trigger:[^/:]+}}", api.get_trigger)
        r.add_post(f"{base}/triggers/{{trigger:[^/:]+}}:run", api.run_trigger)
        r.add_get(f"{base}/operations/{{op:[^/:]+}}", api.get_operation)
        r.add_post(f"{base}/operations/{{op:[^/:]+}}:cancel", api.cancel_operation)
    r.add_get("/v1/operations/{tail:[^:]+}", api.get_operation)
    r.add_post("/v1/operations/{tail:[^:]+}:cancel", api.cancel_operation)
