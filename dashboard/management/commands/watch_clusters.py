"""`manage.py watch_clusters`: the live-stream watcher (see dashboard/watch/watcher.py). Run one or
more; the Redis lease makes exactly one of them watch and publish at a time."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Watch every Service's Deployment, ReplicaSets, pods and events; publish live rows."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--lease-ttl", type=float, default=None,
                            help="seconds a dead leader keeps the lease (default 3)")

    def handle(self, *args: Any, **options: Any) -> None:
        from dashboard.watch.watcher import LEASE_TTL, Watcher

        logging.basicConfig(level=logging.INFO, format="%(asctime)s watcher %(message)s")
        watcher = Watcher(lease_ttl=options["lease_ttl"] or LEASE_TTL)

        def stop(signum: int, frame: Any) -> None:
            watcher.stopped.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"watcher {watcher.lease.token[:8]} started", ending="\n")
        self.stdout.flush()
        watcher.run()
