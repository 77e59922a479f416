"""The `filter=` of builds.list: comparisons joined by AND / OR / NOT and parentheses.

Covers what gcloud and the dashboard send: `tags="x"`, `status="SUCCESS"`, `trigger_id="..."`,
`build_id="..."`, `images="..."`, `results.images.name="..."`, `substitutions.K="v"` and
`create_time>"2017-09-27T03:31:29.000Z"` (also start_time / finish_time). Repeated fields match
when any element does. An unknown field or a syntax error is INVALID_ARGUMENT, as Google says.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.cloud.devtools import cloudbuild_v1 as cb

from .shapes import ApiError

Predicate = Callable[[cb.Build], bool]

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op><=|>=|!=|=|<|>|:)|(?P<paren>[()])|(?P<word>[^\s()=!<>:"]+))'
)
_TIME_FIELDS = {"create_time", "start_time", "finish_time"}


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _values(build: cb.Build, field: str) -> list[Any]:
    """The values a filter field names on a build (a list: repeated fields have many)."""
    if field.startswith("substitutions."):
        key = field.split(".", 1)[1]
        return [build.substitutions[key]] if key in build.substitutions else []
    name = ".".join(_camel_to_snake(p) for p in field.split("."))
    if name in _TIME_FIELDS:
        value = getattr(build, name)
        return [value] if value else []
    getters: dict[str, Callable[[], list[Any]]] = {
        "status": lambda: [cb.Build.Status(build.status).name],
        "tags": lambda: list(build.tags),
        "trigger_id": lambda: [build.build_trigger_id],
        "build_trigger_id": lambda: [build.build_trigger_id],
        "build_id": lambda: [build.id],
        "id": lambda: [build.id],
        "project_id": lambda: [build.project_id],
        "images": lambda: list(build.images),
        "results.images.name": lambda: [i.name for i in build.results.images],
        "results.images.digest": lambda: [i.digest for i in build.results.images],
        "source.repo_source.commit_sha": lambda: [build.source.repo_source.commit_sha],
        "source.repo_source.repo_name": lambda: [build.source.repo_source.repo_name],
        "source.repo_source.branch_name": lambda: [build.source.repo_source.branch_name],
    }
    getter = getters.get(name)
    if getter is None:
        raise ApiError(400, f"invalid filter: unsupported field {field!r}")
    return getter()


def _parse_time(text: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, f"invalid filter: {text!r} is not an RFC 3339 timestamp") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op in ("=", ":"):
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _restriction(field: str, op: str, raw: str) -> Predicate:
    name = _camel_to_snake(field)
    _values(cb.Build(), field)  # rejects an unknown field even when no build exists yet
    right: Any = raw
    if name in _TIME_FIELDS:
        right = _parse_time(raw)
    elif name == "status" and raw.isdigit():
        right = cb.Build.Status(int(raw)).name
    elif name == "status":
        right = raw.upper()
        if right not in cb.Build.Status.__members__:
            raise ApiError(400, f"invalid filter: unknown status {raw!r}")

    def match(build: cb.Build) -> bool:
        values = _values(build, field)
        if op == "!=":
            return all(_compare(v, op, right) for v in values)
        return any(_compare(v, op, right) for v in values)

    return match


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise ApiError(400, f"invalid filter: cannot parse at {text[pos:]!r}")
            kind = m.lastgroup or ""
            value = m.group(kind)
            if kind == "str":
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            self.tokens.append((kind, value))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ApiError(400, "invalid filter: unexpected end")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek() is not None:
            raise ApiError(400, f"invalid filter: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return pred

    def or_(self) -> Predicate:
        preds = [self.and_()]
        while self.peek() == ("word", "OR"):
            self.take()
            preds.append(self.and_())
        return preds[0] if len(preds) == 1 else lambda b: any(p(b) for p in preds)

    def and_(self) -> Predicate:
        preds = [self.unary()]
        while (tok := self.peek()) is not None and tok != ("paren", ")") and tok != ("word", "OR"):
            if tok == ("word", "AND"):
                self.take()
            preds.append(self.unary())  # juxtaposition is AND too (AIP-160)
        return preds[0] if len(preds) == 1 else lambda b: all(p(b) for p in preds)

    def unary(self) -> Predicate:
        tok = self.peek()
        if tok == ("word", "NOT") or tok == ("word", "-"):
            self.take()
            inner = self.unary()
            return lambda b: not inner(b)
        if tok == ("paren", "("):
            self.take()
            inner = self.or_()
            if self.take() != ("paren", ")"):
                raise ApiError(400, "invalid filter: missing ')'")
            return inner
        kind, field = self.take()
        if kind != "word":
            raise ApiError(400, f"invalid filter: expected a field name, got {field!r}")
        op_kind, op = self.take()
        if op_kind != "op":
            raise ApiError(400, f"invalid filter: expected an operator after {field!r}")
        value_kind, value = self.take()
        if value_kind not in ("str", "word"):
            raise ApiError(400, f"invalid filter: expected a value after {field}{op}")
        return _restriction(field, op, value)


def compile_filter(text: str) -> Predicate:
    if not text.strip():
        return lambda b: True
    return _Parser(text).parse()
