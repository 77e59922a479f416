"""Log records as readable text (`make run`) or one JSON object per line (LOG_FORMAT=json, the
container image's default), in every process: web, Celery worker and beat, watcher.

Each record carries the context it happened in: `release_id`, `service`, `environment`,
`phase` while the release driver runs a step, `request_id` while the web serves a request
(from a sane X-Request-ID header, else a new one, echoed in the response), and `process`
(web, worker, beat, watcher...). Context is a contextvar, so it follows a request into the
thread its sync view runs in and never leaks between concurrent requests.

Never a secret: the formatter masks the configured secrets' values (Django's secret key,
METRICS_TOKEN, Slack, Stripe, mail and database passwords), bearer tokens, our API tokens and
passwords in URLs, in the message and in tracebacks alike.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_context", default=None)
CONTEXT_FIELDS = ("request_id", "release_id", "service", "environment", "phase")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[redacted]"),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@"), r"\1[redacted]@"),
    (re.compile(r"\bddt_[A-Za-z0-9_-]{8,}"), "ddt_[redacted]"),
    (re.compile(r"\b(sk|rk|whsec)_(live|test)?_?[A-Za-z0-9]{8,}"), r"\1_[redacted]"),
    (re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{8,}"), "xox-[redacted]"),
]


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every record logged inside the block (in this thread or task)."""
    token = _context.set({**(_context.get() or {}), **{k: v for k, v in fields.items()
                                                       if v is not None and v != ""}})
    try:
        yield
    finally:
        _context.reset(token)


def request_id(given: str | None) -> str:
    return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex


def _process_role() -> str:
    argv = " ".join(sys.argv)
    for needle, role in (("worker", "worker"), (" beat", "beat"), ("watch_clusters", "watcher"),
                         ("uvicorn", "web"), ("daphne", "web"), ("sandbox", "sandbox"),
                         ("pytest", "tests")):
        if needle in argv:
            return role
    return os.path.basename(sys.argv[0] or "python")


class ContextFilter(logging.Filter):
    """Copies the current context (and the process role) onto each record."""

    role = _process_role()

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if not hasattr(record, "process_role"):
            record.process_role = self.role
        return True


@functools.cache
def _configured_secrets() -> tuple[str, ...]:
    values = [
        settings.SECRET_KEY, getattr(settings, "METRICS_TOKEN", ""),
        getattr(settings, "SLACK_SIGNING_SECRET", ""), getattr(settings, "SLACK_BOT_TOKEN", ""),
        getattr(settings, "STRIPE_SECRET_KEY", ""), getattr(settings, "STRIPE_WEBHOOK_SECRET", ""),
        getattr(settings, "EMAIL_HOST_PASSWORD", ""),
        settings.DATABASES["default"].get("PASSWORD") or "",
    ]
    return tuple(sorted({str(v) for v in values if v and len(str(v)) >= 6}, key=len,
                        reverse=True))


class QuietRoutine(logging.Filter):
    """Drops Celery's INFO lines about the reconciler, which beat runs every couple of seconds
    (sent, received, succeeded); the reconciler logs a warning itself when it acts."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith("celery"):
            return True
        try:
            text = record.getMessage()
        except Exception:
            return True
        return "dashboard.reconcile" not in text


def _secrets() -> tuple[str, ...]:
    try:
        return _configured_secrets()
    except Exception:  # settings not loaded yet (a record logged while they load)
        return ()


def redact(text: str) -> str:
    for value in _secrets():
        if value in text:
            text = text.replace(value, "[redacted]")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class TextFormatter(logging.Formatter):
    """`time level logger message [key=value ...]`, secrets masked."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS
                         if getattr(record, k, None) not in (None, ""))
        if extra:
            first, nl, rest = text.partition("\n")
            text = f"{first} [{extra}]{nl}{rest}"
        return redact(text)


class JsonFormatter(_JsonFormatter):
    """One JSON object per record: time, level, logger, message, process, the context fields
    and exc_info (a traceback as one string); secrets masked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level",
                                            "name": "logger", "process_role": "process"})
        kwargs.setdefault("timestamp", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def config(log_format: str) -> dict[str, Any]:
    """The LOGGING setting for `log_format` ("text" or "json")."""
    formatter = "json" if log_format == "json" else "text"
    quiet = {"level": "WARNING"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "config.logs.ContextFilter"},
                    "routine": {"()": "config.logs.QuietRoutine"}},
        "formatters": {
            "text": {"()": "config.logs.TextFormatter",
                     "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "config.logs.JsonFormatter"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": formatter,
                                 "filters": ["context", "routine"],
                                 "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "django.db.backends": quiet,
            # The ASGI server configures its own loggers before Django starts: route them
            # through ours, so its lines are JSON too when asked.
            **{name: {"handlers": ["console"], "level": "INFO", "propagate": False}
               for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
        },
    }
