"""``opspilot users``, ``opspilot approvals`` and the CLI's identity through the real command line, on the default
SQLite store: the CLI acts only as the holder of its API token."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app, main
from core_client.approvals import ApprovalBook
from core_client.clock import SystemClock
from core_client.errors import BadQuery, Forbidden, NotFound, Unauthenticated
from core_client.identity import Actor, Role
from core_client.policy import PolicyRule
from core_client.settings import load_settings
from core_client.store import Database
from core_client.users import UserDirectory
from tests.support.cli_users import CliUser, anonymous

runner = CliRunner()
MakeUser = Callable[..., CliUser]


def directory() -> UserDirectory:
    settings = load_settings()
    return UserDirectory(
        Database.from_settings(settings, upgrade=True), clock=SystemClock(), settings=settings
    )


def file_request(
    requester: Actor | None = None, tool: str = "create_incident", title: str = "Checkout"
) -> str:
    settings = load_settings()
    book = ApprovalBook(
        Database.from_settings(settings, upgrade=True), clock=SystemClock(), settings=settings
    )
    arguments = (
        {"incident": {"title": f"{title} latency"}}
        if tool == "create_incident"
        else {"page": {"service": "orders-api", "summary": "orders failing"}}
    )
    request = book.request(
        tool,
        arguments,
        requester=requester or Actor.copilot_for("alice", Role.RESPONDER),
        evidence=[],
        risk="low",
        environment="prod",
    )
    return request.id


def test_the_first_admin_is_bootstrapped_on_an_empty_database_and_gets_a_token() -> None:
    not_admin = anonymous("users", "add", "ada", "--role", "responder", "--no-password")
    assert isinstance(not_admin.exception, BadQuery) and "must be an admin" in str(not_admin.exception)

    added = anonymous("users", "add", "ada", "--role", "admin", "--password-stdin", input="long enough pw\n")
    assert added.exit_code == 0, added.output
    assert "added ada (admin)" in added.stdout
    token = added.stdout.strip().splitlines()[-1]
    found = directory().verify_token(token)
    assert found is not None and found.username == "ada"
    assert directory().authenticate("ada", "long enough pw") is not None

    # Once a user exists, nobody adds users without an admin's token.
    again = anonymous("users", "add", "eve", "--role", "admin", "--no-password")
    assert isinstance(again.exception, Unauthenticated) and "no API token" in str(again.exception)
    with_token = runner.invoke(
        app, ["users", "add", "bob", "--role", "approver", "--no-password"], env={"OPSPILOT_TOKEN": token}
    )
    assert with_token.exit_code == 0, with_token.output
    audit = [(e.action, e.actor_user) for e in directory().audit.list(tool="users").items]
    assert ("user_added", "ada") in audit and audit.count(("user_added", "ada")) == 2


def test_only_an_admin_adds_users_and_lists_are_for_the_signed_in(cli_user: MakeUser) -> None:
    ada = cli_user("ada", "admin")
    bob = cli_user("bob", "approver")

    refused = bob.invoke("users", "add", "eve", "--role", "admin", "--no-password")
    assert isinstance(refused.exception, Forbidden) and "needs admin" in str(refused.exception)
    added = ada.invoke(
        "users", "add", "bot", "--role", "responder", "--no-password", "--email", "bot@example.com"
    )
    assert added.exit_code == 0, added.output

    listed = bob.invoke("users", "list", "--json")
    assert [(u["username"], u["role"]) for u in json.loads(listed.stdout)] == [
        ("ada", "admin"),
        ("bob", "approver"),
        ("bot", "responder"),
    ]
    assert "password_hash" not in listed.stdout
    assert isinstance(anonymous("users", "list").exception, Unauthenticated)


def test_interactive_password_is_asked_twice(cli_user: MakeUser) -> None:
    ada = cli_user("ada", "admin")
    result = ada.invoke(
        "users", "add", "carol", "--role", "responder", input="a fine secret\na fine secret\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output


def test_bad_role_is_a_usage_error(cli_user: MakeUser) -> None:
    result = cli_user("ada", "admin").invoke("users", "add", "dave", "--role", "overlord", "--no-password")
    assert result.exit_code == 2
    assert "overlord" in result.output and "--role" in result.output


def test_weak_password_is_refused_with_a_message(cli_user: MakeUser) -> None:
    ada = cli_user("ada", "admin")
    result = ada.invoke("users", "add", "erin", "--role", "responder", "--password-stdin", input="short\n")
    assert result.exit_code != 0
    assert isinstance(result.exception, BadQuery) and "at least 8 characters" in str(result.exception)


def test_approvals_list_approve_and_reject_as_the_token_holder(cli_user: MakeUser) -> None:
    bob = cli_user("bob", "approver")
    vivian = cli_user("vivian", "viewer")
    first, second = file_request(title="Checkout"), file_request(title="Orders")

    pending = json.loads(vivian.invoke("approvals", "list", "--status", "pending", "--json").stdout)
    assert {r["id"] for r in pending} == {first, second}
    assert pending[0]["url"].endswith(f"/approvals/{pending[0]['id']}")
    assert isinstance(anonymous("approvals", "list").exception, Unauthenticated)

    approved = bob.invoke("approvals", "approve", first, "--reason", "ok")
    assert approved.exit_code == 0 and f"approved {first}" in approved.output

    missing_reason = bob.invoke("approvals", "reject", second)
    assert missing_reason.exit_code == 2 and "--reason" in missing_reason.output
    rejected = bob.invoke("approvals", "reject", second, "--reason", "wrong service", "--json")
    assert json.loads(rejected.stdout)["status"] == "rejected"
    assert {
        (r["id"], r["decided_by"]) for r in json.loads(bob.invoke("approvals", "list", "--json").stdout)
    } == {
        (first, "bob"),
        (second, "bob"),
    }

    third = file_request(title="Search")
    viewer = vivian.invoke("approvals", "approve", third)
    assert viewer.exit_code != 0 and isinstance(viewer.exception, Forbidden)
    nobody = anonymous("approvals", "approve", third)
    assert isinstance(nobody.exception, Unauthenticated)
    bad_status = bob.invoke("approvals", "list", "--status", "done")
    assert bad_status.exit_code == 2 and "unknown status 'done'" in bad_status.output


def test_no_user_option_and_no_os_login_act_for_anyone(cli_user: MakeUser) -> None:
    """The reproduction of issue 12: `approvals approve ID --user alan` approved rita's request with no credential."""
    cli_user("alan", "approver")
    rita = cli_user("rita", "responder")
    request = file_request(rita.actor)
    forged = anonymous("approvals", "approve", request, "--user", "alan")
    assert forged.exit_code == 2 and "No such option: --user" in forged.output
    os_login = anonymous("ask", "why is checkout failing?")
    assert isinstance(os_login.exception, Unauthenticated)
    assert directory().audit.list(action="approved").items == []


