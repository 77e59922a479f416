"""CSV for the audit export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

from dashboard import csvsafe


class CSVRenderer(BaseRenderer):
    """Rows of dicts as CSV: always a header row (the view's `csv_fields`), so an empty export
    is still a CSV document (DRF sends an empty body without any Content-Type)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        rows = data if isinstance(data, list) else [data]
        view = (renderer_context or {}).get("view")
        fields = list(getattr(view, "csv_fields", None) or (rows[0].keys() if rows else []))
        out = io.StringIO()
        if fields:
            writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow(csvsafe.row({
                    k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v
                    for k, v in row.items()}))
        return out.getvalue().encode()
