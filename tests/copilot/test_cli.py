"""``opspilot ask`` and ``opspilot runs`` end to end on a small demo world: the offline investigator, our own MCP
server in memory, the real approval book and mutation gate, the SQLite store in the test's data folder."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from console.cli import app
from copilot.machine import RunState
from copilot.runtime import Copilot
from copilot.store import RunStore
from core_client.approvals import ApprovalBook
from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.errors import BadQuery, NotFound
from core_client.identity import Actor, Role
from core_client.settings import load_settings
from core_client.store import Database
from tests.demo.world_fixture import build_small, install

QUESTION = "Why is checkout failing?"
ALICE = Actor(user="alice", role=Role.RESPONDER, via="cli")
runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("built"))


@pytest.fixture(autouse=True)
def world(built: Path) -> None:
    install(built)
    for name, role in (("alice", "responder"), ("bob", "approver")):
        added = runner.invoke(app, ["users", "add", name, "--role", role, "--no-password"])
        assert added.exit_code == 0, added.output


def store() -> RunStore:
    return RunStore(Database.from_settings(load_settings()), clock=SystemClock())


def book() -> ApprovalBook:
    settings = load_settings()
    return ApprovalBook(Database.from_settings(settings), clock=SystemClock(), settings=settings)


def ask_json(*extra: str) -> dict:
    result = runner.invoke(app, ["ask", QUESTION, "--json", "--user", "alice", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ask_streams_the_steps_and_answers_with_numbered_citations() -> None:
    result = runner.invoke(app, ["ask", QUESTION, "--user", "alice", "--auto-reject"])
    assert result.exit_code == 0, result.output
    output = result.stdout
    assert "PLAN → EXECUTE_TOOL" in output and "EVALUATE → DONE" in output
    assert "✓ opspilot.query_incidents" in output
    assert "Root cause: orders-api — connection_pool_exhaustion" in output
    assert "Citations" in output and " [1] " in output
    assert "http://localhost:3000/incidents/INC-" in output  # absolute links
    assert "opspilot runs propose" in output  # follow-ups are offered, not made
    (run,) = store().list_runs()
    assert f"http://localhost:3000/runs/{run.id}" in output


def test_ask_json_prints_the_run_with_valid_citations() -> None:
    run = ask_json("--service", "checkout-api")
    assert run["state"] == "DONE" and run["user"] == "alice" and run["page"]["service"] == "checkout-api"
    assert run["answer"]["root_cause"] == {
        "service": "orders-api",
        "fault_kind": "connection_pool_exhaustion",
    }
    returned = {item["id"] for outcome in run["outcomes"] for item in outcome["evidence"]}
    cited = {item for claim in run["answer"]["claims"] for item in claim["evidence_ids"]}
    assert cited and cited <= returned
    assert all(
        not outcome["tool"].endswith(("create_ticket", "append_timeline_note")) for outcome in run["outcomes"]
    )
    assert book().list().items == []  # proposing is not asking: nothing waits for approval


def test_a_blank_question_is_refused_and_starts_no_run() -> None:
    result = runner.invoke(app, ["ask", "   ", "--user", "alice"])
    assert result.exit_code != 0
    # `opspilot` (console.cli.main) prints a typed error as "error: <source>: <message>" and exits 1.
    assert isinstance(result.exception, BadQuery) and "ask a question: it is empty" in str(result.exception)
    assert store().list_runs() == []


def test_runs_list_and_show() -> None:
    run = ask_json()
    listed = runner.invoke(app, ["runs", "list", "--json"])
    assert [item["id"] for item in json.loads(listed.stdout)] == [run["id"]]
    table = runner.invoke(app, ["runs", "list", "--state", "DONE"])
    assert run["id"] in table.stdout
    shown = runner.invoke(app, ["runs", "show", run["id"]])
    assert shown.exit_code == 0
    assert "[  1] plan: call" in shown.stdout and "Root cause: orders-api" in shown.stdout
    assert json.loads(runner.invoke(app, ["runs", "show", run["id"], "--json"]).stdout)["id"] == run["id"]
    missing = runner.invoke(app, ["runs", "show", "nope"])
    assert isinstance(missing.exception, NotFound)


def test_a_follow_up_question_joins_the_conversation() -> None:
    first = ask_json()
    second = ask_json("--conversation", first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"] and second["id"] != first["id"]
    (turn,) = store().conversation(second["conversation_id"], before=second["id"])
    assert turn.answer is not None and turn.answer.summary == first["answer"]["summary"]
    assert turn.evidence


def test_an_approver_approves_a_proposed_ticket_in_the_cli() -> None:
    run = ask_json()
    proposed = runner.invoke(app, ["runs", "propose", run["id"], "1", "--user", "bob"], input="y\n")
    assert proposed.exit_code == 0, proposed.output
    assert "approval needed: create_ticket (risk low)" in proposed.stdout
    assert "Approve create_ticket (risk low)?" in proposed.stdout
    assert "✓ opspilot.create_ticket" in proposed.stdout
    (request,) = book().list().items
    assert (request.status, request.requested_by, request.decided_by) == ("executed", "bob", "bob")
    (follow_up, _source) = store().list_runs()
    assert follow_up.state == RunState.DONE and follow_up.planner == "carry-out"


def test_a_responder_cannot_approve_so_the_request_waits_then_any_process_resumes_it() -> None:
    run = ask_json()
    proposed = runner.invoke(app, ["runs", "propose", run["id"], "2", "--user", "alice"])
    assert proposed.exit_code == 0, proposed.output
    assert "Approve" not in proposed.stdout  # not asked: policy does not let a responder decide
    assert (
        "alice (responder) may not decide on append_timeline_note; approvers: approver, admin"
        in proposed.stdout
    )
    assert (
        "the request waits for an approver in the console: http://localhost:3000/approvals/"
        in proposed.stdout
    )
    (request,) = book().list().items
    assert request.tool == "append_timeline_note" and request.status == "pending"
    (follow_up, _source) = store().list_runs()
    assert follow_up.state == RunState.NEEDS_APPROVAL

    approved = runner.invoke(app, ["approvals", "approve", request.id, "--user", "bob"])
    assert approved.exit_code == 0, approved.output
    resumed = runner.invoke(app, ["runs", "resume", follow_up.id, "--user", "alice"])
    assert resumed.exit_code == 0, resumed.output
    assert "✓ opspilot.append_timeline_note" in resumed.stdout
    assert store().get(follow_up.id).state == RunState.DONE
    assert book().get(request.id).status == "executed"


def test_a_rejection_in_the_cli_is_told_to_the_run() -> None:
    run = ask_json()
    proposed = runner.invoke(
        app, ["runs", "propose", run["id"], "1", "--user", "bob"], input="n\na ticket exists\n"
    )
    assert proposed.exit_code == 0, proposed.output
    assert "create_ticket was not run: bob rejected it: a ticket exists" in proposed.stdout
    (request,) = book().list().items
    assert request.status == "rejected"


def test_auto_reject_decides_without_asking() -> None:
    run = ask_json()
    proposed = runner.invoke(
        app, ["runs", "propose", run["id"], "1", "--user", "bob", "--auto-reject", "--json"]
    )
    assert proposed.exit_code == 0, proposed.output
    view = json.loads(proposed.stdout)
    assert view["answer"]["summary"].endswith(
        "rejected it: rejected automatically (opspilot ask --auto-reject)"
    )
    assert "Approve" not in proposed.output


def test_cancel_a_waiting_run() -> None:
    run = ask_json()
    runner.invoke(app, ["runs", "propose", run["id"], "1", "--user", "alice", "--auto-reject"])
    (follow_up, _source) = store().list_runs()
    assert follow_up.state == RunState.NEEDS_APPROVAL
    refused = runner.invoke(
        app, ["runs", "cancel", follow_up.id]
    )  # the login name is neither alice nor an approver
    assert refused.exception is not None and "may not cancel alice's run" in str(refused.exception)
    cancelled = runner.invoke(app, ["runs", "cancel", follow_up.id, "--user", "alice"])
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled by alice" in cancelled.stdout
    shown = runner.invoke(app, ["runs", "show", follow_up.id])
    assert shown.exit_code == 0 and "FAILED: cancelled by alice" in shown.stdout


def test_an_unknown_user_is_an_error() -> None:
    result = runner.invoke(app, ["ask", QUESTION, "--user", "mallory"])
    assert isinstance(result.exception, NotFound)


async def test_an_approval_given_in_another_process_wakes_the_run() -> None:
    settings = load_settings()
    core = CoreClient.from_settings(settings)
    copilot = Copilot.from_settings(settings, core=core, poll_seconds=0.2)
    try:
        source = await copilot.investigate(QUESTION, user=ALICE)
        follow_up = await copilot.propose(source.id, 0, by=ALICE)
        waiting = await copilot.settle(follow_up.id)
        assert waiting.state == RunState.NEEDS_APPROVAL
        approve = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.cli", "approvals", "approve", waiting.pending_request_id or "",
            "--user", "bob", env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        _, err = await asyncio.wait_for(approve.communicate(), 60)
        assert approve.returncode == 0, err.decode()
        async with asyncio.timeout(30):
            done = await copilot.settle(follow_up.id)
        assert done.state == RunState.DONE
        changes = [o for o in done.outcomes if o.tool == "opspilot.create_ticket"]
        assert len(changes) == 1 and changes[0].ok
    finally:
        await copilot.aclose()
        await core.aclose()
