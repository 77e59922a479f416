"""What a run-to-completion container (a Job's pod, restartPolicy Never) prints and how it
exits, chosen by the command and by the commit of its image.

A `migrate` command applies two migrations named after the commit, except for commits that
start with `dbfa11`: those stop at a migration that cannot apply (NOT NULL on a column that
holds nulls) and exit 1, the way Django's `migrate` fails on PostgreSQL. Other commands print
what they run and exit 0. The app's own pods of a `dbfa11` image run fine: only the schema
change is broken.
"""

from __future__ import annotations

import re

RUN_SECONDS = 1.5  # simulated time between the first lines and the exit
FAILING_PREFIX = "dbfa11"


def run_seconds(command: list[str]) -> float:
    """Simulated seconds between start and exit: RUN_SECONDS, or a `sleep N` in the command
    (so tests can catch a Job while it runs)."""
    m = re.search(r"\bsleep\s+(\d+(?:\.\d+)?)", " ".join(command))
    return float(m.group(1)) if m else RUN_SECONDS


def _migration_names(commit: str) -> list[str]:
    try:
        n = int(commit[:4], 16) % 40 + 10
    except ValueError:
        n = 10
    return [f"licenses.{n:04d}_license_seats_{commit[:6] or 'x'}",
            f"licenses.{n + 1:04d}_activation_device_index"]


def output(command: list[str], commit: str) -> tuple[list[str], list[str], int]:
    """(lines printed at start, lines printed at exit, exit code)."""
    if not any("migrate" in part for part in command):
        return [f"+ {' '.join(command) or '(image entrypoint)'}"], ["done"], 0
    first = ["Operations to perform:",
             "  Apply all migrations: admin, auth, contenttypes, licenses, sessions",
             "Running migrations:"]
    names = _migration_names(commit)
    if commit.startswith(FAILING_PREFIX):
        return first, [
            f"  Applying {names[0]}... OK",
            "  Applying licenses.0099_license_customer_not_null...Traceback (most recent call "
            "last):",
            '  File "/app/.venv/lib/python3.12/site-packages/django/db/backends/utils.py", '
            "line 105, in _execute",
            "    return self.cursor.execute(sql, params)",
            "psycopg.errors.NotNullViolation: column \"customer_id\" of relation "
            "\"licenses_license\" contains null values",
            "",
            "The above exception was the direct cause of the following exception:",
            "",
            "django.db.utils.IntegrityError: column \"customer_id\" of relation "
            "\"licenses_license\" contains null values",
        ], 1
    return first, [f"  Applying {name}... OK" for name in names], 0
