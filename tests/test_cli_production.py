"""Operator CLI for production controls: credit history, webhook keys and deliveries."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sfumato.cli import app

runner = CliRunner()


@pytest.fixture
def env(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in {**settings_env, "SFUMATO_WEBHOOK_ALLOW_HOSTS": "127.0.0.1/32"}.items():
        monkeypatch.setenv(name, value)
    return settings_env


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_credit_history_lists_the_ledger_with_running_balances(env: dict[str, str]) -> None:
    _ok("keys", "create", "--user", "acct", "--credits", "100", "--json")
    _ok("credits", "grant", "--user", "acct", "25")
    _ok("credits", "grant", "--user", "acct", "--", "-5")
    rows = [json.loads(line) for line in _ok("credits", "history", "--user", "acct", "--json").splitlines()]
    assert [(r["kind"], r["amount"], r["balanceAfter"]) for r in rows] == [
        ("grant", -5, 120),
        ("grant", 25, 125),
        ("grant", 100, 100),
    ]
    assert rows[-1]["note"] == "initial grant"
    assert "+25" in _ok("credits", "history", "--user", "acct")
    assert len(_ok("credits", "history", "--user", "acct", "--json", "--limit", "1").splitlines()) == 1
    result = runner.invoke(app, ["credits", "history", "--user", "nobody"])
    assert result.exit_code == 1 and "No account" in result.output


def test_webhook_keys_and_delivery_commands(env: dict[str, str]) -> None:
    hook = ["--webhook-url", "http://127.0.0.1:9/hook", "--webhook-key", "receiver-token"]
    issued = json.loads(_ok("keys", "create", "--user", "hooked", "--json", *hook))
    assert issued["webhookSecret"].startswith("whsec_")
    assert _ok("webhooks", "list", "--json") == ""
    for args, fragment in [
        (["keys", "create", "--user", "x", "--webhook-url", "https://10.0.0.8/hook"], "private"),
        (["keys", "create", "--user", "x", "--webhook-key", "k"], "webhook URL"),
        (["webhooks", "resend", "msg_nope"], "No webhook delivery"),
        (["webhooks", "show", "msg_nope"], "No webhook delivery"),
        (["webhooks", "list", "--user", "nobody"], "No account"),
        (["webhooks", "list", "--state", "lost"], "state must be one of"),
    ]:
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and fragment in result.output, (args, result.output)
