"""The mutation gate: every change to the world passes here, once.

In order: canonical arguments, the policy decision, the actor's right to act, then either a direct run (an
``auto`` tool called by a person) or the grant: claimed atomically by its holder only, handed to the provider as
the idempotency key, spent when the mutation succeeds and released when it fails. Every execution and refusal is
audited. A claim left behind by a worker that died mid-call is settled by :meth:`MutationGate.settle_stranded`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from core_client.approvals import ApprovalBook, Settlement, StrandedClaim
from core_client.audit import AuditTrail, summarize_error, summarize_result
from core_client.clock import Clock
from core_client.errors import ApprovalRequired, Forbidden, OpsPilotError
from core_client.identity import Actor, Role
from core_client.mutations import arguments_digest
from core_client.policy import ToolKind
from core_client.settings import Settings
from core_client.store import Database

T = TypeVar("T")

# How long a mutation's call may take when its caller does not say (a provider's own timeout is usually given).
DEFAULT_CALL_SECONDS = 60.0

# Asks the provider behind ``tool`` whether a call with this idempotency key happened: True or False when it can
# tell, None when it cannot.
OutcomeCheck = Callable[[str, str], Awaitable[bool | None]]

log = logging.getLogger(__name__)


class MutationGate:
    """Checks policy and the grant around one mutation and writes the audit trail."""

    def __init__(self, approvals: ApprovalBook) -> None:
        self.approvals = approvals

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock) -> MutationGate:
        """A gate over the settings' database, migrated to the latest schema first."""
        database = Database.from_settings(settings, upgrade=True)
        return cls(ApprovalBook(database, clock=clock, settings=settings))

    @property
    def audit(self) -> AuditTrail:
        return self.approvals.audit

    async def run(
        self,
        tool: str,
        arguments: BaseModel | Mapping[str, Any],
        *,
        actor: Actor,
        grant: str | None,
        environment: str | None,
        action: Callable[[str | None], Awaitable[T]],
        kind: ToolKind = "destructive",
        call_seconds: float = DEFAULT_CALL_SECONDS,
    ) -> T:
        """Run ``action`` if policy and the grant allow it; its argument is the grant id (the idempotency key).

        Raises ``Forbidden`` (viewer, denied tool), ``ApprovalRequired`` (no grant where one is needed, or a grant
        that is unknown, spent, expired, for other arguments or someone else's), or whatever ``action`` raises.
        ``call_seconds`` is how long ``action`` may take; a claim older than that is stranded.
        """
        canonical, sha = arguments_digest(tool, arguments)
        audited_args: dict[str, Any] = json.loads(canonical)
        decision = self.approvals.policy.decide(tool, kind=kind, environment=environment)
        env = decision.environment

        async def refuse(error: Forbidden | ApprovalRequired) -> None:
            await asyncio.to_thread(
                self.audit.record,
                "refused",
                actor=actor,
                tool=tool,
                arguments=audited_args,
                result=error.to_dict(),
                environment=env,
            )

        if actor.role == Role.VIEWER:
            forbidden = Forbidden(f"{actor.user} is a viewer: viewers cannot change anything", source=tool)
            await refuse(forbidden)
            raise forbidden
        if decision.mode == "denied":
            forbidden = Forbidden(f"policy denies {tool} in {env}", source=tool)
            await refuse(forbidden)
            raise forbidden

        if grant is None:
            if decision.mode == "auto" and not actor.copilot:
                return await self._run_direct(tool, audited_args, actor, env, action)
            who = "the Copilot's actions" if actor.copilot else f"{tool} in {env}"
            required = ApprovalRequired(
                f"{who} need approval by a person ({', '.join(r.value for r in decision.approver_roles)}); "
                f"ask for it and approve it at {self.approvals.approval_url()}",
                source=tool,
                approval_url=self.approvals.approval_url(),
            )
            await refuse(required)
            raise required

        try:
            claimed = await asyncio.to_thread(
                self.approvals.claim,
                grant,
                tool=tool,
                arguments_sha256=sha,
                actor=actor,
                timeout=call_seconds,
            )
        except ApprovalRequired as refused:
            await refuse(refused)
            raise
        try:
            result = await action(claimed.id)
        except BaseException as error:
            # Shielded: a cancelled caller must still hand the grant back, or it stays claimed forever.
            await asyncio.shield(
                asyncio.to_thread(
                    self.approvals.release,
                    claimed,
                    actor=actor,
                    arguments=audited_args,
                    error=summarize_error(error),
                )
            )
            raise
        await asyncio.to_thread(
            self.approvals.spend,
            claimed,
            actor=actor,
            arguments=audited_args,
            result=summarize_result(result),
        )
        return result

    async def settle_stranded(self, check: OutcomeCheck) -> list[tuple[StrandedClaim, Settlement]]:
        """Settle every stranded claim (its worker died mid-call): asked by its idempotency key, the provider
        says whether the call happened (the grant is spent, or given back to its holder); where it cannot tell,
        the request is marked "outcome unknown" for a person. Audited; returns what was settled and how."""
        settled: list[tuple[StrandedClaim, Settlement]] = []
        for claim in await asyncio.to_thread(self.approvals.stranded):
            outcome: Settlement = "unknown"
            how = "the provider cannot look calls up by idempotency key"
            if claim.idempotency_key is None:
                how = "the grant predates derivable ids, so its idempotency key is unknown"
            else:
                try:
                    found = await check(claim.tool, claim.idempotency_key)
                except OpsPilotError as error:
                    found, how = None, f"looking the call up failed: {error}"
                if found is not None:
                    outcome = "done" if found else "not_done"
                    how = "the provider has it" if found else "the provider has no call with this key"
            if await asyncio.to_thread(self.approvals.settle, claim, outcome, how=how):
                log.warning(
                    "stranded %s claim of request %s settled: %s (%s)",
                    claim.tool,
                    claim.request_id,
                    outcome,
                    how,
                )
                settled.append((claim, outcome))
        return settled

    async def _run_direct(
        self,
        tool: str,
        arguments: dict[str, Any],
        actor: Actor,
        environment: str,
        action: Callable[[str | None], Awaitable[T]],
    ) -> T:
        try:
            result = await action(None)
        except Exception as error:
            await asyncio.to_thread(
                self.audit.record,
                "failed",
                actor=actor,
                tool=tool,
                arguments=arguments,
                result=summarize_error(error),
                environment=environment,
            )
            raise
        await asyncio.to_thread(
            self.audit.record,
            "executed",
            actor=actor,
            tool=tool,
            arguments=arguments,
            result=summarize_result(result),
            environment=environment,
        )
        return result
