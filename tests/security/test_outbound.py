"""Outgoing calls to configured URLs reach only allowed hosts (Slack's for Slack, an allowlist
for webhooks), never private or loopback addresses unless allowed, never via a redirect; CSV
exports neutralise formula cells."""

from __future__ import annotations

import csv
import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from dashboard import csvsafe
from dashboard.adapters import outbound
from dashboard.api import notifications, slack
from dashboard.api.admin import NotificationTargetForm


@pytest.fixture
def server():
    """A local HTTP server that counts POSTs and answers /redirect with a 307 to /landed."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/redirect":
                self.send_response(307)
                self.send_header("Location", "/landed")
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


@pytest.mark.parametrize(("url", "kind", "why"), [
    ("https://127.0.0.1/x", "webhook", "private, loopback"),
    ("https://169.254.169.254/computeMetadata/v1/", "webhook", "private, loopback"),
    ("https://[::1]/x", "webhook", "private, loopback"),
    ("https://10.1.2.3/x", "webhook", "private, loopback"),
    ("http://example.com/x", "webhook", "https"),
    ("https://user:pw@example.com/x", "webhook", "credentials"),
    ("https://evil.example.com/services/x", "slack", "not an allowed host for Slack"),
    ("https://localhost/x", "webhook", "resolves to a private"),
])
def test_it_refuses_what_it_must_not_call(settings, url, kind, why):
    settings.OUTBOUND_PRIVATE_HOSTS = []
    with pytest.raises(outbound.OutboundRefused, match=why):
        outbound.check(url, kind)


def test_it_allows_slack_and_listed_webhook_hosts(settings):
    outbound.check_syntax("https://hooks.slack.com/commands/T1/2/x", "slack")
    settings.OUTBOUND_WEBHOOK_HOSTS = [".example.com"]
    outbound.check_syntax("https://ci.example.com/hook", "webhook")
    with pytest.raises(outbound.OutboundRefused, match="not an allowed host"):
        outbound.check_syntax("https://example.org/hook", "webhook")


def test_it_posts_to_an_allowed_private_host_but_follows_no_redirect(settings, server):
    base, hits = server
    settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
    response = outbound.post(f"{base}/redirect", "webhook", data=b"{}", timeout=5)
    assert response.status_code == 307 and hits == ["/redirect"]


def test_slack_replies_never_reach_a_host_that_is_not_slacks(settings, server):
    base, hits = server
    settings.OUTBOUND_PRIVATE_HOSTS = []
    slack.post(f"{base}/commands/x", "hello")  # a forged response_url
    assert hits == []
    settings.OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]
    slack.post(f"{base}/commands/x", "hello")
    assert hits == ["/commands/x"]


@pytest.mark.django_db
def test_a_notification_to_a_private_address_is_not_sent_nor_retried(settings, server):
    from dashboard.api.models import NotificationTarget

    base, hits = server
    settings.OUTBOUND_PRIVATE_HOSTS = []
    target = NotificationTarget.objects.create(name="inside", url=f"{base}/hook")
    assert notifications.deliver.apply(args=(target.pk, '{"event": "lock"}')).get() is None
    assert hits == []


@pytest.mark.django_db
def test_the_admin_form_names_the_url_field(settings):
    settings.OUTBOUND_PRIVATE_HOSTS = []
    form = NotificationTargetForm(data={"name": "x", "kind": "webhook", "active": True,
                                        "url": "https://169.254.169.254/", "services": "[]",
                                        "events": "[]"})
    assert not form.is_valid() and "private" in form.errors["url"][0]


def test_it_neutralises_formula_cells_in_csv():
    rows = [{"a": "=HYPERLINK(\"http://x\")", "b": "+1", "c": "-2", "d": "@SUM(A1)",
             "e": "\tx", "f": "\rx", "g": "plain", "h": "", "i": -3}]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writerows(csvsafe.row(r) for r in rows)
    got = next(csv.reader(io.StringIO(out.getvalue())))
    assert got[:6] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx"]
    assert got[6:] == ["plain", "", "-3"]


def test_it_connects_to_the_address_it_checked_not_a_later_dns_answer(settings, server,
                                                                      monkeypatch):
    import socket

    base, hits = server
    port = int(base.rsplit(":", 1)[1])
    settings.OUTBOUND_PRIVATE_HOSTS = ["hook.test"]
    answers = iter(["127.0.0.1"] + ["10.255.255.1"] * 10)  # rebinding after the check
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "hook.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    response = outbound.post(f"http://hook.test:{port}/pinned", "webhook", data=b"{}",
                             timeout=(2, 2))
    assert response.status_code == 200 and hits == ["/pinned"]


def test_it_keeps_verifying_the_tls_name_while_pinned(settings, monkeypatch, tmp_path):
    import datetime
    import socket
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hook.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("hook.test")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            hits.append(self.headers["Host"])
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = httpd.server_address[1]
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host in ("hook.test", "other.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    settings.OUTBOUND_PRIVATE_HOSTS = ["hook.test", "other.test"]
    try:
        ok = outbound.post(f"https://hook.test:{port}/x", "webhook", data=b"{}", timeout=5,
                           verify=str(tmp_path / "cert.pem"))
        assert ok.status_code == 204 and hits == [f"hook.test:{port}"]
        import requests
        with pytest.raises(requests.exceptions.SSLError):  # the name is still checked
            outbound.post(f"https://other.test:{port}/x", "webhook", data=b"{}", timeout=5,
                          verify=str(tmp_path / "cert.pem"))
    finally:
        httpd.shutdown()
