"""Slash-command parsing."""

from __future__ import annotations

from dashboard.api.slack import parse


def test_it_parses_each_command_form():
    c = parse("/deploy", "license-api abc1234 hotfix for #12")
    assert (c.verb, c.args, c.rest, c.error) == ("deploy", ["license-api", "abc1234"],
                                                 "hotfix for #12", "")
    assert parse("/chatops", "deploy license-api main").args == ["license-api", "main"]
    assert parse("/deploy", "status license-api").verb == "status"
    assert parse("/deploy", "help").verb == "help"
    r = parse("/chatops", "rollback license-api #41 broke login")
    assert (r.args, r.rest) == (["license-api", "41"], "broke login")
    assert parse("/chatops", "rollback license-api").args == ["license-api"]
    lock = parse("/chatops", "lock license-api release freeze")
    assert (lock.args, lock.rest) == (["license-api"], "release freeze")
    assert parse("/chatops", "unlock license-api").args == ["license-api"]


def test_it_explains_usage_errors():
    assert "Usage" in parse("/chatops", "deploy license-api").error
    assert "reason" in parse("/chatops", "lock license-api").error
    assert parse("/chatops", "explode").verb == "help"
    assert parse("/chatops", "explode").error.startswith("Unknown command")
