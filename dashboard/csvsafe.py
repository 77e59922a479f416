"""CSV cells that spreadsheets read as data: a text cell starting with = + - @, a tab or a
carriage return would be taken as a formula (CSV injection), so it gets a leading quote.
Every CSV export writes its rows through `row()`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: cell(v) for k, v in values.items()}
