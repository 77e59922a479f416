"""Logs: one JSON object per line with LOG_FORMAT=json, carrying the context (release, service,
phase, request id), never a secret; readable text otherwise."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from config import logs

ROOT = Path(__file__).resolve().parents[2]


def _record(message: str, *args: object) -> logging.LogRecord:
    record = logging.LogRecord("dashboard.test", logging.WARNING, __file__, 1, message, args,
                               None)
    logs.ContextFilter().filter(record)
    return record


def test_it_writes_one_json_object_per_record_with_its_context():
    with logs.context(release_id=42, service="license-api", environment="staging",
                      phase="deploying", request_id="req-1"):
        record = _record("rolled out %d of %d", 2, 3)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "rolled out 2 of 3" and data["level"] == "WARNING"
    assert data["logger"] == "dashboard.test" and "time" in data and "process" in data
    assert {k: data[k] for k in logs.CONTEXT_FIELDS} == {
        "release_id": 42, "service": "license-api", "environment": "staging",
        "phase": "deploying", "request_id": "req-1"}
    assert "ValueError: boom" in data["exc_info"]


def test_it_keeps_context_out_of_records_logged_outside_it():
    with logs.context(release_id=1):
        pass
    assert not hasattr(_record("later"), "release_id")


def test_it_never_logs_a_secret():
    record = _record("key=%s auth=%s url=%s token=%s", settings.SECRET_KEY,
                     "Bearer abc.def-ghi", "redis://:s3cretpass@redis:6379/0",
                     "ddt_" + "Q" * 40)
    for formatter in (logs.JsonFormatter(), logs.TextFormatter("%(message)s")):
        out = formatter.format(record)
        assert settings.SECRET_KEY not in out and "abc.def-ghi" not in out
        assert "s3cretpass" not in out and "Q" * 40 not in out
        assert "[redacted]" in out


def test_it_gives_each_request_an_id_and_echoes_a_sane_one():
    client = Client()
    given = client.get("/healthz", HTTP_X_REQUEST_ID="edge-1234")
    assert given["X-Request-ID"] == "edge-1234"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\r\nX: y")
    assert made["X-Request-ID"] != "bad id\r\nX: y" and len(made["X-Request-ID"]) == 32


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_process_logs_in_the_format_asked(fmt):
    env = {**os.environ, "LOG_FORMAT": fmt, "DJANGO_SETTINGS_MODULE": "config.settings"}
    code = ("import django; django.setup(); import logging; "
            "logging.getLogger('dashboard.x').warning('hello %s', 'there')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines, out
    if fmt == "json":
        assert json.loads(lines[-1])["message"] == "hello there"
    else:
        assert lines[-1].endswith("WARNING dashboard.x hello there")


def test_it_keeps_the_frequent_reconciler_runs_out_of_the_logs():
    quiet = logs.QuietRoutine()
    routine = logging.LogRecord("celery.app.trace", logging.INFO, __file__, 1,
                                "Task %s[%s] succeeded", ("dashboard.reconcile", "x"), None)
    other = logging.LogRecord("celery.app.trace", logging.INFO, __file__, 1,
                              "Task %s[%s] succeeded", ("dashboard.advance_release", "x"), None)
    failed = logging.LogRecord("celery.app.trace", logging.ERROR, __file__, 1,
                               "Task %s[%s] raised", ("dashboard.reconcile", "x"), None)
    assert not quiet.filter(routine) and quiet.filter(other) and quiet.filter(failed)