def test_two_person_rules_hold_through_the_cli(cli_user: MakeUser, tmp_path: Path) -> None:
    (tmp_path / "opspilot.toml").write_text(
        "[[policy.rules]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in _two_person().items()) + "\n"
    )
    rita = cli_user("rita", "approver")
    alan = cli_user("alan", "approver")
    request = file_request(rita.actor, tool="page_oncall")
    own = rita.invoke("approvals", "approve", request)
    assert isinstance(own.exception, Forbidden) and "needs two people" in str(own.exception)
    other = alan.invoke("approvals", "approve", request)
    assert other.exit_code == 0, other.output


def _two_person() -> dict[str, object]:
    rule = PolicyRule(tool="page_oncall", mode="requires_approval", two_person=True)
    return rule.model_dump(mode="json")


def test_tokens_issue_list_revoke_and_disable(cli_user: MakeUser) -> None:
    ada = cli_user("ada", "admin")
    rita = cli_user("rita", "responder")
    cli_user("alan", "approver")

    issued = ada.invoke("users", "token", "issue", "alan", "--label", "laptop", "--days", "7", "--json")
    assert issued.exit_code == 0, issued.output
    alan_token = json.loads(issued.stdout)["token"]
    alan = CliUser(name="alan", role=Role.APPROVER, token=alan_token)
    assert json.loads(alan.invoke("whoami", "--json").stdout)["user"] == "alan"

    # Anyone may issue a token for themselves, never for someone else and never outliving the one they hold.
    assert isinstance(rita.invoke("users", "token", "issue", "alan").exception, Forbidden)
    own = json.loads(rita.invoke("users", "token", "issue", "rita", "--days", "365", "--json").stdout)[
        "token"
    ]
    rita_tokens = json.loads(rita.invoke("users", "token", "list", "--json").stdout)
    assert {t["user"] for t in rita_tokens} == {"rita"} and len(rita_tokens) == 2
    held = next(t for t in rita_tokens if t["label"] == "test")
    new = next(t for t in rita_tokens if t["id"] == own.split("_")[1])
    assert new["expires_at"] <= held["expires_at"]

    # The admin sees every token with its last use; a fresh one was never used.
    everyone = json.loads(ada.invoke("users", "token", "list", "--json").stdout)
    laptop = next(t for t in everyone if t["label"] == "laptop")
    assert laptop["user"] == "alan" and laptop["state"] == "active" and laptop["last_used_at"] is not None
    assert "never" in ada.invoke("users", "token", "list").stdout  # rita's own new one, never used

    # Revocation takes effect on the next command; someone else's token is not rita's to revoke.
    assert isinstance(rita.invoke("users", "token", "revoke", laptop["id"]).exception, Forbidden)
    assert ada.invoke("users", "token", "revoke", laptop["id"]).exit_code == 0
    assert isinstance(alan.invoke("whoami").exception, Unauthenticated)

    # Disabling stops every token of the user; the last admin cannot be disabled.
    assert ada.invoke("users", "disable", "rita").exit_code == 0
    assert isinstance(rita.invoke("whoami").exception, Unauthenticated)
    last = ada.invoke("users", "disable", "ada")
    assert isinstance(last.exception, Forbidden) and "last enabled admin" in str(last.exception)
    assert ada.invoke("users", "enable", "rita").exit_code == 0
    assert rita.invoke("whoami").exit_code == 0
    actions = [e.action for e in directory().audit.list(tool="users").items]
    assert {"token_issued", "token_revoked", "user_changed"} <= set(actions)


