"""The mutation gate: every change to the world passes here, once.

In order: canonical arguments, the policy decision, the actor's right to act, then either a direct run (an
``auto`` tool called by a person) or the grant: claimed atomically, handed to the provider as the idempotency key,
spent when the mutation succeeds and released when it fails. Every execution and refusal is audited.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from core_client.approvals import ApprovalBook
from core_client.audit import AuditTrail, summarize_error, summarize_result
from core_client.clock import Clock
from core_client.errors import ApprovalRequired, Forbidden
from core_client.identity import Actor, Role
from core_client.mutations import arguments_digest
from core_client.policy import ToolKind
from core_client.settings import Settings
from core_client.store import Database

T = TypeVar("T")


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
    ) -> T:
        """Run ``action`` if policy and the grant allow it; its argument is the grant id (the idempotency key).

        Raises ``Forbidden`` (viewer, denied tool), ``ApprovalRequired`` (no grant where one is needed, or a grant
        that is unknown, spent, expired or for other arguments), or whatever ``action`` raises.
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
            claimed = await asyncio.to_thread(self.approvals.claim, grant, tool=tool, arguments_sha256=sha)
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
