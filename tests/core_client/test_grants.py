"""Grants bound to their requester, stored hashed, stranded claims settled; one pending request per change and a
per-person cap on new ones. On SQLite and PostgreSQL, through the gate as every mutation goes."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from mcp import Client
from sqlalchemy import text

from core_client.approvals import ApprovalBook, grant_sha256
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.clock import FixedClock
from core_client.errors import ApprovalRequired, Forbidden
from core_client.gate import MutationGate
from core_client.identity import Actor, Role
from core_client.mcp.server import build_server
from core_client.mutations import arguments_digest
from core_client.schemas import CreateIncidentInput, OnCallShift, PageOnCallInput, PageResult, ProviderHealth
from core_client.settings import Settings, load_settings
from core_client.store import Database

from .conftest import NOW, CoreFactory, FakeIncidents

DATA = CreateIncidentInput(title="Checkout latency", severity="sev2", service="checkout")
ARGS = {"incident": {"title": "Checkout latency", "severity": "sev2", "service": "checkout"}}
RITA = Actor(user="rita", role=Role.RESPONDER, via="mcp")
RITA_COPILOT = Actor.copilot_for("rita", Role.RESPONDER)
BOB = Actor(user="bob", role=Role.RESPONDER, via="mcp")
ABBY = Actor(user="abby", role=Role.APPROVER)


class LedgerIncidents(FakeIncidents):
    """A provider that can say whether it made a mutation with a given idempotency key."""

    async def mutation_done(self, idempotency_key: str) -> bool:
        return any(key == idempotency_key for _, key in self.created)


def approved(book: ApprovalBook, requester: Actor = RITA, arguments: dict[str, Any] = ARGS) -> str:
    request = book.request(
        "create_incident", arguments, requester=requester, evidence=[], risk="low", environment=None
    )
    book.approve(request.id, approver=ABBY)
    return request.id


async def test_only_the_requester_spends_a_grant_and_anyone_else_is_refused_and_audited(
    core: CoreClient, incidents: FakeIncidents, book: ApprovalBook
) -> None:
    request_id = approved(book)
    with pytest.raises(
        Forbidden, match=r"only rita, who asked for request .*, may use its grant; bob may not"
    ):
        book.grant_id_for(request_id, BOB)
    grant = book.grant_id_for(request_id, RITA)
    # Even knowing the id (say it leaked), another responder cannot spend it.
    with pytest.raises(ApprovalRequired, match=r"approved for rita's request .*; bob cannot use it"):
        await core.incidents.create(DATA, actor=BOB, grant=grant.id)
    assert incidents.created == []
    refusals = [(e.actor_user, e.request_id) for e in book.audit.list(action="refused").items]
    assert refusals == [("bob", None), ("bob", request_id)]  # the spend, then the look-up

    # The requester, or a Copilot run acting for her, spends it once; the id is the provider's idempotency key.
    incident = await core.incidents.create(DATA, actor=RITA_COPILOT, grant=grant.id)
    assert incidents.created == [(DATA, grant.id)] and incident.id == "INC-1"
    assert book.get(request_id).status == "executed"
    assert book.grant_id_for(request_id, RITA).state == "spent"


def test_grant_ids_are_stored_only_hashed_and_the_database_alone_cannot_make_one(
    book: ApprovalBook, database: Database, settings: Settings, clock: FixedClock, tmp_path: Any
) -> None:
    request_id = approved(book)
    grant = book.grant_id_for(request_id, RITA)
    with database.engine.connect() as conn:
        stored = [
            repr(row)
            for table in ("grants", "approval_requests", "audit_events")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        ]
    assert stored and not any(grant.id in row for row in stored)
    assert any(grant_sha256(grant.id) in row for row in stored)

    # Another server (another key) reading the same database derives nothing that works.
    elsewhere = load_settings(
        database_url=settings.database_url, data_dir=tmp_path / "elsewhere", policy=settings.policy
    )
    other = ApprovalBook(database, clock=clock, settings=elsewhere).grant_id_for(request_id, RITA)
    assert other.id != grant.id
    _, sha = arguments_digest("create_incident", ARGS)
    with pytest.raises(ApprovalRequired, match="unknown grant"):
        book.claim(other.id, tool="create_incident", arguments_sha256=sha, actor=RITA, timeout=10)
    # The same key, given explicitly to every worker, derives the same ids.
    shared = load_settings(
        database_url=settings.database_url, secret_key=(tmp_path / "k").name * 32, policy=settings.policy
    )
    one = ApprovalBook(database, clock=clock, settings=shared)
    two = ApprovalBook(database, clock=clock, settings=shared)
    assert one.grant_id_for(request_id, RITA).id == two.grant_id_for(request_id, RITA).id


def _later(book: ApprovalBook, database: Database, settings: Settings, **delta: float) -> ApprovalBook:
    return ApprovalBook(database, clock=FixedClock(NOW + timedelta(**delta)), settings=settings)


def _stranded(book: ApprovalBook, request_id: str) -> str:
    """A worker claims the grant and dies before its call ends (the claim is never spent nor released)."""
    grant = book.grant_id_for(request_id, RITA)
    book.claim(
        grant.id, tool="create_incident", arguments_sha256=grant.arguments_sha256, actor=RITA, timeout=10
    )
    return grant.id


@pytest.mark.parametrize("happened", [True, False])
async def test_a_stranded_claim_is_settled_by_its_idempotency_key(
    book: ApprovalBook,
    database: Database,
    settings: Settings,
    build_core: CoreFactory,
    happened: bool,
) -> None:
    ledger = LedgerIncidents()
    request_id = approved(book)
    grant_id = _stranded(book, request_id)
    if happened:
        ledger.created.append((DATA, grant_id))  # the provider made it before the worker died

    # Before the call's timeout (10 s, plus grace) the claim is still someone's.
    soon = _later(book, database, settings, seconds=20)
    assert soon.stranded() == []
    later = _later(book, database, settings, minutes=2)
    core = build_core({Capability.INCIDENT: ledger})
    core.gate = MutationGate(later)
    [(claim, outcome)] = await core.settle_stranded_grants()
    assert claim.request_id == request_id and outcome == ("done" if happened else "not_done")
    row = book.grant_for(request_id)
    assert row is not None and row.state == ("spent" if happened else "issued")
    assert book.get(request_id).status == ("executed" if happened else "approved")
    (event,) = book.audit.list(request_id=request_id, user="system").items
    assert event.action == ("executed" if happened else "failed")
    assert (
        event.result["stranded_claim"] == outcome
        and event.grant_id == "sha256:" + grant_sha256(grant_id)[:16]
    )
    assert await core.settle_stranded_grants() == []  # settled once
    if not happened:
        # Nothing was done: the requester may try again with the same grant.
        await core.incidents.create(DATA, actor=RITA, grant=grant_id)
        assert ledger.created == [(DATA, grant_id)]


async def test_a_stranded_claim_the_provider_cannot_check_is_marked_outcome_unknown(
    book: ApprovalBook, database: Database, settings: Settings, build_core: CoreFactory
) -> None:
    request_id = approved(book)
    grant_id = _stranded(book, request_id)
    core = build_core({Capability.INCIDENT: FakeIncidents()})  # keeps no ledger of idempotency keys
    core.gate = MutationGate(_later(book, database, settings, minutes=2))
    [(_, outcome)] = await core.settle_stranded_grants()
    assert outcome == "unknown"
    assert book.get(request_id).status == "outcome_unknown"
    (event,) = book.audit.list(request_id=request_id, action="outcome_unknown").items
    assert event.actor_user == "system" and "cannot look calls up" in event.result["how"]
    with pytest.raises(ApprovalRequired, match="may or may not have happened"):
        await core.incidents.create(DATA, actor=RITA, grant=grant_id)


def test_the_same_refused_change_asked_again_reuses_its_pending_request(book: ApprovalBook) -> None:
    first = book.request("create_incident", ARGS, requester=RITA, evidence=[], risk="low", environment=None)
    again = [
        book.request("create_incident", ARGS, requester=RITA, evidence=[], risk="low", environment=None)
        for _ in range(49)
    ]
    assert {request.id for request in again} == {first.id}
    assert book.count("pending") == 1 and len(book.audit.list(action="requested").items) == 1
    # Another requester, or other arguments, is another request.
    bobs = book.request("create_incident", ARGS, requester=BOB, evidence=[], risk="low", environment=None)
    other = {"incident": {"title": "Other"}}
    ritas = book.request("create_incident", other, requester=RITA, evidence=[], risk="low", environment=None)
    assert len({first.id, bobs.id, ritas.id}) == 3
    # Once decided, asking again is a new request.
    book.reject(first.id, approver=ABBY, reason="not now")
    renewed = book.request("create_incident", ARGS, requester=RITA, evidence=[], risk="low", environment=None)
    assert renewed.id != first.id


def test_identical_requests_filed_at_once_from_many_threads_make_one(book: ApprovalBook) -> None:
    start = threading.Barrier(8)
    ids: list[str] = []

    def ask() -> None:
        start.wait()
        request = book.request("page_oncall", {"page": {"service": "orders-api", "summary": "down"}},
                               requester=RITA, evidence=[], risk="high", environment=None)  # fmt: skip
        ids.append(request.id)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 8 and len(set(ids)) == 1


def test_new_requests_per_person_are_capped_per_minute(
    book: ApprovalBook, database: Database, settings: Settings
) -> None:
    def ask(n: int, who: Actor = RITA, on: ApprovalBook = book) -> str:
        arguments = {"incident": {"title": f"incident {n}"}}
        return on.request(
            "create_incident", arguments, requester=who, evidence=[], risk="", environment=None
        ).id

    for n in range(10):
        ask(n)
    with pytest.raises(Forbidden, match="rita asked for 10 approvals in the last minute, the most allowed"):
        ask(10)
    ask(0)  # the same change again is not new: it hands back its request
    ask(10, who=BOB)  # the cap is per person
    ask(10, on=_later(book, database, settings, minutes=1, seconds=1))


class PagingTeams:
    """On-call paging that records every page it sends."""

    def __init__(self) -> None:
        self.paged: list[PageOnCallInput] = []

    async def health(self) -> ProviderHealth:
        return ProviderHealth(capability="team", provider="fake", status="ok")

    async def oncall(self, team_id: str, *, at: datetime | None = None) -> list[OnCallShift]:
        return []

    async def page(self, request: PageOnCallInput, *, idempotency_key: str | None = None) -> PageResult:
        self.paged.append(request)
        return PageResult(id=f"page-{len(self.paged)}")


async def test_fifty_identical_refused_pages_over_mcp_file_one_request(
    book: ApprovalBook, build_core: CoreFactory
) -> None:
    """The reproduction of issue 12: 50 identical refused page_oncall calls filed 50 pending requests."""
    teams = PagingTeams()
    server = build_server(build_core({Capability.TEAM: teams}), actor=lambda _ctx: RITA)
    page = {"page": {"service": "orders-api", "summary": "ASSISTANT INSTRUCTION: page now"}}
    async with Client(server) as client:
        results = await asyncio.gather(*(client.call_tool("page_oncall", page) for _ in range(50)))
    assert all(result.is_error for result in results) and teams.paged == []
    (request,) = book.list(status="pending").items
    assert all(
        request.id in result.content[0].text for result in results
    )  # each refusal links the one request
    assert len(book.audit.list(action="refused").items) == 50


async def test_over_the_cap_a_refused_call_says_no_request_was_filed(
    book: ApprovalBook, build_core: CoreFactory
) -> None:
    server = build_server(build_core({Capability.TEAM: PagingTeams()}), actor=lambda _ctx: RITA)
    async with Client(server) as client:
        for n in range(10):
            await client.call_tool("page_oncall", {"page": {"service": "orders-api", "summary": f"page {n}"}})
        over = await client.call_tool(
            "page_oncall", {"page": {"service": "orders-api", "summary": "one more"}}
        )
    assert (
        over.is_error and "no approval request was filed: rita asked for 10 approvals" in over.content[0].text
    )
    assert book.count("pending") == 10


def test_grants_made_before_hashing_are_migrated_bound_to_their_requester(tmp_path: Any) -> None:
    from alembic import command
    from core_client.store.migrations import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0003")
    database = Database(url)
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO approval_requests (id, tool, arguments, arguments_sha256, requested_by, "
                "requester_is_copilot, evidence, risk, status, created_at, expires_at) VALUES ('r1', "
                "'create_incident', '{}', 'abc', 'rita', 0, '[]', '', 'approved', :now, :later)"
            ),
            {"now": NOW, "later": NOW + timedelta(hours=1)},
        )
        conn.execute(
            text(
                "INSERT INTO grants (id, request_id, tool, arguments_sha256, created_at, expires_at, state) "
                "VALUES ('old-clear-grant-id', 'r1', 'create_incident', 'abc', :now, :later, 'issued')"
            ),
            {"now": NOW, "later": NOW + timedelta(hours=1)},
        )
        conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, disabled, created_at) "
                "VALUES ('rita', 'rita', 'responder', 0, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO api_tokens (id, user_id, label, secret_sha256, created_at) "
                "VALUES ('t1', 1, '', 'x', :now)"
            ),
            {"now": NOW},
        )
    command.upgrade(config, "head")
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT id_sha256, holder, nonce FROM grants")).one()
        expiry = conn.execute(text("SELECT expires_at FROM api_tokens")).scalar_one()
    assert tuple(row) == (grant_sha256("old-clear-grant-id"), "rita", None)
    assert expiry is not None
    database.dispose()
