"""A Cloud Build v1 REST API for project `sandbox`, with GCS-style build logs.

`create_app` is served by `python -m sandbox` on --cloudbuild-port (default 8090). The official
google-cloud-build client (transport="rest") and gcloud (api_endpoint_overrides/cloudbuild)
talk to it as to Google; google-cloud-storage reads the build logs from the same port.
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
