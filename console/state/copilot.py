"""The Copilot panel beside every page: a conversation whose runs stream their states and tool cards live.

Each question starts a run (``Copilot.ask``) with the page's context: its path, the incident it shows, and the
global scope. A background event follows the run's event stream; it takes the state lock only to show what came
back, never while waiting. A run that waits in NEEDS_APPROVAL opens the approval dialog for people allowed to
approve; the decision is checked again on the server (``Copilot.approve`` consults the approval policy).

``investigate(question)`` is the hook other pages use (the incident page's Investigate button): it opens the panel
and asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.approvals import decide
from console.backend.copilot import PendingApproval, TurnView, turn_view
from console.state.approvals import ApprovalsBadgeState
from console.state.record import linked_key
from console.state.scope import ScopeState
from console.state.session import SESSION_ENDED
from copilot.planning import PageContext
from core_client.errors import Forbidden, NotFound, OpsPilotError

MAX_TURNS = 8


class CopilotPanelState(ScopeState):
    """The conversation shown in the panel: only its latest turns, each a small view of its run."""

    panel_open: bool = False
    conversation_id: str = ""
    turns: list[TurnView] = []
    draft: str = ""
    asking: bool = False
    panel_error: str = ""
    reject_reason: str = ""
    deciding: bool = False
    dismissed_request: str = ""

    @rx.var
    def live(self) -> bool:
        return any(turn.live for turn in self.turns)

    @rx.var
    def approval(self) -> PendingApproval:
        """What the newest waiting run asks this person to decide (empty when nothing, or dismissed)."""
        for turn in reversed(self.turns):
            if turn.pending.request_id and turn.pending.request_id != self.dismissed_request:
                return turn.pending
        return PendingApproval()

    @rx.var
    def dialog_open(self) -> bool:
        return self.can_approve and self.approval.request_id != ""

    @rx.event
    def toggle_panel(self) -> None:
        self.panel_open = not self.panel_open

    @rx.event
    def set_draft(self, value: str) -> None:
        self.draft = value

    @rx.event
    def set_reject_reason(self, value: str) -> None:
        self.reject_reason = value

    @rx.event
    def new_conversation(self) -> None:
        if not self.live:
            self.conversation_id, self.turns, self.panel_error = "", [], ""

    @rx.event
    def submit(self, form: dict[str, str]) -> EventSpec | None:
        """The panel's form: ask the typed question."""
        question = (form.get("question") or self.draft).strip()
        if not question:
            return None
        self.draft = ""
        return CopilotPanelState.ask(question)

    @rx.event
    def investigate(self, question: str) -> EventSpec:
        """Open the panel and ask ``question`` (other pages' Investigate buttons)."""
        self.panel_open = True
        return CopilotPanelState.ask(question)

    def _page(self) -> PageContext:
        # The default range is the page's, not the person's: only a range they chose narrows the investigation.
        start, end = self.chosen_window() or (None, None)
        incident_id = linked_key(self.router.url.path, "incident") or None
        return PageContext(
            path=self.router.url.path,
            incident_id=incident_id,
            service=self.scope_service or None,
            team=self.scope_team or None,
            environment=self.scope_environment or None,
            start=start,
            end=end,
        )

    @rx.event(background=True)
    async def ask(self, question: str) -> AsyncIterator[EventSpec]:
        """Start a run in this conversation and follow it until it ends."""
        async with self:
            if self.asking or self.live:
                yield rx.toast.info("The Copilot is still working on the last question.")
                return
            self.asking, self.panel_error, self.panel_open = True, "", True
            page, conversation = self._page(), self.conversation_id or None
        try:
            user = await self.verified_user()
            copilot = await runtime.copilot()
            run_id = await copilot.ask(
                question,
                user=user.actor().model_copy(update={"via": "console"}),
                page=page,
                conversation_id=conversation,
            )
            view = await copilot.get_run(run_id)
        except OpsPilotError as exc:
            async with self:
                self.asking, self.panel_error = False, str(exc)
            if isinstance(exc, Forbidden) and exc.message == SESSION_ENDED:
                yield rx.redirect("/login")
            return
        async with self:
            self.asking = False
            self.conversation_id = view.conversation_id
            self.turns = [*self.turns, turn_view(view)][-MAX_TURNS:]
        async for event in self._follow(run_id):
            yield event

    async def _follow(self, run_id: str) -> AsyncIterator[EventSpec]:
        copilot = await runtime.copilot()
        try:
            async for event in copilot.subscribe(run_id):
                await self._refresh(run_id)
                if event.kind == "approval":
                    yield ApprovalsBadgeState.refresh
        except OpsPilotError as exc:
            async with self:
                self.panel_error = str(exc)
        turn = await self._refresh(run_id)
        if turn is not None and turn.state == "DONE":
            yield rx.toast.success("The Copilot has answered.")
        elif turn is not None and turn.state == "FAILED":
            yield rx.toast.error(f"The Copilot stopped: {turn.error}", duration=8000)

    async def _refresh(self, run_id: str) -> TurnView | None:
        """Re-read the run (and the request it waits on) and show it in place."""
        copilot = await runtime.copilot()
        view = await copilot.get_run(run_id)
        request = None
        if view.pending_request_id:
            try:
                found = await asyncio.to_thread(copilot.approvals.get, view.pending_request_id)
                request = found.model_dump(mode="json")
            except NotFound:
                request = None
        turn = turn_view(view, request)
        async with self:
            self.turns = [turn if t.run_id == run_id else t for t in self.turns]
        return turn

    @rx.event(background=True)
    async def approve(self) -> AsyncIterator[EventSpec]:
        """Approve what the run waits for; the run goes on to execute it."""
        async for event in self._decide(approve=True):
            yield event

    @rx.event(background=True)
    async def reject(self) -> AsyncIterator[EventSpec]:
        """Reject with the typed reason; the run plans again, told why."""
        async for event in self._decide(approve=False):
            yield event

    async def _decide(self, *, approve: bool) -> AsyncIterator[EventSpec]:
        async with self:
            request_id = self.approval.request_id
            reason = self.reject_reason.strip()
            if not request_id or self.deciding:
                return
            if not approve and not reason:
                yield rx.toast.error("Say why you reject it: the Copilot is told the reason.")
                return
            self.deciding = True
        try:
            user = await self.verified_user()
            # The dialog's text box is the rejection's reason; an approval carries none.
            await decide(
                await runtime.copilot(),
                request_id,
                user.actor(),
                approve=approve,
                reason=None if approve else reason,
            )
        except OpsPilotError as exc:
            yield rx.toast.error(str(exc), duration=8000)
            return
        finally:
            async with self:
                self.deciding = False
        async with self:
            self.reject_reason = ""
            self.dismissed_request = request_id
        yield rx.toast.success(
            "Approved: the Copilot goes on." if approve else "Rejected: the Copilot plans again."
        )

    @rx.event
    def dismiss(self) -> None:
        """Close the dialog without deciding; the request still waits in the Approvals inbox."""
        self.dismissed_request = self.approval.request_id

    @rx.event(background=True)
    async def propose(self, run_id: str, index: int) -> AsyncIterator[EventSpec]:
        """Offer a proposed action of a finished run: a follow-up run files the request and waits for a person."""
        async with self:
            if self.live:
                yield rx.toast.info("The Copilot is still working on the last question.")
                return
        try:
            user = await self.verified_user()
            copilot = await runtime.copilot()
            follow_up = await copilot.propose(run_id, index, by=user.actor())
        except OpsPilotError as exc:
            yield rx.toast.error(str(exc), duration=8000)
            return
        async with self:
            self.turns = [*self.turns, turn_view(follow_up)][-MAX_TURNS:]
        yield rx.toast.info("Proposed: it waits for a person's approval.")
        async for event in self._follow(follow_up.id):
            yield event

    @rx.event(background=True)
    async def cancel(self, run_id: str) -> AsyncIterator[EventSpec]:
        try:
            user = await self.verified_user()
            copilot = await runtime.copilot()
            await copilot.cancel(run_id, user.actor())
        except OpsPilotError as exc:
            yield rx.toast.error(str(exc), duration=8000)
            return
        await self._refresh(run_id)
