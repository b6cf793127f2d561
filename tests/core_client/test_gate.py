"""Mutations through CoreClient and the gate: grants, policy and the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta
from typing import Any

import pytest

from core_client.approvals import ApprovalBook
from core_client.client import CoreClient
from core_client.clock import FixedClock
from core_client.errors import ApprovalRequired, Forbidden, ProviderUnavailable
from core_client.gate import MutationGate
from core_client.identity import Actor, Role
from core_client.mutations import arguments_digest
from core_client.policy import Policy, PolicyRule
from core_client.schemas import CreateIncidentInput
from core_client.settings import Settings
from core_client.store import Database

DATA = CreateIncidentInput(title="Checkout latency", severity="sev2", service="checkout")
ARGS = {"incident": {"title": "Checkout latency", "severity": "sev2", "service": "checkout"}}
ALICE = Actor(user="alice", role=Role.RESPONDER)
COPILOT = Actor.copilot_for("alice", Role.RESPONDER)
BOB = Actor(user="bob", role=Role.APPROVER)


def approved_grant(book: ApprovalBook, arguments: dict[str, Any] = ARGS) -> str:
    request = book.request(
        "create_incident", arguments, requester=COPILOT, evidence=[], risk="low", environment=None
    )
    book.approve(request.id, approver=BOB)
    return book.grant_id_for(request.id, COPILOT).id


async def test_without_a_grant_approval_is_required(
    core: CoreClient, incidents: Any, book: ApprovalBook
) -> None:
    with pytest.raises(ApprovalRequired, match="need approval") as refused:
        await core.incidents.create(DATA, actor=ALICE)
    assert refused.value.approval_url == "http://localhost:3000/approvals"
    assert refused.value.source == "create_incident"
    assert incidents.created == []
    (event,) = book.audit.list().items
    assert (event.action, event.actor, event.tool, event.environment) == (
        "refused",
        "alice",
        "create_incident",
        "prod",
    )
    assert event.arguments == json.loads(arguments_digest("create_incident", ARGS)[0])


async def test_with_a_grant_it_runs_once_and_is_audited(
    core: CoreClient, incidents: Any, book: ApprovalBook
) -> None:
    grant = approved_grant(book)
    incident = await core.incidents.create(DATA, actor=COPILOT, grant=grant)
    assert incident.id == "INC-1"
    assert incidents.created == [(DATA, grant)]  # the grant id is the provider's idempotency key
    executed = book.audit.list(action="executed").items[0]
    assert executed.actor == "copilot for alice"
    assert executed.result == {"type": "Incident", "id": "INC-1", "status": "open"}
    request = book.get(executed.request_id or "")
    assert request.status == "executed"
    # The audit trail never holds a usable grant.
    assert all(grant not in (e.grant_id or "") for e in book.audit.list().items)
    assert executed.grant_id and executed.grant_id.startswith("sha256:")

    with pytest.raises(ApprovalRequired, match="already used"):
        await core.incidents.create(DATA, actor=COPILOT, grant=grant)
    assert len(incidents.created) == 1
    assert book.audit.list().items[0].action == "refused"


async def test_a_grant_for_other_arguments_is_refused(
    core: CoreClient, incidents: Any, book: ApprovalBook
) -> None:
    grant = approved_grant(book)
    other = DATA.model_copy(update={"severity": "sev1"})
    with pytest.raises(ApprovalRequired, match="arguments differ"):
        await core.incidents.create(other, actor=COPILOT, grant=grant)
    assert incidents.created == []


async def test_a_grant_for_another_tool_is_refused(core: CoreClient, book: ApprovalBook) -> None:
    from core_client.schemas import UpdateIncidentInput

    grant = approved_grant(book)
    with pytest.raises(ApprovalRequired, match="is for create_incident"):
        await core.incidents.update(
            "INC-1", UpdateIncidentInput(status="resolved"), actor=COPILOT, grant=grant
        )


async def test_an_expired_grant_is_refused(
    incidents: Any,
    book: ApprovalBook,
    database: Database,
    settings: Settings,
    clock: FixedClock,
    build_core: Any,
) -> None:
    grant = approved_grant(book)
    later = ApprovalBook(database, clock=FixedClock(clock.now() + timedelta(hours=2)), settings=settings)
    core = build_core({})
    core.gate = MutationGate(later)
    with pytest.raises(ApprovalRequired, match="expired"):
        await core.mutate(
            "create_incident", ARGS, actor=COPILOT, grant=grant, environment=None, action=_never
        )
    assert incidents.created == []


async def _never(key: str | None) -> None:
    raise AssertionError("the mutation must not run")


async def test_a_failed_mutation_releases_the_grant(
    core: CoreClient, incidents: Any, book: ApprovalBook
) -> None:
    grant = approved_grant(book)
    incidents.fail_with = RuntimeError("connection reset")
    with pytest.raises(ProviderUnavailable, match="connection reset"):
        await core.incidents.create(DATA, actor=COPILOT, grant=grant)
    failed = book.audit.list(action="failed").items[0]
    assert failed.result["error"] == "ProviderUnavailable"
    assert book.get(failed.request_id or "").status == "approved"
    # Released, so the same approval can be tried again; it is spent only by the success.
    await core.incidents.create(DATA, actor=COPILOT, grant=grant)
    assert incidents.created == [(DATA, grant)]


async def test_concurrent_use_of_one_grant_runs_the_mutation_once(
    core: CoreClient, incidents: Any, book: ApprovalBook
) -> None:
    grant = approved_grant(book)
    incidents.delay = 0.05
    outcomes = await asyncio.gather(
        core.incidents.create(DATA, actor=COPILOT, grant=grant),
        core.incidents.create(DATA, actor=COPILOT, grant=grant),
        return_exceptions=True,
    )
    assert len(incidents.created) == 1
    assert sorted(type(o).__name__ for o in outcomes) == ["ApprovalRequired", "Incident"]


def test_one_grant_used_from_two_threads_runs_the_mutation_once(
    core: CoreClient, incidents: Any, book: ApprovalBook
) -> None:
    grant = approved_grant(book)
    incidents.delay = 0.05
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            asyncio.run(core.incidents.create(DATA, actor=COPILOT, grant=grant))
            outcomes.append("ran")
        except ApprovalRequired:
            outcomes.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ran", "refused"]
    assert len(incidents.created) == 1


async def test_a_viewer_is_forbidden_even_with_a_grant(core: CoreClient, book: ApprovalBook) -> None:
    grant = approved_grant(book)
    with pytest.raises(Forbidden, match="viewer"):
        await core.incidents.create(DATA, actor=Actor(user="vivian", role=Role.VIEWER), grant=grant)
    assert book.audit.list(action="refused").items[0].actor == "vivian"


class TestDeniedPolicy:
    @pytest.fixture
    def policy(self) -> Policy:
        return Policy(rules=[PolicyRule(tool="create_incident", environment="prod", mode="denied")])

    async def test_a_denied_tool_is_forbidden(self, core: CoreClient, incidents: Any) -> None:
        with pytest.raises(Forbidden, match="policy denies create_incident in prod"):
            await core.incidents.create(DATA, actor=Actor(user="root", role=Role.ADMIN), environment="prod")
        assert incidents.created == []


class TestAutoPolicy:
    @pytest.fixture
    def policy(self) -> Policy:
        return Policy(rules=[PolicyRule(tool="create_incident", mode="auto")])

    async def test_a_person_runs_an_auto_tool_directly(
        self, core: CoreClient, incidents: Any, book: ApprovalBook
    ) -> None:
        await core.incidents.create(DATA, actor=ALICE)
        assert incidents.created == [(DATA, None)]
        (event,) = book.audit.list().items
        assert (event.action, event.actor, event.request_id) == ("executed", "alice", None)

    async def test_the_copilot_always_needs_a_grant(
        self, core: CoreClient, incidents: Any, book: ApprovalBook
    ) -> None:
        with pytest.raises(ApprovalRequired, match="Copilot's actions need approval"):
            await core.incidents.create(DATA, actor=COPILOT)
        assert incidents.created == []
        request = book.request(
            "create_incident", ARGS, requester=COPILOT, evidence=[], risk="", environment=None
        )
        book.approve(request.id, approver=ALICE.model_copy(update={"role": Role.APPROVER}))
        grant = book.grant_id_for(request.id, COPILOT).id
        await core.incidents.create(DATA, actor=COPILOT, grant=grant)
        assert incidents.created == [(DATA, grant)]


class TestTwoPerson:
    @pytest.fixture
    def policy(self) -> Policy:
        return Policy(rules=[PolicyRule(tool="create_incident", two_person=True)])

    async def test_the_requester_cannot_approve_and_run_it(
        self, core: CoreClient, book: ApprovalBook
    ) -> None:
        request = book.request("create_incident", ARGS, requester=BOB, evidence=[], risk="", environment=None)
        with pytest.raises(Forbidden, match="needs two people"):
            book.approve(request.id, approver=BOB)
        book.approve(request.id, approver=Actor(user="carol", role=Role.ADMIN))
        incident = await core.incidents.create(DATA, actor=BOB, grant=book.grant_id_for(request.id, BOB).id)
        assert incident.id == "INC-1"


async def test_from_settings_migrates_the_database(settings: Settings, clock: FixedClock) -> None:
    gate = MutationGate.from_settings(settings, clock=clock)
    with pytest.raises(ApprovalRequired):
        await gate.run("create_incident", ARGS, actor=ALICE, grant=None, environment=None, action=_never)
    assert gate.audit.list(action="refused").items[0].tool == "create_incident"
    gate.approvals.database.dispose()
