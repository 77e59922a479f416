"""Helpers of the live-stream watcher (dashboard/watcher.py): lease, informers, rows, publisher."""
