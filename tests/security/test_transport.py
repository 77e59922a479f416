"""Transport and headers: forwarded headers are believed only from TRUSTED_PROXIES hops;
behind a TLS proxy cookies are Secure, HSTS is sent, plain HTTP redirects (probes excepted);
every page carries a Content-Security-Policy that allows no inline script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.test import RequestFactory

from config.middleware import TrustedProxyMiddleware
from tests.plugins.worker import Proc, free_port, worker_env

ROOT = Path(__file__).resolve().parents[2]


def _through(meta: dict[str, str]) -> dict:
    request = RequestFactory().get("/", **meta)
    TrustedProxyMiddleware(lambda r: r)(request)
    return request.META


def test_it_drops_forwarded_headers_from_a_direct_client(settings):
    settings.TRUSTED_PROXIES = 0
    meta = _through({"REMOTE_ADDR": "198.51.100.1", "HTTP_X_FORWARDED_FOR": "10.0.0.1",
                     "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_REAL_IP": "10.0.0.2"})
    assert meta["REMOTE_ADDR"] == "198.51.100.1"
    assert not {"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_REAL_IP"} & set(meta)


def test_it_takes_the_client_the_trusted_hops_saw(settings):
    settings.TRUSTED_PROXIES = 2
    meta = _through({"REMOTE_ADDR": "10.0.0.9",
                     "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.1"})
    assert meta["REMOTE_ADDR"] == "203.0.113.7"
    # Fewer entries than proxies: it did not come through them; nothing forwarded is believed.
    meta = _through({"REMOTE_ADDR": "10.0.0.9", "HTTP_X_FORWARDED_FOR": "6.6.6.6",
                     "HTTP_X_FORWARDED_PROTO": "https"})
    assert meta["REMOTE_ADDR"] == "10.0.0.9" and "HTTP_X_FORWARDED_PROTO" not in meta


@pytest.mark.django_db
def test_it_sends_no_hsts_to_a_direct_client_claiming_https(client):
    response = client.get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response
    assert all(not c["secure"] for c in response.cookies.values())


def _settings(**env: str) -> str:
    full = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings as s; "
         "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
         "s.SECURE_HSTS_SECONDS, getattr(s, 'SECURE_PROXY_SSL_HEADER', None), "
         "s.SESSION_COOKIE_AGE)"],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_it_turns_on_https_only_behind_proxies_and_not_before():
    assert _settings(TRUSTED_PROXIES="0") == "False False False 0 None 28800"
    assert _settings(TRUSTED_PROXIES="2") == (
        "True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') 28800")
    assert _settings(TRUSTED_PROXIES="2", HTTPS_ONLY="0").startswith("False False False 0")


@pytest.fixture(scope="module")
def behind_tls_proxy(tmp_path_factory):
    """A real server as production runs it (uvicorn, ASGI), told one proxy is in front."""
    port = free_port()
    env = {**worker_env(), "TRUSTED_PROXIES": "1"}
    proc = Proc([sys.executable, "-m", "uvicorn", "config.asgi:application", "--host",
                 "127.0.0.1", "--port", str(port), "--lifespan", "off", "--no-proxy-headers"],
                tmp_path_factory.mktemp("web") / "web.log", env)
    try:
        proc.wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def test_it_sends_secure_cookies_and_hsts_behind_a_trusted_tls_proxy(behind_tls_proxy):
    r = requests.get(f"{behind_tls_proxy}/admin/login/", allow_redirects=False, timeout=10,
                     headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 200
    assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "secure" in r.headers["Set-Cookie"].lower()
    assert "httponly" not in r.headers["Set-Cookie"].lower()  # the CSRF cookie: JS-readable
    plain = requests.get(f"{behind_tls_proxy}/admin/login/", allow_redirects=False, timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    # Probes reach the pod directly, over plain HTTP.
    deadline = time.monotonic() + 10
    while (health := requests.get(f"{behind_tls_proxy}/healthz", timeout=10)).status_code != 200:
        assert time.monotonic() < deadline
    assert health.status_code == 200


CSP_PAGES = ["/admin/login/", "/admin/", "/admin/deployments/audit/", "/admin/deployments/locks/",
             "/admin/dashboard/service/", "/api/v1/docs/", "/admin/deployments/two-factor/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", CSP_PAGES)
def test_it_sends_a_csp_without_inline_script_and_pages_have_none(admin_client, client, path):
    response = (client if path == "/admin/login/" else admin_client).get(path)
    assert response.status_code == 200, path
    policy = dict(d.strip().split(" ", 1) for d in response["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    html = response.content.decode()
    inline = [m for m in re.findall(r"<script\b[^>]*>", html) if "src=" not in m]
    handlers = re.findall(r"<[^>]+\son[a-z]+\s*=", html)
    assert inline == [] and handlers == [] and "javascript:" not in html
