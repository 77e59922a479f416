"""The Celery app. Configuration lives in settings.py (CELERY_* names)."""

import logging.config
import os
from typing import Any

from celery import Celery, signals
from django.conf import settings

from config import broker, logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

if os.environ.get("LOG_FORMAT", "").strip() == "json":
    # JSON from the first line: Celery warns (e.g. about running as root) before it sets up
    # logging; without this those lines would be the only ones a collector cannot parse.
    logging.config.dictConfig(logs.config("json"))
    logging.captureWarnings(True)

broker.install()  # kombu's Redis transport, fixed to survive a Redis restart (see there)
app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _use_django_logging(loglevel: Any = None, **_: Any) -> None:
    """Workers and beat log through settings.LOGGING (text or JSON, config/logs.py) instead
    of Celery's own handler, like every other process."""
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
    logging.captureWarnings(True)  # Celery's deprecation warnings become records too


@signals.celeryd_init.connect
def _no_banner_in_json(instance: Any = None, **_: Any) -> None:
    """The startup banner is printed, not logged: in JSON mode it would be the only lines a log
    collector cannot parse (the worker logs that it is connected and ready anyway)."""
    if settings.LOG_FORMAT == "json" and instance is not None:
        instance.quiet = True
