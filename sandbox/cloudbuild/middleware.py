"""Google-style errors for every failure, request counting, and chaos (sandbox.chaos).

Chaos semantics, chosen so the dashboard's retry and dedupe paths both get exercised:
- latency_ms is added AFTER the handler ran, on the way back. A create whose client times
  out has still happened server-side and is findable later by its tag.
- a 503 UNAVAILABLE is answered before the handler runs: nothing happened, a retry is safe.
- a 504 DEADLINE_EXCEEDED is answered after the handler ran: the create (or cancel) did
  happen, only the answer was lost, so a blind retry makes a duplicate build.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from sandbox.chaos import Chaos

from .shapes import ApiError, error_response

log = logging.getLogger("sandbox.cloudbuild")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def set_state(app: web.Application, key: str, value: object) -> None:
    """Set a plain string key, as the sandbox's contract names them (`request_count`,
    `reset`), without aiohttp's AppKey / frozen-app warnings on every request."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        app[key] = value


def count(app: web.Application) -> None:
    set_state(app, "request_count", app["request_count"] + 1)


def errors_and_chaos(chaos: Chaos) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        count(request.app)
        settings = chaos.cloudbuild  # read per request: chaos.reset() replaces it
        code = settings.pick_error(chaos.rng)
        delay = max(settings.latency_ms, 0) / 1000
        if code is not None and code != 504:
            await asyncio.sleep(delay)
            return error_response(code, "The service is currently unavailable.")
        try:
            response = await handler(request)
        except ApiError as exc:
            response = exc.response()
        except web.HTTPException as exc:  # unknown path or method
            response = error_response(exc.status, f"{exc.reason}: {request.method} {request.path}")
        except Exception:  # a sandbox bug: say so the way Google would, and log it
            log.exception("cloudbuild sandbox: %s %s failed", request.method, request.path)
            response = error_response(500, "Internal error encountered.")
        if delay:
            await asyncio.sleep(delay)
        if code == 504:
            return error_response(504, "The request timed out before a response was ready.")
        return response

    return middleware
