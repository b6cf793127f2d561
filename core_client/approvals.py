"""Approval requests and the grants they issue.

A request binds one tool to the sha256 of its canonical arguments. Approving it issues a grant: a random id bound
to the same tool and hash, with an expiry. The grant is claimed with ONE conditional update (so two concurrent
callers cannot both own it), spent only when the mutation succeeds, and released for another try when it fails.

A pending request ends approved, rejected, expired (nobody decided in time) or withdrawn (whoever asked no longer
needs it, say because its Copilot run was cancelled); only an approved one is ever executed.
"""

from __future__ import annotations

import builtins
import json
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import CursorResult, and_, func, or_, update
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
from core_client.settings import Settings
from core_client.store import ApprovalRequest, AuditAction, Database, Grant, RequestStatus

SYSTEM = Actor(user="system", role=Role.ADMIN, via="system")


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
        self._console_url = settings.console_url.rstrip("/")

    def approval_url(self, request_id: str | None = None) -> str:
        """The console page for one request, or the approvals list."""
        if request_id is None:
            return f"{self._console_url}/approvals"
        return approval_link(request_id).absolute(self._console_url)

    def request(
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
    ) -> ApprovalRequest:
        """File a request for a person to approve ``tool`` with exactly these ``arguments``.

        A Copilot run asks once per change: while its request for the same tool and arguments is pending, filing
        again returns that request (a worker that died between filing and waiting must not ask twice).
        """
        decision = self.policy.decide(tool, kind=kind, environment=environment)
        _refuse_unusable(decision, requester)
        with self.database.transaction() as session:
            return self._file(
                session, tool, arguments, requester, evidence, risk, decision.environment, run_id
            )

    def approve(self, request_id: str, *, approver: Actor, reason: str | None = None) -> Grant:
        """Approve a pending request and issue its grant; ``Forbidden`` when policy does not let ``approver``."""
        pending = self._pending(request_id, approver, verb="approve")
        decision = self.policy.decide(pending.tool, kind="destructive", environment=pending.environment)
        if decision.mode == "denied":
            raise Forbidden(f"policy denies {pending.tool} in {decision.environment}", source=pending.tool)
        _check_approver(decision, approver, requested_by=pending.requested_by)
        with self.database.transaction() as session:
            self._decide(session, pending, "approved", approver, reason)
            return self._issue(session, pending, approver)

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
    ) -> Grant:
        """A person's own act, where policy lets their role run ``tool``: request and grant recorded together."""
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
            filed = self._file(session, tool, arguments, actor, [], "", decision.environment, None)
            self._decide(session, filed, "approved", actor, "self-approved: policy lets this role run it")
            return self._issue(session, filed, actor)

    def get(self, request_id: str) -> ApprovalRequest:
        """One request by id; ``NotFound`` when there is none."""
        with self.database.transaction() as session:
            found = session.get(ApprovalRequest, request_id)
        if found is None:
            raise NotFound(f"no approval request {request_id!r}", source="approvals")
        return found

    def grant_for(self, request_id: str) -> Grant | None:
        """The grant issued for an approved request (how the run that asked picks it up), if any."""
        with self.database.transaction() as session:
            return session.scalar(select(Grant).where(col(Grant.request_id) == request_id))

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
        if cursor:
            position = decode_cursor(cursor, source="approvals")
            at = datetime.fromisoformat(str(position["at"]))
            query = query.where(
                or_(
                    col(ApprovalRequest.created_at) < at,
                    and_(col(ApprovalRequest.created_at) == at, col(ApprovalRequest.id) < position["id"]),
                )
            )
        size = page_size(limit)
        query = query.order_by(col(ApprovalRequest.created_at).desc(), col(ApprovalRequest.id).desc())
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

    def claim(self, grant_id: str, *, tool: str, arguments_sha256: str) -> Grant:
        """Own the grant for one call, atomically; ``ApprovalRequired`` saying why when it cannot be used."""
        now = self.clock.now()
        with self.database.transaction() as session:
            claimed = _rowcount(
                session.execute(
                    update(Grant)
                    .where(
                        col(Grant.id) == grant_id,
                        col(Grant.state) == "issued",
                        col(Grant.tool) == tool,
                        col(Grant.arguments_sha256) == arguments_sha256,
                        col(Grant.expires_at) > now,
                    )
                    .values(state="claimed", claimed_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
            grant = session.get(Grant, grant_id)
        if claimed == 1 and grant is not None:
            return grant
        raise ApprovalRequired(
            _refusal(grant, tool=tool, arguments_sha256=arguments_sha256, now=now),
            source=tool,
            request_id=grant.request_id if grant else None,
            approval_url=self.approval_url(grant.request_id if grant else None),
        )

    def spend(self, grant: Grant, *, actor: Actor, arguments: dict[str, Any], result: dict[str, Any]) -> None:
        """The mutation succeeded: the grant is spent, its request executed, and the execution audited."""
        now = self.clock.now()
        with self.database.transaction() as session:
            spent = _rowcount(
                session.execute(
                    update(Grant)
                    .where(col(Grant.id) == grant.id, col(Grant.state) == "claimed")
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
        self, grant: Grant, *, actor: Actor, arguments: dict[str, Any], error: dict[str, Any]
    ) -> None:
        """The mutation failed: the grant goes back to issued (usable again until it expires); audited."""
        with self.database.transaction() as session:
            session.execute(
                update(Grant)
                .where(col(Grant.id) == grant.id, col(Grant.state) == "claimed")
                .values(state="issued", claimed_at=None)
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
    ) -> ApprovalRequest:
        canonical, sha = arguments_digest(tool, arguments)
        now = self.clock.now()
        if run_id is not None:
            waiting = session.scalar(
                select(ApprovalRequest).where(
                    col(ApprovalRequest.run_id) == run_id,
                    col(ApprovalRequest.tool) == tool,
                    col(ApprovalRequest.arguments_sha256) == sha,
                    col(ApprovalRequest.status) == "pending",
                    col(ApprovalRequest.expires_at) > now,
                )
            )
            if waiting is not None:
                return waiting  # this run asked already (see request)
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
            created_at=now,
            expires_at=now + self._ttl,
        )
        session.add(filed)
        session.flush()
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
        return filed

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
                .values(status=status, decided_by=decider.user, decided_at=now, decision_reason=reason)
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

    def _issue(self, session: Session, approved: ApprovalRequest, approver: Actor) -> Grant:
        now = self.clock.now()
        grant = Grant(
            id=secrets.token_urlsafe(32),
            request_id=approved.id,
            tool=approved.tool,
            arguments_sha256=approved.arguments_sha256,
            created_at=now,
            expires_at=now + self._ttl,
            state="issued",
        )
        session.add(grant)
        return grant

    def _expire(self, session: Session, request: ApprovalRequest) -> bool:
        changed = _rowcount(
            session.execute(
                update(ApprovalRequest)
                .where(col(ApprovalRequest.id) == request.id, col(ApprovalRequest.status) == "pending")
                .values(status="expired")
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


def _refusal(grant: Grant | None, *, tool: str, arguments_sha256: str, now: datetime) -> str:
    """Why a grant could not be claimed, in words a person can act on."""
    if grant is None:
        return f"unknown grant: {tool} needs approval"
    if grant.state == "spent":
        return f"this grant was already used for {grant.tool}; a new approval is needed"
    if grant.tool != tool:
        return f"this grant is for {grant.tool}, not {tool}"
    if grant.arguments_sha256 != arguments_sha256:
        return f"the arguments differ from the ones approved for {tool}; a new approval is needed"
    if grant.expires_at <= now:
        return f"this grant for {tool} expired at {grant.expires_at.isoformat()}; a new approval is needed"
    return f"this grant for {tool} is in use by another call"