def test_tokens_expire_after_90_days_by_default(cli_user: MakeUser) -> None:
    alan = cli_user("alan", "approver")
    (row,) = directory().tokens("alan")
    assert row.expires_at is not None and (row.expires_at - row.created_at).days == 90
    assert alan.invoke("whoami").exit_code == 0


def test_login_keeps_the_token_for_the_owner_only(cli_user: MakeUser, tmp_path: Path) -> None:
    alan = cli_user("alan", "approver")
    bad = anonymous("login", "--token-stdin", input="opspilot_nope_nope\n")
    assert isinstance(bad.exception, Unauthenticated)
    kept = anonymous("login", "--token-stdin", input=alan.token + "\n")
    assert kept.exit_code == 0 and "signed in as alan (approver)" in kept.stdout
    path = Path(os.environ["OPSPILOT_TOKEN_FILE"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert anonymous("whoami").stdout.startswith("alan (approver)")  # from the file

    path.chmod(0o644)
    exposed = anonymous("whoami")
    assert isinstance(exposed.exception, Unauthenticated) and "chmod 600" in str(exposed.exception)
    path.chmod(0o600)
    assert anonymous("logout").exit_code == 0 and not path.exists()
    assert isinstance(anonymous("whoami").exception, Unauthenticated)


def test_main_prints_our_errors_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli_user: MakeUser
) -> None:
    alan = cli_user("alan", "approver")
    monkeypatch.setenv("OPSPILOT_TOKEN", alan.token)
    monkeypatch.setattr("sys.argv", ["opspilot", "approvals", "approve", "nope"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    assert "error: approvals: no approval request 'nope'" in capsys.readouterr().err


def test_without_a_token_the_command_says_how_to_get_one() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "console.cli", "approvals", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "OPSPILOT_TOKEN": ""},
    )
    assert done.returncode == 1 and done.stdout == ""
    assert "error: cli: no API token: set OPSPILOT_TOKEN" in done.stderr


def test_not_found_is_still_reported(cli_user: MakeUser) -> None:
    ada = cli_user("ada", "admin")
    assert isinstance(ada.invoke("users", "disable", "nobody").exception, NotFound)
