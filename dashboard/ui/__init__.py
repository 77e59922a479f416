"""Helpers for the admin-hosted dashboard pages: formatting, metrics and server-side SVG charts.

Nothing here changes state; the views call dashboard.services for that."""
