"""Approval requests, decisions and grants, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from core_client.approvals import ApprovalBook, grant_sha256
from core_client.clock import FixedClock
from core_client.errors import ApprovalRequired, BadQuery, Forbidden, NotFound
from core_client.identity import Actor, Role
from core_client.mutations import arguments_digest
from core_client.policy import Policy, PolicyRule
from core_client.settings import Settings
from core_client.store import Database

ARGS = {"incident": {"title": "Checkout latency", "severity": "sev2"}}
ALICE = Actor(user="alice", role=Role.RESPONDER)
ALICE_COPILOT = Actor.copilot_for("alice", Role.RESPONDER)
BOB = Actor(user="bob", role=Role.APPROVER)
VIVIAN = Actor(user="vivian", role=Role.VIEWER)


def file_request(book: ApprovalBook, requester: Actor = ALICE_COPILOT, run_id: str | None = None) -> str:
    """File the usual request, from its own Copilot run unless ``run_id`` names one."""
    request = book.request(
        "create_incident",
        ARGS,
        requester=requester,
        evidence=[{"id": "ev1", "kind": "log"}],
        risk="opens a sev2 incident",
        environment="prod",
        run_id=run_id or f"run-{uuid.uuid4().hex[:8]}",
    )
    return request.id


def test_request_records_canonical_arguments_and_hash(book: ApprovalBook) -> None:
    request = book.get(file_request(book))
    canonical, sha = arguments_digest("create_incident", ARGS)
    assert (request.arguments, request.arguments_sha256) == (canonical, sha)
    assert request.status == "pending"
    assert request.requested_by == "alice" and request.requester_is_copilot
    assert request.evidence == [{"id": "ev1", "kind": "log"}]
    assert request.expires_at - request.created_at == timedelta(minutes=60)
    assert book.approval_url(request.id) == f"http://localhost:3000/approvals/{request.id}"
    (event,) = book.audit.list(request_id=request.id).items
    assert (event.action, event.actor) == ("requested", "copilot for alice")


def test_a_run_asks_once_per_change_while_its_request_waits(
    book: ApprovalBook, database: Database, settings: Settings, clock: FixedClock
) -> None:
    first = file_request(book, run_id="run-1")
    assert file_request(book, run_id="run-1") == first, "filed again by a resumed run: the same request"
    assert file_request(book, run_id="run-2") != first, "another run asks for itself"
    assert len(book.audit.list(action="requested").items) == 2

    book.reject(first, approver=BOB, reason="not now")
    again = file_request(book, run_id="run-1")
    assert again != first, "after a decision, asking again is a new request"
    later = ApprovalBook(database, clock=FixedClock(clock.now() + timedelta(hours=2)), settings=settings)
    assert file_request(later, run_id="run-1") != again, "an expired request is never handed back"


def test_approver_approves_and_a_grant_is_issued(book: ApprovalBook) -> None:
    request_id = file_request(book)
    grant = book.approve(request_id, approver=BOB, reason="looks right")
    assert grant.tool == "create_incident" and grant.state == "issued" and grant.holder == "alice"
    assert grant.arguments_sha256 == book.get(request_id).arguments_sha256
    found = book.grant_for(request_id)
    assert found is not None and found.id_sha256 == grant.id_sha256
    issued = book.grant_id_for(request_id, ALICE_COPILOT)
    assert len(issued.id) >= 40 and grant_sha256(issued.id) == grant.id_sha256
    decided = book.get(request_id)
    assert (decided.status, decided.decided_by, decided.decision_reason) == ("approved", "bob", "looks right")
    assert [e.action for e in book.audit.list(request_id=request_id).items] == ["approved", "requested"]


@pytest.mark.parametrize(
    ("approver", "message"),
    [
        (ALICE, "may not approve"),
        (VIVIAN, "viewer"),
        (Actor.copilot_for("bob", Role.APPROVER), "Copilot cannot"),
    ],
)
def test_who_may_not_approve(book: ApprovalBook, approver: Actor, message: str) -> None:
    request_id = file_request(book)
    with pytest.raises(Forbidden, match=message):
        book.approve(request_id, approver=approver)
    assert book.get(request_id).status == "pending"


def test_unknown_request_is_not_found(book: ApprovalBook) -> None:
    with pytest.raises(NotFound, match="no approval request"):
        book.approve("nope", approver=BOB)


def test_reject_needs_a_reason(book: ApprovalBook) -> None:
    request_id = file_request(book)
    with pytest.raises(BadQuery, match="needs a reason"):
        book.reject(request_id, approver=BOB, reason="  ")
    rejected = book.reject(request_id, approver=BOB, reason="wrong service")
    assert (rejected.status, rejected.decision_reason) == ("rejected", "wrong service")
    with pytest.raises(Forbidden, match="is rejected"):
        book.approve(request_id, approver=BOB)


def test_expired_request_cannot_be_approved(
    book: ApprovalBook, database: Database, settings: Settings, clock: FixedClock
) -> None:
    request_id = file_request(book)
    later = ApprovalBook(database, clock=FixedClock(clock.now() + timedelta(hours=2)), settings=settings)
    with pytest.raises(Forbidden, match="is expired"):
        later.approve(request_id, approver=BOB)
    assert book.get(request_id).status == "expired"
    assert book.audit.list(action="expired").items[0].actor == "system"


def test_expire_due_and_list_by_status(
    book: ApprovalBook, database: Database, settings: Settings, clock: FixedClock
) -> None:
    old = file_request(book)
    later = ApprovalBook(database, clock=FixedClock(clock.now() + timedelta(minutes=90)), settings=settings)
    fresh = file_request(later)
    assert [r.id for r in later.expire_due()] == [old]
    assert [r.id for r in later.list("pending").items] == [fresh]
    assert [r.id for r in later.list("expired").items] == [old]
    assert [r.id for r in later.list().items] == [fresh, old]
    assert (later.count("pending"), later.count("expired"), later.count("approved")) == (1, 1, 0)


def test_a_withdrawn_request_is_final_audited_and_cannot_be_decided(
    book: ApprovalBook, database: Database, settings: Settings, clock: FixedClock
) -> None:
    request_id = file_request(book)
    with pytest.raises(BadQuery, match="needs a reason"):
        book.withdraw(request_id, by=ALICE, reason=" ")
    withdrawn = book.withdraw(request_id, by=ALICE, reason="run run-1 was cancelled by alice")
    assert (withdrawn.status, withdrawn.decided_by, withdrawn.decision_reason) == (
        "withdrawn",
        "alice",
        "run run-1 was cancelled by alice",
    )
    assert withdrawn.decided_at == clock.now()
    assert book.grant_for(request_id) is None
    event = book.audit.list(request_id=request_id).items[0]
    assert (event.action, event.actor, event.result) == (
        "withdrawn",
        "alice",
        {"reason": "run run-1 was cancelled by alice"},
    )
    refusal = f"approval request {request_id} was withdrawn by alice \\(run run-1 was cancelled by alice\\)"
    with pytest.raises(Forbidden, match=refusal):
        book.approve(request_id, approver=BOB)
    with pytest.raises(Forbidden, match="was withdrawn by alice"):
        book.reject(request_id, approver=BOB, reason="too late")
    with pytest.raises(Forbidden, match="is withdrawn; only a pending request can be withdrawn"):
        book.withdraw(request_id, by=BOB, reason="again")
    later = ApprovalBook(database, clock=FixedClock(clock.now() + timedelta(hours=2)), settings=settings)
    assert later.expire_due() == []
    assert [r.id for r in later.list("withdrawn").items] == [request_id]
    assert [r.id for r in later.list("pending").items] == []


@pytest.mark.parametrize(
    ("by", "allowed"),
    [
        (ALICE, True),
        (ALICE_COPILOT, True),
        (BOB, True),
        (Actor(user="ada", role=Role.ADMIN), True),
        (Actor(user="carol", role=Role.RESPONDER), False),
        (VIVIAN, False),
    ],
)
def test_who_may_withdraw_a_request(book: ApprovalBook, by: Actor, allowed: bool) -> None:
    request_id = file_request(book)
    if allowed:
        assert book.withdraw(request_id, by=by, reason="not needed").status == "withdrawn"
    else:
        with pytest.raises(
            Forbidden, match=f"{by.user} \\({by.role.value}\\) may not withdraw alice's request"
        ):
            book.withdraw(request_id, by=by, reason="not needed")
        assert book.get(request_id).status == "pending"


def test_a_decided_request_cannot_be_withdrawn(book: ApprovalBook) -> None:
    request_id = file_request(book)
    book.approve(request_id, approver=BOB)
    with pytest.raises(Forbidden, match="is approved; only a pending request can be withdrawn"):
        book.withdraw(request_id, by=ALICE, reason="changed my mind")
    assert book.get(request_id).status == "approved"


def test_list_pages_with_a_cursor(book: ApprovalBook) -> None:
    ids = {file_request(book) for _ in range(5)}
    first = book.list(limit=2)
    second = book.list(limit=2, cursor=first.next_cursor)
    third = book.list(limit=2, cursor=second.next_cursor)
    seen = [r.id for page in (first, second, third) for r in page.items]
    assert set(seen) == ids and len(seen) == 5
    assert third.next_cursor is None


class TestTwoPerson:
    @pytest.fixture
    def policy(self) -> Policy:
        return Policy(rules=[PolicyRule(tool="create_incident", two_person=True)])

    def test_requester_cannot_approve_their_own_request(self, book: ApprovalBook) -> None:
        request_id = file_request(book, requester=BOB)
        with pytest.raises(Forbidden, match="needs two people"):
            book.approve(request_id, approver=BOB)
        carol = Actor(user="carol", role=Role.ADMIN)
        assert book.approve(request_id, approver=carol).state == "issued"

    def test_self_approval_is_refused(self, book: ApprovalBook) -> None:
        with pytest.raises(Forbidden, match="second person"):
            book.self_approve("create_incident", ARGS, actor=BOB, environment="prod")


class TestSelfApproval:
    def test_an_approver_acting_in_person_approves_their_own_act(self, book: ApprovalBook) -> None:
        grant = book.self_approve("create_incident", ARGS, actor=BOB, environment="prod")
        request = book.get(grant.request_id)
        assert (request.status, request.requested_by, request.decided_by) == ("approved", "bob", "bob")

    @pytest.mark.parametrize(("actor", "message"), [(ALICE, "without approval"), (VIVIAN, "viewer")])
    def test_roles_that_need_an_approver(self, book: ApprovalBook, actor: Actor, message: str) -> None:
        with pytest.raises(Forbidden, match=message):
            book.self_approve("create_incident", ARGS, actor=actor, environment="prod")

    def test_never_for_the_copilot(self, book: ApprovalBook) -> None:
        with pytest.raises(Forbidden, match="always wait for a person"):
            book.self_approve(
                "create_incident", ARGS, actor=Actor.copilot_for("bob", Role.ADMIN), environment=None
            )


class TestAutoPolicy:
    @pytest.fixture
    def policy(self) -> Policy:
        return Policy(rules=[PolicyRule(tool="create_incident", environment="staging", mode="auto")])

    def test_a_responder_may_self_approve_an_auto_tool(self, book: ApprovalBook) -> None:
        grant = book.self_approve("create_incident", ARGS, actor=ALICE, environment="staging")
        assert grant.state == "issued"


def test_claim_reports_why_a_grant_cannot_be_used(book: ApprovalBook) -> None:
    request_id = file_request(book)
    book.approve(request_id, approver=BOB)
    grant = book.grant_id_for(request_id, ALICE_COPILOT)
    _, sha = arguments_digest("create_incident", ARGS)

    def claim(
        grant_id: str,
        tool: str = "create_incident",
        arguments_sha256: str = sha,
        actor: Actor = ALICE_COPILOT,
    ):
        return book.claim(grant_id, tool=tool, arguments_sha256=arguments_sha256, actor=actor, timeout=10)

    with pytest.raises(ApprovalRequired, match="unknown grant"):
        claim("forged")
    with pytest.raises(ApprovalRequired, match="is for create_incident, not create_ticket"):
        claim(grant.id, tool="create_ticket")
    with pytest.raises(ApprovalRequired, match="arguments differ") as refused:
        claim(grant.id, arguments_sha256="0" * 64)
    assert refused.value.request_id == grant.request_id
    assert refused.value.approval_url == book.approval_url(grant.request_id)
    with pytest.raises(ApprovalRequired, match=r"approved for alice's request .*; bob cannot use it"):
        claim(grant.id, actor=BOB)
    assert claim(grant.id).state == "claimed"
    with pytest.raises(ApprovalRequired, match="in use by another call"):
        claim(grant.id)
