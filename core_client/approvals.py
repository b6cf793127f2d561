"""Approval requests and the grants they issue.

A request binds one tool to the sha256 of its canonical arguments and to who asked. Approving it issues a grant:
an id bound to the same tool and hash, to the requester (its holder: that person, or a Copilot run acting for
them), with an expiry. The grant id is stored only as its sha256; it is an HMAC of a stored nonce under the
server's key (core_client/server_key.py), so its holder can look it up again (:meth:`ApprovalBook.grant_id_for`)
while the database alone can never produce it. The grant is claimed with ONE conditional update (so two concurrent
callers cannot both own it, and nobody but its holder can), spent only when the mutation succeeds, and released
for another try when it fails. A claim whose call outlived its timeout (its worker died) is stranded: the gate
settles it by asking the provider about its idempotency key, else marks its outcome unknown for a person.

A pending request ends approved, rejected, expired (nobody decided in time) or withdrawn (whoever asked no longer
needs it, say because its Copilot run was cancelled); only an approved one is ever executed. Asking again for the
same change while a request waits returns that request, and each person files at most
``approval_requests_per_minute`` new requests a minute.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict, Unpack, cast

from pydantic import BaseModel
from sqlalchemy import CursorResult, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col, select

from core_client.audit import AuditTrail
from core_client.clock import Clock
from core_client.errors import ApprovalRequired, BadQuery, Forbidden, NotFound
from core_client.identity import Actor, Role
from core_client.links import approval_link
from core_client.mutations import arguments_digest
from core_client.policy import Decision, Policy, ToolKind
from core_client.schemas import Page, decode_cursor, encode_cursor, page_size
from core_client.server_key import ServerKey
from core_client.settings import Settings
from core_client.store import ApprovalRequest, AuditAction, Database, Grant, GrantState, RequestStatus
from core_client.store.paging import newest_first

SYSTEM = Actor(user="system", role=Role.ADMIN, via="system")
# How long past its call's own timeout a claimed grant may stay claimed before it counts as stranded.
CLAIM_GRACE = timedelta(seconds=30)
# What the grant ids are derived for (a ServerKey derivation is never reused for another purpose).
GRANT_PURPOSE = "opspilot grant id v1"
# Where an MCP caller passes a grant: the request's ``_meta`` key.
GRANT_META_KEY = "opspilot/grant"

Settlement = Literal["done", "not_done", "unknown"]


class IssuedGrant(BaseModel):
    """A grant as its holder sees it, with its id: the bearer permission, and the idempotency key the provider
    is handed. Never shown to anyone but its holder (the audit trail keeps only a fingerprint)."""

    id: str
    request_id: str
    tool: str
    arguments_sha256: str
    holder: str
    expires_at: datetime
    state: GrantState


class GrantView(BaseModel):
    """The grant as its requester picks it up: pass ``id`` as ``_meta["opspilot/grant"]`` with the same call."""

    id: str
    state: GrantState
    expires_at: datetime


class ApprovalStatus(BaseModel):
    """Where one approval request stands, as anyone may read it; ``grant`` only for its requester, and ``next``
    says what to do now (call again with the grant, wait, or ask anew)."""

    request_id: str
    tool: str
    status: str
    requested_by: str
    requested_by_copilot: bool
    arguments_sha256: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    approval_url: str
    grant: GrantView | None = None
    next: str


class Asking(TypedDict):
    """Who asks for a change and on what grounds (the keywords of :meth:`ApprovalBook.file`)."""

    requester: Actor
    evidence: list[dict[str, Any]]
    risk: str
    environment: str | None
    run_id: NotRequired[str | None]
    kind: NotRequired[ToolKind]


class Filed(BaseModel):
    """A request as filing left it: ``new`` is False when the same change already waited (that request)."""

    request: ApprovalRequest
    new: bool


class StrandedClaim(BaseModel):
    """A claimed grant whose call should have ended by now: its worker died mid-mutation."""

    id_sha256: str
    request_id: str
    tool: str
    holder: str
    claimed_until: datetime
    # The grant id (the idempotency key the provider was handed); None for grants made before ids were derived.
    idempotency_key: str | None


def grant_sha256(grant_id: str) -> str:
    """What the database keeps of a grant id."""
    return hashlib.sha256(grant_id.encode()).hexdigest()


class ApprovalBook:
    """Where approval requests are filed and decided, and grants issued, claimed, spent and released."""

    def __init__(
        self, database: Database, *, clock: Clock, settings: Settings, audit: AuditTrail | None = None
    ) -> None:
        self.database = database
        self.clock = clock
        self.policy: Policy = settings.policy
        self.audit = audit or AuditTrail(database, clock=clock)
        self._ttl = timedelta(minutes=settings.approval_ttl_minutes)
        self._per_minute = settings.approval_requests_per_minute
        self._console_url = settings.console_url.rstrip("/")
        self._key = ServerKey.from_settings(settings)

    def approval_url(self, request_id: str | None = None) -> str:
        """The console page for one request, or the approvals list."""
        if request_id is None:
            return f"{self._console_url}/approvals"
        return approval_link(request_id).absolute(self._console_url)

    def request(
        self, tool: str, arguments: Mapping[str, Any] | BaseModel, **asked: Unpack[Asking]
    ) -> ApprovalRequest:
        """File a request for a person to approve ``tool`` with exactly these ``arguments``.

        Asking again for the same change while its request waits returns that request: the same tool, arguments
        and requester (a Copilot run asks once per change of its own, so a worker that died between filing and
        waiting does not ask twice; a person's repeated refused call files one request, not fifty). A new request
        beyond ``approval_requests_per_minute`` of the same person in the last minute is ``Forbidden``.
        """
        return self.file(tool, arguments, **asked).request

    def file(
        self,
        tool: str,
        arguments: Mapping[str, Any] | BaseModel,
        *,
        requester: Actor,
        evidence: list[dict[str, Any]],
        risk: str,
        environment: str | None,
        run_id: str | None = None,
        kind: ToolKind = "destructive",
    ) -> Filed:
        """:meth:`request`, saying whether the request is new (approvers are told of new ones only, once)."""
        decision = self.policy.decide(tool, kind=kind, environment=environment)
        _refuse_unusable(decision, requester)
        with self.database.transaction() as session:
            request, new = self._file(
                session, tool, arguments, requester, evidence, risk, decision.environment, run_id
            )
            return Filed(request=request, new=new)

    def approve(self, request_id: str, *, approver: Actor, reason: str | None = None) -> Grant:
        """Approve a pending request and issue its grant; ``Forbidden`` when policy does not let ``approver``."""
        pending = self._pending(request_id, approver, verb="approve")
        decision = self.policy.decide(pending.tool, kind="destructive", environment=pending.environment)
        if decision.mode == "denied":
            raise Forbidden(f"policy denies {pending.tool} in {decision.environment}", source=pending.tool)
        _check_approver(decision, approver, requested_by=pending.requested_by)
        with self.database.transaction() as session:
            self._decide(session, pending, "approved", approver, reason)
            return self._issue(session, pending)[0]

    def reject(self, request_id: str, *, approver: Actor, reason: str) -> ApprovalRequest:
        """Reject a pending request; the reason is required and is told to the requester (and the planner)."""
        if not reason or not reason.strip():
            raise BadQuery("a rejection needs a reason", source="approvals")
        pending = self._pending(request_id, approver, verb="reject")
        decision = self.policy.decide(pending.tool, kind="destructive", environment=pending.environment)
        if not decision.may_approve(approver.role):
            raise Forbidden(
                f"{approver.user} ({approver.role.value}) may not decide on {pending.tool}; "
                f"approvers: {_roles(decision)}",
                source=pending.tool,
            )
        with self.database.transaction() as session:
            self._decide(session, pending, "rejected", approver, reason.strip())
        return self.get(request_id)

    def withdraw(self, request_id: str, *, by: Actor, reason: str) -> ApprovalRequest:
        """Take back a pending request nobody needs any more (its run was cancelled); audited, and final: it can
        no longer be approved or rejected. ``by`` is the requester, an approver or an admin; ``Forbidden`` for
        anyone else, and when the request is no longer pending."""
        if not reason or not reason.strip():
            raise BadQuery("a withdrawal needs a reason", source="approvals")
        found = self.get(request_id)
        if by.user != found.requested_by and by.role not in (Role.APPROVER, Role.ADMIN):
            raise Forbidden(
                f"{by.user} ({by.role.value}) may not withdraw {found.requested_by}'s request {request_id}; "
                "the requester, an approver or an admin may",
                source="approvals",
            )
        if found.status != "pending":
            raise Forbidden(
                f"approval request {request_id} is {found.status}; only a pending request can be withdrawn",
                source=found.tool,
            )
        with self.database.transaction() as session:
            self._decide(session, found, "withdrawn", by, reason.strip())
        return self.get(request_id)

    def self_approve(
        self,
        tool: str,
        arguments: Mapping[str, Any] | BaseModel,
        *,
        actor: Actor,
        environment: str | None,
        kind: ToolKind = "destructive",
    ) -> IssuedGrant:
        """A person's own act, where policy lets their role run ``tool``: request and grant recorded together;
        the grant (with its id) is theirs."""
        if actor.copilot:
            raise Forbidden("the Copilot's actions always wait for a person", source=tool)
        decision = self.policy.decide(tool, kind=kind, environment=environment)
        _refuse_unusable(decision, actor)
        if decision.mode == "requires_approval":
            if decision.two_person:
                raise Forbidden(
                    f"{tool} in {decision.environment} needs a second person to approve", source=tool
                )
            if not decision.may_approve(actor.role):
                raise Forbidden(
                    f"{actor.user} ({actor.role.value}) may not run {tool} in {decision.environment} "
                    f"without approval; approvers: {_roles(decision)}",
                    source=tool,
                )
        with self.database.transaction() as session:
            filed, _ = self._file(
                session, tool, arguments, actor, [], "", decision.environment, None, reuse=False
            )
            self._decide(session, filed, "approved", actor, "self-approved: policy lets this role run it")
            row, grant_id = self._issue(session, filed)
        return self._issued(row, grant_id)

    def get(self, request_id: str) -> ApprovalRequest:
        """One request by id; ``NotFound`` when there is none."""
        with self.database.transaction() as session:
            found = session.get(ApprovalRequest, request_id)
        if found is None:
            raise NotFound(f"no approval request {request_id!r}", source="approvals")
        return found

    def grant_for(self, request_id: str) -> Grant | None:
        """The grant row issued for an approved request, if any: its state and expiry, never its id."""
        with self.database.transaction() as session:
            return session.scalar(select(Grant).where(col(Grant.request_id) == request_id))

    def grant_id_for(self, request_id: str, requester: Actor) -> IssuedGrant:
        """The grant of an approved request, with its id, for its requester only (the person, or a Copilot run
        acting for them): how whoever asked picks up what was approved, from the console, the CLI, MCP or a run.

        ``NotFound`` when there is no such request, ``ApprovalRequired`` (naming the status) while it has no grant,
        and ``Forbidden`` (audited) for anyone but the requester.
        """
        request = self.get(request_id)
        if requester.user != request.requested_by:
            refused = Forbidden(
                f"only {request.requested_by}, who asked for request {request_id}, may use its grant; "
                f"{requester.user} may not",
                source=request.tool,
            )
            self.audit.record(
                "refused",
                actor=requester,
                tool=request.tool,
                arguments=json.loads(request.arguments),
                result=refused.to_dict(),
                request_id=request_id,
                environment=request.environment,
            )
            raise refused
        row = self.grant_for(request_id)
        if row is None:
            raise ApprovalRequired(
                f"approval request {request_id} is {request.status}: it has no grant",
                source=request.tool,
                request_id=request_id,
                approval_url=self.approval_url(request_id),
            )
        if row.nonce is None:
            raise ApprovalRequired(
                f"the grant of request {request_id} was issued before grant ids could be looked up again; "
                "ask for a new approval",
                source=request.tool,
                request_id=request_id,
            )
        return self._issued(row, self._grant_id(row.nonce))

    def status_for(self, request_id: str, viewer: Actor) -> ApprovalStatus:
        """Where request ``request_id`` stands, for ``viewer``: with its grant id when ``viewer`` asked for it and it
        was approved (how an MCP client or the CLI finishes an approved change), never for anyone else.
        ``NotFound`` when there is no such request."""
        found = self.get(request_id)
        if found.status == "pending" and found.expires_at <= self.clock.now():
            with self.database.transaction() as session:
                self._expire(session, found)
            found = self.get(request_id)
        url = self.approval_url(request_id)
        mine = viewer.user == found.requested_by
        grant: GrantView | None = None
        if mine and found.status == "approved":
            row = self.grant_for(request_id)
            if row is not None and row.nonce is not None:
                grant = GrantView(
                    id=self._grant_id(row.nonce), state=cast(GrantState, row.state), expires_at=row.expires_at
                )
        return ApprovalStatus(
            request_id=found.id,
            tool=found.tool,
            status=found.status,
            requested_by=found.requested_by,
            requested_by_copilot=found.requester_is_copilot,
            arguments_sha256=found.arguments_sha256,
            created_at=found.created_at,
            expires_at=found.expires_at,
            decided_by=found.decided_by,
            decided_at=found.decided_at,
            decision_reason=found.decision_reason,
            approval_url=url,
            grant=grant,
            next=_next_step(found, grant, mine=mine, url=url),
        )

    def list(
        self,
        status: RequestStatus | None = None,
        *,
        run_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[ApprovalRequest]:
        """Requests (of one Copilot run, when ``run_id`` is given), newest first, after expiring overdue ones."""
        self.expire_due()
        query = select(ApprovalRequest)
        if status:
            query = query.where(col(ApprovalRequest.status) == status)
        if run_id:
            query = query.where(col(ApprovalRequest.run_id) == run_id)
        after = None
        if cursor:
            position = decode_cursor(cursor, source="approvals")
            after = (datetime.fromisoformat(str(position["at"])), str(position["id"]))
        size = page_size(limit)
        query = newest_first(query, col(ApprovalRequest.created_at), col(ApprovalRequest.id), after=after)
        with self.database.transaction() as session:
            rows = list(session.scalars(query.limit(size + 1)))
        items = rows[:size]
        next_cursor = (
            encode_cursor({"at": items[-1].created_at.isoformat(), "id": items[-1].id})
            if len(rows) > size
            else None
        )
        return Page[ApprovalRequest](items=items, next_cursor=next_cursor)

    def count(self, status: RequestStatus) -> int:
        """How many requests have ``status`` (after expiring overdue ones), counted by the database."""
        self.expire_due()
        query = select(func.count()).select_from(ApprovalRequest).where(col(ApprovalRequest.status) == status)
        with self.database.transaction() as session:
            return int(session.scalar(query) or 0)

    def expire_due(self) -> builtins.list[ApprovalRequest]:
        """Mark every pending request past its expiry as expired (audited); returns them."""
        now = self.clock.now()
        with self.database.transaction() as session:
            due = list(
                session.scalars(
                    select(ApprovalRequest).where(
                        col(ApprovalRequest.status) == "pending", col(ApprovalRequest.expires_at) <= now
                    )
                )
            )
            expired = [request for request in due if self._expire(session, request)]
        return expired

    def claim(
        self, grant_id: str, *, tool: str, arguments_sha256: str, actor: Actor, timeout: float
    ) -> IssuedGrant:
        """Own the grant for one call by ``actor``, atomically; ``ApprovalRequired`` saying why when it cannot be
        used (unknown, spent, expired, in use, for other arguments or another tool, or someone else's).

        ``timeout`` is how long the call may take: past it (and a grace period) the claim counts as stranded.
        """
        now = self.clock.now()
        key = grant_sha256(grant_id)
        with self.database.transaction() as session:
            claimed = _rowcount(
                session.execute(
                    update(Grant)
                    .where(
                        col(Grant.id_sha256) == key,
                        col(Grant.state) == "issued",
                        col(Grant.tool) == tool,
                        col(Grant.arguments_sha256) == arguments_sha256,
                        col(Grant.expires_at) > now,
                        col(Grant.holder) == actor.user,
                    )
                    .values(
                        state="claimed",
                        claimed_at=now,
                        claimed_until=now + timedelta(seconds=timeout) + CLAIM_GRACE,
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            grant = session.get(Grant, key)
        if claimed == 1 and grant is not None:
            return self._issued(grant, grant_id)
        raise ApprovalRequired(
            _refusal(grant, tool=tool, arguments_sha256=arguments_sha256, actor=actor, now=now),
            source=tool,
            request_id=grant.request_id if grant else None,
            approval_url=self.approval_url(grant.request_id if grant else None),
        )

    def spend(
        self, grant: IssuedGrant, *, actor: Actor, arguments: dict[str, Any], result: dict[str, Any]
    ) -> None:
        """The mutation succeeded: the grant is spent, its request executed, and the execution audited."""
        now = self.clock.now()
        with self.database.transaction() as session:
            spent = _rowcount(
                session.execute(
                    update(Grant)
                    .where(col(Grant.id_sha256) == grant_sha256(grant.id), col(Grant.state) == "claimed")
                    .values(state="spent", spent_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
            if spent != 1:
                raise ApprovalRequired(
                    f"grant for {grant.tool} was not claimed by this call", source=grant.tool
                )
            request = session.get(ApprovalRequest, grant.request_id)
            session.execute(
                update(ApprovalRequest)
                .where(col(ApprovalRequest.id) == grant.request_id)
                .values(status="executed")
                .execution_options(synchronize_session=False)
            )
            self.audit.record(
                "executed",
                actor=actor,
                tool=grant.tool,
                arguments=arguments,
                result=result,
                request_id=grant.request_id,
                grant_id=grant.id,
                environment=request.environment if request else None,
                session=session,
            )

    def release(
        self, grant: IssuedGrant, *, actor: Actor, arguments: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """The mutation failed: the grant goes back to issued (usable again until it expires); audited."""
        with self.database.transaction() as session:
            session.execute(
                update(Grant)
                .where(col(Grant.id_sha256) == grant_sha256(grant.id), col(Grant.state) == "claimed")
                .values(state="issued", claimed_at=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            request = session.get(ApprovalRequest, grant.request_id)
            self.audit.record(
                "failed",
                actor=actor,
                tool=grant.tool,
                arguments=arguments,
                result=error,
                request_id=grant.request_id,
                grant_id=grant.id,
                environment=request.environment if request else None,
                session=session,
            )

    def stranded(self) -> builtins.list[StrandedClaim]:
        """Claims whose call should have ended by now (their worker died mid-mutation), oldest first."""
        now = self.clock.now()
        query = select(Grant).where(col(Grant.state) == "claimed", col(Grant.claimed_until) <= now)
        with self.database.transaction() as session:
            rows = list(session.scalars(query.order_by(col(Grant.claimed_until))))
        return [
            StrandedClaim(
                id_sha256=row.id_sha256,
                request_id=row.request_id,
                tool=row.tool,
                holder=row.holder,
                claimed_until=row.claimed_until or now,
                idempotency_key=self._grant_id(row.nonce) if row.nonce else None,
            )
            for row in rows
        ]

    def settle(self, claim: StrandedClaim, outcome: Settlement, *, how: str) -> bool:
        """Settle a stranded claim with what the provider said of its idempotency key (``how`` says so in the
        audit trail): ``done`` spends the grant and executes its request, ``not_done`` gives the grant back to
        its holder, ``unknown`` marks both "outcome unknown" for a person to check. Audited, as ``system``;
        ``False`` when the claim was settled meanwhile (by its own worker, or another sweep)."""
        now = self.clock.now()
        state, status, action = _SETTLEMENTS[outcome]
        changes: dict[str, Any] = {"state": state}
        if outcome == "done":
            changes["spent_at"] = now
        elif outcome == "not_done":
            changes.update(claimed_at=None, claimed_until=None)
        with self.database.transaction() as session:
            changed = _rowcount(
                session.execute(
                    update(Grant)
                    .where(col(Grant.id_sha256) == claim.id_sha256, col(Grant.state) == "claimed")
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                )
            )
            if changed != 1:
                return False
            request = session.get(ApprovalRequest, claim.request_id)
            if status is not None:
                session.execute(
                    update(ApprovalRequest)
                    .where(col(ApprovalRequest.id) == claim.request_id)
                    .values(status=status)
                    .execution_options(synchronize_session=False)
                )
            self.audit.record(
                action,
                actor=SYSTEM,
                tool=claim.tool,
                arguments=json.loads(request.arguments) if request else {},
                result={"stranded_claim": outcome, "how": how, "holder": claim.holder},
                request_id=claim.request_id,
                grant_id=claim.idempotency_key,
                environment=request.environment if request else None,
                session=session,
            )
        return True

    def _file(
        self,
        session: Session,
        tool: str,
        arguments: Mapping[str, Any] | BaseModel,
        requester: Actor,
        evidence: builtins.list[dict[str, Any]],
        risk: str,
        environment: str,
        run_id: str | None,
        *,
        reuse: bool = True,
    ) -> tuple[ApprovalRequest, bool]:
        """The request filed (and True), or the one already waiting for the same change (and False)."""
        canonical, sha = arguments_digest(tool, arguments)
        now = self.clock.now()
        key = _pending_key(tool, sha, requester, run_id) if reuse else None
        if key is not None:
            waiting = self._waiting(session, key, now)
            if waiting is not None:
                return waiting, False  # the same change asked for again (see request)
            self._check_rate(session, requester, now)
        filed = ApprovalRequest(
            id=secrets.token_hex(8),
            tool=tool,
            arguments=canonical,
            arguments_sha256=sha,
            requested_by=requester.user,
            requester_is_copilot=requester.copilot,
            run_id=run_id,
            evidence=evidence,
            risk=risk,
            environment=environment,
            status="pending",
            pending_key=key,
            created_at=now,
            expires_at=now + self._ttl,
        )
        try:
            # A savepoint: two identical requests filed at once meet the unique pending_key, and the second
            # hands back the first instead of failing.
            with session.begin_nested():
                session.add(filed)
                session.flush()
        except IntegrityError:
            waiting = self._waiting(session, key, now) if key is not None else None
            if waiting is None:
                raise
            return waiting, False
        self.audit.record(
            "requested",
            actor=requester,
            tool=tool,
            arguments=json.loads(canonical),
            result={"risk": risk, "evidence": len(evidence)} if risk or evidence else {},
            request_id=filed.id,
            environment=environment,
            session=session,
        )
        return filed, True

    def _waiting(self, session: Session, key: str, now: datetime) -> ApprovalRequest | None:
        """The pending request for this change, if one still waits (an overdue one is expired on the way)."""
        waiting = session.scalar(select(ApprovalRequest).where(col(ApprovalRequest.pending_key) == key))
        if waiting is None or waiting.expires_at > now:
            return waiting
        self._expire(session, waiting)
        return None

    def _check_rate(self, session: Session, requester: Actor, now: datetime) -> None:
        """``Forbidden`` when ``requester`` filed ``approval_requests_per_minute`` new requests in the last minute."""
        recent = session.scalar(
            select(func.count())
            .select_from(ApprovalRequest)
            .where(
                col(ApprovalRequest.requested_by) == requester.user,
                col(ApprovalRequest.created_at) > now - timedelta(minutes=1),
                col(ApprovalRequest.decided_by).is_distinct_from(requester.user),
            )
        )
        if int(recent or 0) >= self._per_minute:
            raise Forbidden(
                f"{requester.user} asked for {self._per_minute} approvals in the last minute, the most allowed: "
                "wait a minute, or ask an approver about the requests already waiting",
                source="approvals",
            )

    def _pending(self, request_id: str, decider: Actor, *, verb: str) -> ApprovalRequest:
        """The request, if it can still be decided by ``decider``; expires it on the way when overdue."""
        if decider.copilot:
            raise Forbidden(f"the Copilot cannot {verb} requests; a person must", source="approvals")
        if decider.role == Role.VIEWER:
            raise Forbidden(f"{decider.user} is a viewer and cannot {verb} requests", source="approvals")
        found = self.get(request_id)
        if found.status == "pending" and found.expires_at <= self.clock.now():
            with self.database.transaction() as session:
                self._expire(session, found)
            found = self.get(request_id)
        if found.status == "withdrawn":
            raise Forbidden(
                f"approval request {request_id} was withdrawn by {found.decided_by} ({found.decision_reason}); "
                "there is nothing left to decide",
                source=found.tool,
            )
        if found.status != "pending":
            raise Forbidden(
                f"approval request {request_id} is {found.status}; only pending requests can be decided",
                source=found.tool,
            )
        return found

    def _decide(
        self,
        session: Session,
        pending: ApprovalRequest,
        status: RequestStatus,
        decider: Actor,
        reason: str | None,
    ) -> None:
        now = self.clock.now()
        changed = _rowcount(
            session.execute(
                update(ApprovalRequest)
                .where(col(ApprovalRequest.id) == pending.id, col(ApprovalRequest.status) == "pending")
                .values(
                    status=status,
                    decided_by=decider.user,
                    decided_at=now,
                    decision_reason=reason,
                    pending_key=None,
                )
                .execution_options(synchronize_session=False)
            )
        )
        if changed != 1:
            raise Forbidden(
                f"approval request {pending.id} was decided by someone else meanwhile", source=pending.tool
            )
        self.audit.record(
            _AUDITED[status],
            actor=decider,
            tool=pending.tool,
            arguments=json.loads(pending.arguments),
            result={"reason": reason} if reason else {},
            request_id=pending.id,
            environment=pending.environment,
            session=session,
        )

    def _issue(self, session: Session, approved: ApprovalRequest) -> tuple[Grant, str]:
        """A grant for ``approved``, held by its requester: the stored row, and the id (stored only hashed)."""
        now = self.clock.now()
        nonce = secrets.token_urlsafe(24)
        grant_id = self._grant_id(nonce)
        grant = Grant(
            id_sha256=grant_sha256(grant_id),
            nonce=nonce,
            request_id=approved.id,
            holder=approved.requested_by,
            tool=approved.tool,
            arguments_sha256=approved.arguments_sha256,
            created_at=now,
            expires_at=now + self._ttl,
            state="issued",
        )
        session.add(grant)
        return grant, grant_id

    def _grant_id(self, nonce: str) -> str:
        return self._key.derive(GRANT_PURPOSE, nonce)

    @staticmethod
    def _issued(row: Grant, grant_id: str) -> IssuedGrant:
        return IssuedGrant(
            id=grant_id,
            request_id=row.request_id,
            tool=row.tool,
            arguments_sha256=row.arguments_sha256,
            holder=row.holder,
            expires_at=row.expires_at,
            state=cast(GrantState, row.state),
        )

    def _expire(self, session: Session, request: ApprovalRequest) -> bool:
        changed = _rowcount(
            session.execute(
                update(ApprovalRequest)
                .where(col(ApprovalRequest.id) == request.id, col(ApprovalRequest.status) == "pending")
                .values(status="expired", pending_key=None)
                .execution_options(synchronize_session=False)
            )
        )
        if changed == 1:
            self.audit.record(
                "expired",
                actor=SYSTEM,
                tool=request.tool,
                arguments=json.loads(request.arguments),
                request_id=request.id,
                environment=request.environment,
                session=session,
            )
        return changed == 1


# How each way a person ends a pending request is named in the audit trail.
_AUDITED: dict[RequestStatus, AuditAction] = {
    "approved": "approved",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
}


# What settling a stranded claim does: the grant's state, the request's status (None: unchanged), the audit action.
_SETTLEMENTS: dict[Settlement, tuple[GrantState, RequestStatus | None, AuditAction]] = {
    "done": ("spent", "executed", "executed"),
    "not_done": ("issued", None, "failed"),
    "unknown": ("unknown", "outcome_unknown", "outcome_unknown"),
}


def _next_step(request: ApprovalRequest, grant: GrantView | None, *, mine: bool, url: str) -> str:
    """What whoever reads ``request`` can do about it now, in words."""
    tool, who = request.tool, request.requested_by
    match request.status:
        case "pending":
            return (
                f"waits for an approver at {url} until {request.expires_at:%Y-%m-%d %H:%M UTC}; "
                "read it again once decided"
            )
        case "approved" if grant is not None and grant.state == "issued":
            return (
                f"approved: call {tool} again with exactly the same arguments and "
                f'_meta {{"{GRANT_META_KEY}": "{grant.id}"}}; the grant works once, until '
                f"{grant.expires_at:%Y-%m-%d %H:%M UTC}"
            )
        case "approved" if grant is not None:
            return f"approved; its grant is {grant.state}: check the request at {url}"
        case "approved" if not mine:
            return f"approved for {who}: only {who} may use its grant"
        case "approved":
            return f"approved, but its grant cannot be looked up again: ask for a new approval at {url}"
        case "rejected":
            return f"rejected by {request.decided_by}: {request.decision_reason or 'no reason given'}"
        case "executed":
            return f"carried out already: another {tool} needs a new approval"
        case "withdrawn":
            return f"withdrawn by {request.decided_by}: {request.decision_reason or 'no reason given'}"
        case "expired":
            return "expired before anyone decided: call again to ask anew"
        case _:
            return f"{request.status}: check it at {url}"


def _pending_key(tool: str, arguments_sha256: str, requester: Actor, run_id: str | None) -> str:
    """What makes two requests the same change asked twice: tool, arguments, requester (and their run)."""
    who = f"copilot:{requester.user}:{run_id or ''}" if requester.copilot else f"person:{requester.user}"
    return hashlib.sha256(f"{tool}\0{arguments_sha256}\0{who}".encode()).hexdigest()


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def _roles(decision: Decision) -> str:
    return ", ".join(role.value for role in decision.approver_roles) or "nobody"


def _refuse_unusable(decision: Decision, actor: Actor) -> None:
    if actor.role == Role.VIEWER:
        raise Forbidden(f"{actor.user} is a viewer: viewers cannot change anything", source=decision.tool)
    if decision.mode == "denied":
        raise Forbidden(f"policy denies {decision.tool} in {decision.environment}", source=decision.tool)


def _check_approver(decision: Decision, approver: Actor, *, requested_by: str) -> None:
    if not decision.may_approve(approver.role):
        raise Forbidden(
            f"{approver.user} ({approver.role.value}) may not approve {decision.tool} in "
            f"{decision.environment}; approvers: {_roles(decision)}",
            source=decision.tool,
        )
    if decision.two_person and approver.user == requested_by:
        raise Forbidden(
            f"{decision.tool} in {decision.environment} needs two people: "
            f"{approver.user} asked for it and cannot also approve it",
            source=decision.tool,
        )


def _refusal(grant: Grant | None, *, tool: str, arguments_sha256: str, actor: Actor, now: datetime) -> str:
    """Why a grant could not be claimed, in words a person can act on."""
    if grant is None:
        return f"unknown grant: {tool} needs approval"
    if grant.holder != actor.user:
        return (
            f"this grant was approved for {grant.holder}'s request {grant.request_id}; "
            f"{actor.user} cannot use it: ask for your own approval"
        )
    if grant.state == "spent":
        return f"this grant was already used for {grant.tool}; a new approval is needed"
    if grant.state == "unknown":
        return (
            f"this grant's earlier call of {grant.tool} may or may not have happened (its worker stopped); "
            "check it in the console before asking again"
        )
    if grant.tool != tool:
        return f"this grant is for {grant.tool}, not {tool}"
    if grant.arguments_sha256 != arguments_sha256:
        return f"the arguments differ from the ones approved for {tool}; a new approval is needed"
    if grant.expires_at <= now:
        return f"this grant for {tool} expired at {grant.expires_at.isoformat()}; a new approval is needed"
    return f"this grant for {tool} is in use by another call"
