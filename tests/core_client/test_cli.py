"""``opspilot users`` and ``opspilot approvals`` through the real command line, on the default SQLite store."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from console.cli import app, main
from core_client.approvals import ApprovalBook
from core_client.clock import SystemClock
from core_client.errors import BadQuery, Forbidden, NotFound
from core_client.identity import Actor, Role
from core_client.settings import load_settings
from core_client.store import Database
from core_client.users import UserDirectory

runner = CliRunner()


def file_request() -> str:
    settings = load_settings()
    book = ApprovalBook(
        Database.from_settings(settings, upgrade=True), clock=SystemClock(), settings=settings
    )
    request = book.request(
        "create_incident",
        {"incident": {"title": "Checkout latency"}},
        requester=Actor.copilot_for("alice", Role.RESPONDER),
        evidence=[],
        risk="low",
        environment="prod",
    )
    return request.id


def test_add_list_and_token() -> None:
    added = runner.invoke(
        app, ["users", "add", "alice", "--role", "approver", "--password-stdin"], input="long enough pw\n"
    )
    assert added.exit_code == 0, added.output
    assert "added alice (approver)" in added.output
    runner.invoke(
        app, ["users", "add", "bot", "--role", "responder", "--no-password", "--email", "bot@example.com"]
    )

    listed = runner.invoke(app, ["users", "list", "--json"])
    assert [(u["username"], u["role"]) for u in json.loads(listed.output)] == [
        ("alice", "approver"),
        ("bot", "responder"),
    ]
    assert "password_hash" not in listed.output
    assert "alice" in runner.invoke(app, ["users", "list"]).output

    issued = runner.invoke(app, ["users", "token", "bot", "--label", "ci"])
    token = issued.stdout.strip()
    assert token.startswith("opspilot_")
    settings = load_settings()
    directory = UserDirectory(Database.from_settings(settings), clock=SystemClock(), settings=settings)
    found = directory.verify_token(token)
    assert found is not None and found.username == "bot"
    assert directory.authenticate("alice", "long enough pw") is not None


def test_interactive_password_is_asked_twice() -> None:
    result = runner.invoke(
        app, ["users", "add", "carol", "--role", "responder"], input="a fine secret\na fine secret\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output


def test_bad_role_is_a_usage_error() -> None:
    result = runner.invoke(app, ["users", "add", "dave", "--role", "overlord", "--no-password"])
    assert result.exit_code == 2
    assert "overlord" in result.output and "--role" in result.output


def test_weak_password_is_refused_with_a_message() -> None:
    result = runner.invoke(
        app, ["users", "add", "erin", "--role", "responder", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, BadQuery) and "at least 8 characters" in str(result.exception)


def test_approvals_list_approve_and_reject(monkeypatch: pytest.MonkeyPatch) -> None:
    runner.invoke(app, ["users", "add", "bob", "--role", "approver", "--no-password"])
    runner.invoke(app, ["users", "add", "vivian", "--role", "viewer", "--no-password"])
    first, second = file_request(), file_request()

    pending = json.loads(runner.invoke(app, ["approvals", "list", "--status", "pending", "--json"]).output)
    assert {r["id"] for r in pending} == {first, second}
    assert pending[0]["url"].endswith(f"/approvals/{pending[0]['id']}")
    assert first in runner.invoke(app, ["approvals", "list"]).output

    approved = runner.invoke(app, ["approvals", "approve", first, "--user", "bob", "--reason", "ok"])
    assert approved.exit_code == 0 and f"approved {first}" in approved.output

    monkeypatch.setenv("OPSPILOT_USER", "bob")
    missing_reason = runner.invoke(app, ["approvals", "reject", second])
    assert missing_reason.exit_code == 2 and "--reason" in missing_reason.output
    rejected = runner.invoke(app, ["approvals", "reject", second, "--reason", "wrong service", "--json"])
    assert json.loads(rejected.output)["status"] == "rejected"

    statuses = {
        r["id"]: r["status"] for r in json.loads(runner.invoke(app, ["approvals", "list", "--json"]).output)
    }
    assert statuses == {first: "approved", second: "rejected"}

    third = file_request()
    viewer = runner.invoke(app, ["approvals", "approve", third, "--user", "vivian"])
    assert viewer.exit_code != 0 and isinstance(viewer.exception, Forbidden)
    stranger = runner.invoke(app, ["approvals", "approve", third, "--user", "mallory"])
    assert stranger.exit_code != 0 and isinstance(stranger.exception, NotFound)
    bad_status = runner.invoke(app, ["approvals", "list", "--status", "done"])
    assert bad_status.exit_code == 2 and "unknown status 'done'" in bad_status.output


def test_main_prints_our_errors_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.argv", ["opspilot", "approvals", "approve", "nope", "--user", "nobody"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert "error: users: no user 'nobody'" in capsys.readouterr().err
