"""Settings for the chatops tests' Celery worker: config.settings plus a queue of its own, so
workers of other test sessions sharing the development Redis never take these tasks (and this
worker never takes theirs)."""

import os

from config.settings import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["CHATOPS_TEST_QUEUE"]
