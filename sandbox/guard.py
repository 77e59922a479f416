"""What keeps a web page in the developer's browser from driving the sandbox.

The sandbox listens on 127.0.0.1, but a page elsewhere can still reach it: through DNS
rebinding (a name of the attacker's that resolves to 127.0.0.1; the browser then sends that
name as Host) or by a plain cross-site POST. So every request must name a loopback host (or
the --advertise-host the sandbox was told clients use), and every write to the control API
(/sandbox/v1/: chaos, reset, clock, images, auth) must carry the control token the sandbox
writes to `control-token` beside its kubeconfig (readable by the developer only), in the
`X-Sandbox-Token` header.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Middleware

CONTROL_HEADER = "X-Sandbox-Token"
CONTROL_PREFIX = "/sandbox/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def write_control_token(path: Path) -> str:
    """A fresh random token, written 0600 to `path` (a new one at every start)."""
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    tmp.replace(path)
    return token


def host_name(host_header: str) -> str:
    """The name part of a Host header: `[::1]:6443` -> `::1`, `a.b:80` -> `a.b`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _refuse(code: int, message: str) -> web.Response:
    return web.Response(status=code, content_type="application/json",
                        text=json.dumps({"kind": "Status", "apiVersion": "v1",
                                         "status": "Failure", "message": message,
                                         "reason": "Forbidden" if code == 403 else
                                         "Unauthorized", "code": code}))


def guard_middleware(allowed_hosts: Iterable[str], control_token: str | None) -> Middleware:
    """Refuse a foreign Host (403) on every path; refuse a control-API write without the
    control token (401 missing, 403 wrong). `control_token=None` leaves writes open (only
    for in-process tests that build the app themselves)."""
    extra = {host_name(h) for h in allowed_hosts if h}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = host_name(request.headers.get("Host", ""))
        if not (is_loopback(name) or name in extra):
            return _refuse(403, f"the sandbox serves loopback names only, not Host {name!r}")
        if (control_token is not None and request.path.startswith(CONTROL_PREFIX)
                and request.method not in ("GET", "HEAD", "OPTIONS")):
            given = request.headers.get(CONTROL_HEADER, "")
            if not given:
                return _refuse(401, f"control API writes need the {CONTROL_HEADER} header "
                                    "(the control-token file beside the kubeconfig)")
            if not hmac.compare_digest(given.encode(), control_token.encode()):
                return _refuse(403, f"wrong {CONTROL_HEADER}")
        return await handler(request)

    return middleware
