"""``opspilot ask`` and ``opspilot runs`` end to end on a small demo world: the offline investigator, our own MCP
server in memory, the real approval book and mutation gate, the SQLite store in the test's data folder."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from copilot.machine import RunState
from copilot.runtime import Copilot
from copilot.store import RunStore
from core_client.approvals import ApprovalBook
from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.errors import BadQuery, NotFound, Unauthenticated
from core_client.identity import Actor, Role
from core_client.settings import load_settings
from core_client.store import Database
from tests.demo.world_fixture import build_small, install
from tests.support.cli_users import CliUser, add_cli_user, anonymous

QUESTION = "Why is checkout failing?"
ALICE = Actor(user="alice", role=Role.RESPONDER, via="cli")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("built"))


@pytest.fixture(autouse=True)
def world(built: Path) -> None:
    install(built)


@pytest.fixture
def alice() -> CliUser:
    return add_cli_user("alice", "responder")


@pytest.fixture
def bob() -> CliUser:
    return add_cli_user("bob", "approver")


def store() -> RunStore:
    return RunStore(Database.from_settings(load_settings()), clock=SystemClock())


def book() -> ApprovalBook:
    settings = load_settings()
    return ApprovalBook(Database.from_settings(settings), clock=SystemClock(), settings=settings)


def ask_json(who: CliUser, *extra: str) -> dict:
    result = who.invoke("ask", QUESTION, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ask_streams_the_steps_and_answers_with_numbered_citations(alice: CliUser) -> None:
    result = alice.invoke("ask", QUESTION, "--auto-reject")
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


def test_ask_json_prints_the_run_with_valid_citations(alice: CliUser) -> None:
    run = ask_json(alice, "--service", "checkout-api")
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


def test_a_blank_question_is_refused_and_starts_no_run(alice: CliUser) -> None:
    result = alice.invoke("ask", "   ")
    assert result.exit_code != 0
    # `opspilot` (console.cli.main) prints a typed error as "error: <source>: <message>" and exits 1.
    assert isinstance(result.exception, BadQuery) and "ask a question: it is empty" in str(result.exception)
    assert store().list_runs() == []


def test_runs_list_and_show(alice: CliUser) -> None:
    run = ask_json(alice)
    listed = alice.invoke("runs", "list", "--json")
    assert [item["id"] for item in json.loads(listed.stdout)] == [run["id"]]
    table = alice.invoke("runs", "list", "--state", "DONE", "--asked-by", "alice")
    assert run["id"] in table.stdout
    shown = alice.invoke("runs", "show", run["id"])
    assert shown.exit_code == 0
    assert "[  1] plan: call" in shown.stdout and "Root cause: orders-api" in shown.stdout
    assert json.loads(alice.invoke("runs", "show", run["id"], "--json").stdout)["id"] == run["id"]
    assert isinstance(anonymous("runs", "show", run["id"]).exception, Unauthenticated)
    missing = alice.invoke("runs", "show", "nope")
    assert isinstance(missing.exception, NotFound)


def test_a_follow_up_question_joins_the_conversation(alice: CliUser) -> None:
    first = ask_json(alice)
    second = ask_json(alice, "--conversation", first["conversation_id"])
    assert second["conversation_id"] == first["conversation_id"] and second["id"] != first["id"]
    (turn,) = store().conversation(second["conversation_id"], before=second["id"])
    assert turn.answer is not None and turn.answer.summary == first["answer"]["summary"]
    assert turn.evidence


def test_an_approver_approves_a_proposed_ticket_in_the_cli(alice: CliUser, bob: CliUser) -> None:
    run = ask_json(alice)
    proposed = bob.invoke("runs", "propose", run["id"], "1", input="y\n")
    assert proposed.exit_code == 0, proposed.output
    assert "approval needed: create_ticket (risk low)" in proposed.stdout
    assert "Approve create_ticket (risk low)?" in proposed.stdout
    assert "✓ opspilot.create_ticket" in proposed.stdout
    (request,) = book().list().items
    assert (request.status, request.requested_by, request.decided_by) == ("executed", "bob", "bob")
    (follow_up, _source) = store().list_runs()
    assert follow_up.state == RunState.DONE and follow_up.planner == "carry-out"


def test_a_responder_cannot_approve_so_the_request_waits_then_any_process_resumes_it(
    alice: CliUser, bob: CliUser
) -> None:
    run = ask_json(alice)
    proposed = alice.invoke("runs", "propose", run["id"], "2")
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

    approved = bob.invoke("approvals", "approve", request.id)
    assert approved.exit_code == 0, approved.output
    resumed = alice.invoke("runs", "resume", follow_up.id)
    assert resumed.exit_code == 0, resumed.output
    assert "✓ opspilot.append_timeline_note" in resumed.stdout
    assert store().get(follow_up.id).state == RunState.DONE
    assert book().get(request.id).status == "executed"


def test_a_rejection_in_the_cli_is_told_to_the_run(alice: CliUser, bob: CliUser) -> None:
    run = ask_json(alice)
    proposed = bob.invoke("runs", "propose", run["id"], "1", input="n\na ticket exists\n")
    assert proposed.exit_code == 0, proposed.output
    assert "create_ticket was not run: bob rejected it: a ticket exists" in proposed.stdout
    (request,) = book().list().items
    assert request.status == "rejected"


def test_auto_reject_decides_without_asking(alice: CliUser, bob: CliUser) -> None:
    run = ask_json(alice)
    proposed = bob.invoke("runs", "propose", run["id"], "1", "--auto-reject", "--json")
    assert proposed.exit_code == 0, proposed.output
    view = json.loads(proposed.stdout)
    assert view["answer"]["summary"].endswith(
        "rejected it: rejected automatically (opspilot ask --auto-reject)"
    )
    assert "Approve" not in proposed.output


def test_cancel_a_waiting_run(alice: CliUser) -> None:
    run = ask_json(alice)
    alice.invoke("runs", "propose", run["id"], "1", "--auto-reject")
    (follow_up, _source) = store().list_runs()
    assert follow_up.state == RunState.NEEDS_APPROVAL
    refused = add_cli_user("rita", "responder").invoke("runs", "cancel", follow_up.id)
    assert refused.exception is not None and "may not cancel alice's run" in str(refused.exception)
    assert isinstance(anonymous("runs", "cancel", follow_up.id).exception, Unauthenticated)
    cancelled = alice.invoke("runs", "cancel", follow_up.id)
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled by alice" in cancelled.stdout
    shown = alice.invoke("runs", "show", follow_up.id)
    assert shown.exit_code == 0 and "FAILED: cancelled by alice" in shown.stdout


def test_no_token_asks_nothing_and_a_forged_name_is_no_option() -> None:
    assert isinstance(anonymous("ask", QUESTION).exception, Unauthenticated)
    forged = anonymous("ask", QUESTION, "--user", "alice")
    assert forged.exit_code == 2 and "No such option: --user" in forged.output
    assert store().list_runs() == []


async def test_an_approval_given_in_another_process_wakes_the_run(bob: CliUser) -> None:
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
            env=bob.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
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


@pytest.mark.parametrize(
    ("rxconfig", "environment", "base"),
    [
        ('deploy_url="https://ops.example.com/"', {}, "https://ops.example.com"),
        ("frontend_port=3005", {}, "http://localhost:3005"),
        (
            "frontend_port=3005",
            {"OPSPILOT_CONSOLE_URL": "https://proxy.example.com"},
            "https://proxy.example.com",
        ),
    ],
    ids=["rxconfig-deploy-url", "rxconfig-frontend-port", "opspilot-setting-wins"],
)
def test_printed_links_follow_where_rxconfig_serves_the_console(
    alice: CliUser, tmp_path: Path, rxconfig: str, environment: dict[str, str], base: str
) -> None:
    run = ask_json(alice)
    folder = tmp_path / "deployment"
    folder.mkdir()
    (folder / "rxconfig.py").write_text(
        f'import reflex as rx\nconfig = rx.Config(app_name="console", {rxconfig})\n'
    )
    shown = subprocess.run(
        [sys.executable, "-m", "console.cli", "runs", "show", run["id"]],
        cwd=folder, env={**alice.env(), **environment}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert f"run {run['id']}: {base}/runs/{run['id']}" in shown.stdout
    assert f"{base}/incidents/INC-" in shown.stdout  # the citations' links too
