"""``sfumato accounts policy``: the operator sets an account's mode and rules; requests obey."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sfumato.cli import app
from sfumato.config import Settings
from sfumato.runtime import build_context
from sfumato.service import policy
from sfumato.service.accounts import account_id_of

runner = CliRunner()


@pytest.fixture
def env(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    return settings_env


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_operator_sets_an_accounts_mode_and_rules(env: dict[str, str]) -> None:
    _ok("keys", "create", "--user", "acct", "--json")
    shown = json.loads(_ok("accounts", "policy", "show", "--user", "acct"))
    assert shown == {"user": "acct", "mode": "flag", "rules": {}, "allowed": []}
    _ok("accounts", "policy", "set", "--user", "acct", "--mode", "withhold", "--category", "brand",
        "--term", "Acme", "--pattern", r"\bcontoso\w*")  # fmt: skip
    shown = json.loads(_ok("accounts", "policy", "show", "--user", "acct"))
    assert shown["mode"] == "withhold"
    assert shown["rules"] == {"brand": {"terms": ["Acme"], "patterns": [r"\bcontoso\w*"]}}
    ctx = build_context(Settings())
    try:
        account = account_id_of(ctx, username="acct")
        with pytest.raises(policy.ContentRefused, match="brand"):
            policy.check(ctx, account, ["an ACME anvil"], "generation")
        with pytest.raises(policy.ContentRefused):
            policy.check(ctx, account, ["Contosoville at night"], "generation")
        policy.check(ctx, account, ["an anvil"], "generation")
    finally:
        ctx.close()
    for bad in (["--mode", "hide"], ["--category", "x", "--pattern", "(open"], ["--term", "orphan"]):
        result = runner.invoke(app, ["accounts", "policy", "set", "--user", "acct", *bad])
        assert result.exit_code == 1, result.output
    result = runner.invoke(app, ["accounts", "policy", "show", "--user", "nobody"])
    assert result.exit_code == 1 and "No account" in result.output
