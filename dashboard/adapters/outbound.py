"""Outgoing HTTP to addresses that users configure (notification targets, Slack's
response_url): only to allowed hosts, never to private or loopback addresses unless allowed,
never following redirects.

Without this, whoever may add a notification target (or forge a Slack payload's
response_url) could make the workers call internal services: the metadata server, the
Kubernetes API, Redis over HTTP. Slack traffic may only reach Slack's hosts
(settings.SLACK_OUTBOUND_HOSTS); webhooks the hosts in settings.OUTBOUND_WEBHOOK_HOSTS
(`*` = any host with public addresses; `.example.com` = that domain and its subdomains).
settings.OUTBOUND_PRIVATE_HOSTS names hosts whose private addresses are fine (local setups).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter


class OutboundRefused(ValueError):
    """The URL may not be called; the message says why (it names no resolved address)."""


def _matches(host: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern == "*" or host == pattern or (
                pattern.startswith(".") and (host.endswith(pattern) or host == pattern[1:])):
            return True
    return False


def check_syntax(url: str, kind: str) -> str:
    """Scheme, host and allowlist, without DNS (form validation uses this); returns the host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise OutboundRefused("not a valid URL") from None
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise OutboundRefused("the URL has no host")
    if parts.username or parts.password:
        raise OutboundRefused("credentials in the URL are not allowed")
    private_ok = _matches(host, settings.OUTBOUND_PRIVATE_HOSTS)
    if parts.scheme != "https" and not (parts.scheme == "http" and private_ok):
        raise OutboundRefused("the URL must use https")
    allowed = settings.SLACK_OUTBOUND_HOSTS if kind == "slack" else settings.OUTBOUND_WEBHOOK_HOSTS
    if not (private_ok or _matches(host, allowed)):
        raise OutboundRefused(
            f"{host} is not an allowed host for {'Slack' if kind == 'slack' else 'webhooks'}")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not literal.is_global and not private_ok:
        raise OutboundRefused(f"{host} is a private, loopback or reserved address")
    return host


def check(url: str, kind: str) -> str:
    """check_syntax, then every address the host resolves to must be public (unless the host
    is in OUTBOUND_PRIVATE_HOSTS). Returns the address to connect to."""
    host = check_syntax(url, kind)
    private_ok = _matches(host, settings.OUTBOUND_PRIVATE_HOSTS)
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        raise OutboundRefused(f"{host} does not resolve") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not private_ok and any(not a.is_global for a in addresses):
        raise OutboundRefused(f"{host} resolves to a private, loopback or reserved address")
    return str(addresses[0])


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address `check` approved while TLS still verifies the host's name:
    resolving again at connect time would let a DNS answer change in between (rebinding)."""

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


def post(url: str, kind: str, *, timeout: Any, headers: dict[str, str] | None = None,
         **kwargs: Any) -> requests.Response:
    """POST after `check`, to the address it approved; redirects are returned, never followed
    (a 3xx could point anywhere, the checks above included)."""
    address = check(url, kind)
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    pinned = urlunsplit(parts._replace(netloc=f"{literal}:{parts.port}" if parts.port
                                       else literal))
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment between us and the address
        session.mount(f"{parts.scheme}://", _PinnedAdapter(host))
        return session.post(pinned, headers={**(headers or {}), "Host": parts.netloc},
                            allow_redirects=False, timeout=timeout, **kwargs)
