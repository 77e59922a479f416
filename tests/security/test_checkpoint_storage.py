"""Checkpoints in Cloud Storage: written and read with google-cloud-storage, here against a
minimal stand-in of the GCS JSON API (media upload and download only; the sandbox's GCS is
read-only build logs), pointed at with STORAGE_EMULATOR_HOST as Google's emulators are."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core.management import call_command

from dashboard import audit
from dashboard.adapters import objectstore
from dashboard.audit import checkpoints

pytestmark = pytest.mark.django_db


@pytest.fixture
def gcs(monkeypatch):
    objects: dict[tuple[str, str], bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes = b"{}", ctype: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            url = urlsplit(self.path)
            data = self.rfile.read(int(self.headers["Content-Length"]))
            bucket = url.path.split("/b/")[1].split("/")[0]
            query = parse_qs(url.query)
            assert query["uploadType"] == ["multipart"]
            # multipart/related: JSON metadata part, then the media part
            boundary = self.headers["Content-Type"].split("boundary=")[1].strip('"').encode()
            parts = data.split(b"--" + boundary)
            meta = json.loads(parts[1].split(b"\r\n\r\n", 1)[1])
            media = parts[2].split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n")
            objects[(bucket, meta["name"])] = media
            self._send(200, json.dumps({"bucket": bucket, "name": meta["name"],
                                        "size": str(len(media)), "generation": "1"}).encode())

        def do_GET(self):
            url = urlsplit(self.path)
            bucket, _, name = url.path.split("/b/")[1].partition("/o/")
            body = objects.get((bucket, unquote(name)))
            if body is None:
                return self._send(404, b'{"error": {"code": 404, "message": "No such object"}}')
            return self._send(200, body, "application/octet-stream")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{server.server_address[1]}")
    yield objects
    server.shutdown()


def test_it_anchors_the_chain_in_a_cloud_storage_object(gcs, settings):
    settings.AUDIT_CHECKPOINT_URL = "gs://audit-anchors/dashboard"
    for i in range(3):
        audit.append(actor="a", via="api", action="lock", reason=str(i))
    call_command("audit_checkpoint")
    head = audit.AuditEntry.objects.order_by("-id").first().pk
    assert set(gcs) == {("audit-anchors", "dashboard/latest.json"),
                        ("audit-anchors", f"dashboard/checkpoint-{head:012d}.json")}
    store = objectstore.configured()
    assert isinstance(store, objectstore.CloudStorageStore)
    latest = checkpoints.read_latest(store)
    assert latest is not None and latest.count == 3
    call_command("verify_audit")
