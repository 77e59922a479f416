"""Middleware of the project's own."""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware

from config import logs


class RequestIdMiddleware:
    """Gives each request an id (a sane X-Request-ID header from the proxy, else a new one):
    every log record of the request carries it (config/logs.py), and the response echoes it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):  # type: ignore[no-untyped-def]
        if self.async_mode:
            return self.__acall__(request)
        rid = logs.request_id(request.headers.get("X-Request-ID"))
        with logs.context(request_id=rid):
            response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response

    async def __acall__(self, request):  # type: ignore[no-untyped-def]
        rid = logs.request_id(request.headers.get("X-Request-ID"))
        with logs.context(request_id=rid):
            response = await self.get_response(request)
        response["X-Request-ID"] = rid
        return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise that can run in both of Django's modes.

    WhiteNoise's own middleware is sync-only. Under ASGI, Django then adapts around it on every
    request: the outer stack runs in a worker thread, hops back to the event loop for the
    middleware below WhiteNoise, and hops into a thread again for the view. That is two extra
    thread switches per request (measured: about a third of a POST's CPU under uvicorn). This
    one matches a static path in memory on the event loop and only goes to a thread to open a
    file it serves.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(get_response, *args, **kwargs)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):  # type: ignore[no-untyped-def]
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request):  # type: ignore[no-untyped-def]
        if self.autorefresh:  # DEBUG: look on disk, as WhiteNoise does
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


_FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
              "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def forwarded_client(meta: dict[str, Any], hops: int) -> str | None:
    """The address the outermost trusted proxy saw, or None when the request did not pass
    through `hops` proxies. Each proxy appends the address it was reached from, so the client
    is `hops` entries from the right; anything left of it was written by the client."""
    if hops <= 0:
        return None
    chain = [h.strip() for h in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    chain = [h for h in chain if h]
    if len(chain) < hops:
        return None
    return chain[-hops][:64]


class TrustedProxyMiddleware:
    """Believe X-Forwarded-* only as far as settings.TRUSTED_PROXIES says proxies are in front.

    With 0 (the default) the headers are removed, so nothing below (Django's scheme check, rate
    limits, lockouts, logs) can be fooled by a client that writes them itself. With N, the
    client address becomes REMOTE_ADDR; a request that did not come through all N proxies keeps
    its socket address and loses the headers.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    @staticmethod
    def rewrite(meta: dict[str, Any]) -> None:
        client = forwarded_client(meta, settings.TRUSTED_PROXIES)
        if client is None:
            for name in _FORWARDED:
                meta.pop(name, None)
        else:
            meta["REMOTE_ADDR"] = client

    def __call__(self, request):  # type: ignore[no-untyped-def]
        self.rewrite(request.META)
        return self.get_response(request)  # async mode: a coroutine, awaited by the handler


def client_address(request: Any) -> str:
    """The client's address as TrustedProxyMiddleware decided it (django-axes asks this, so
    that no other X-Forwarded-For parsing ever applies)."""
    return str(request.META.get("REMOTE_ADDR", ""))
