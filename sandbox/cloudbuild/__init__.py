"""A Cloud Build v1 REST API for project `sandbox`, with GCS-style build logs.

`create_app` is served by `python -m sandbox` on --cloudbuild-port (default 8090). The official
google-cloud-build client (transport="rest") and gcloud (api_endpoint_overrides/cloudbuild)
talk to it as to Google; google-cloud-storage reads the build logs from the same port.

What a client can rely on (as on Google):
- create_build / run_build_trigger return an Operation at once; the build id is
  `op.metadata.build.id`. Global operations are named `operations/build/sandbox/{b64 id}`,
  regional ones `projects/sandbox/locations/{l}/operations/{id}`; a failed build's
  operation ends with error code 2 (op.result() raises Unknown): poll get_build instead.
- Statuses QUEUED -> WORKING -> SUCCESS | FAILURE | TIMEOUT | CANCELLED (INTERNAL_ERROR
  only on a sandbox bug). Cancelling a finished build is 400 FAILED_PRECONDITION.
- Trigger `license-api` (name or id) builds deploy/cloudbuild.yaml at the RepoSource commit;
  its builds carry tags from the yaml plus `trigger-{id}`, buildTriggerId, and the
  substitutions COMMIT_SHA/SHORT_SHA/... . Inline builds keep the tags they are given, so
  `list_builds(filter='tags="release-42"')` finds a build whose create answer was lost.
- Logs: object `log-{id}.txt` in the bucket named by logsBucket (`gs://sandbox_cloudbuild`),
  tailed with `Range: bytes=N-` (206 / 416 nothing new / 404 not started); logUrl is
  `{public_url}/v1/projects/sandbox/builds/{id}/log` (plain text).
- Build and step timeouts are simulated durations: divided by --speed like the steps.
- Chaos (sandbox.chaos, api "cloudbuild"): see middleware.py for what 503, 504 and latency
  mean for a create.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from sandbox.chaos import Chaos
from sandbox.registry import Registry

from .api import Api, BuildStore, add_routes
from .builds import Executor
from .logs import LogStore
from .logs import add_routes as add_log_routes
from .middleware import errors_and_chaos, set_state

__all__ = ["create_app"]


def create_app(
    *, registry: Registry, chaos: Chaos, speed: float, repo_root: Path, public_url: str
) -> web.Application:
    public_url = public_url.rstrip("/")
    app = web.Application(middlewares=[errors_and_chaos(chaos)])
    store = BuildStore()
    logs = LogStore()
    executor = Executor(registry, logs, speed, Path(repo_root))
    api = Api(store, executor, public_url)
    add_routes(app, api)
    add_log_routes(app, logs, public_url)

    def reset() -> None:
        """Cancel running builds and forget builds and logs (the caller clears the registry)."""
        for rec in store.records.values():
            if rec.task is not None and not rec.task.done():
                rec.task.cancel()
        store.clear()
        logs.clear()

    set_state(app, "reset", reset)
    set_state(app, "request_count", 0)
    set_state(app, "builds", store)  # for the sandbox's own metrics and debugging

    async def stop_builds(_: web.Application) -> None:
        reset()

    app.on_shutdown.append(stop_builds)
    return app
