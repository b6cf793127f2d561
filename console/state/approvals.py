"""The Approvals inbox: pending requests to decide, decided ones with who and why, and the navigation badge.

Decisions go through the Copilot (``Copilot.approve``/``reject``), which records them in the approval book and
wakes the run that asked, wherever it runs. The book checks policy again: hiding the buttons is not the check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.approvals import ApprovalRow, decide, load_inbox, pending_count
from console.state.record import linked_key
from console.state.scope import ScopeState
from console.state.session import SessionState, approves
from core_client.errors import OpsPilotError


class ApprovalsBadgeState(SessionState):
    """How many requests wait for a person: the badge beside "Approvals" in the navigation."""

    pending: int = 0

    @rx.event(background=True)
    async def refresh(self) -> None:
        try:
            count = await pending_count((await runtime.core()).gate.approvals)
        except OpsPilotError:
            return  # the inbox page itself reports the failure
        async with self:
            self.pending = count

    @rx.event
    def show(self, count: int) -> None:
        """Take a count just made elsewhere (the inbox), instead of asking the database again."""
        self.pending = count


class ApprovalsState(ScopeState):
    """The inbox (``/approvals``) and one request (``/approvals/[id]``)."""

    loading: bool = True
    error: str = ""
    pending: list[ApprovalRow] = []
    # Every pending request, of which ``pending`` holds the newest page.
    pending_total: int = 0
    decided: list[ApprovalRow] = []
    reasons: dict[str, str] = {}
    deciding: str = ""

    @rx.var
    def focused(self) -> str:
        """The request a link named (``/approvals/{id}``), shown first and marked."""
        return linked_key(self.router.url.path, "approval")

    @rx.event
    def set_reason(self, request_id: str, value: str) -> None:
        self.reasons = {**self.reasons, request_id: value}

    @rx.event(background=True)
    async def load(self) -> AsyncIterator[EventSpec]:
        async with self:
            self.loading = True
        try:
            inbox = await load_inbox(await runtime.core())
        except OpsPilotError as exc:
            async with self:
                self.error, self.loading = str(exc), False
            return
        async with self:
            focused = self.focused
            self.pending = sorted(inbox.pending, key=lambda row: row.id != focused)
            self.pending_total = inbox.pending_count
            self.decided = inbox.decided
            self.error, self.loading = "", False
        yield ApprovalsBadgeState.show(inbox.pending_count)

    @rx.event(background=True)
    @approves
    async def approve(self, request_id: str) -> AsyncIterator[EventSpec]:
        async for event in self._decide(request_id, approve=True):
            yield event

    @rx.event(background=True)
    @approves
    async def reject(self, request_id: str) -> AsyncIterator[EventSpec]:
        async for event in self._decide(request_id, approve=False):
            yield event

    async def _decide(self, request_id: str, *, approve: bool) -> AsyncIterator[EventSpec]:
        async with self:
            reason = self.reasons.get(request_id, "").strip()
            if self.deciding:
                return
            if not approve and not reason:
                yield rx.toast.error("Say why you reject it: the requester is told the reason.")
                return
            self.deciding = request_id
        try:
            user = await self.verified_user()
            await decide(await runtime.copilot(), request_id, user.actor(), approve=approve, reason=reason)
        except OpsPilotError as exc:
            yield rx.toast.error(str(exc), duration=8000)
            return
        finally:
            async with self:
                self.deciding = ""
        yield rx.toast.success("Approved." if approve else "Rejected.")
        yield ApprovalsState.load
