"""The Copilot panel beside every page: a conversation whose runs stream their states and tool cards live.

Each question starts a run (``Copilot.ask``) with the page's context: its path, the incident it shows, and the
global scope. A background event follows the run's event stream; it takes the state lock only to show what came
back, never while waiting. A run that waits in NEEDS_APPROVAL opens the approval dialog for people allowed to
approve; the decision is checked again on the server (``Copilot.approve`` consults the approval policy).

Only what changed goes to the browser: a run's events change ``CopilotPanelState.latest`` (the turn it streams
into) and nothing else, while the turns before it sit in ``ConversationState``, a state of their own that changes
once per question, when the latest turn joins them. So the bytes and the rendering of a run's event do not grow
with the length of the conversation.

``investigate(question)`` is the hook other pages use (the incident page's Investigate button): it opens the panel
and asks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.approvals import decide, request_preview
from console.backend.copilot import PendingApproval, TurnView, turn_view, with_offers
from console.backend.records import service_names
from console.state.approvals import ApprovalsBadgeState
from console.state.record import linked_key
from console.state.scope import ScopeState
from console.state.session import SESSION_ENDED, SessionState, acts, approves
from copilot.machine import RunState
from copilot.planning import PageContext
from core_client.errors import Forbidden, NotFound, OpsPilotError

# Turns shown: the live (or latest) one and the ones before it.
MAX_TURNS = 8
STILL_WORKING = "The Copilot is still working on the last question: wait for its answer, or cancel it."


class ConversationState(SessionState):
    """The conversation's earlier turns, settled: they change once per question (when the latest turn joins
    them), never while a run streams, so a run's events neither carry nor re-render them."""

    earlier: list[TurnView] = []


class CopilotPanelState(ScopeState):
    """The panel, and the conversation's latest turn: the one a run streams into (see the module docstring)."""

    panel_open: bool = False
    # The panel over the whole page instead of beside it.
    panel_full: bool = False
    conversation_id: str = ""
    latest: TurnView = TurnView()
    draft: str = ""
    asking: bool = False
    panel_error: str = ""
    reject_reason: str = ""
    deciding: bool = False
    # Why the last decision in the dialog did not go through (shown in the dialog).
    decision_error: str = ""
    dismissed_request: str = ""

    @rx.var
    def live(self) -> bool:
        return self.latest.live

    @rx.var
    def approval(self) -> PendingApproval:
        """What the waiting run asks this person to decide (empty when nothing, or dismissed)."""
        pending = self.latest.pending
        if pending.request_id and pending.request_id != self.dismissed_request:
            return pending
        return PendingApproval()

    @rx.var
    def dialog_open(self) -> bool:
        return self.can_approve and self.approval.request_id != ""

    @rx.event
    def toggle_panel(self) -> None:
        self.panel_open = not self.panel_open
        self.panel_full = self.panel_full and self.panel_open

    @rx.event
    def toggle_full(self) -> None:
        """The panel over the whole page, or back beside it."""
        self.panel_full = not self.panel_full

    @rx.event
    def set_draft(self, value: str) -> None:
        self.draft = value

    @rx.event
    def set_reject_reason(self, value: str) -> None:
        self.reject_reason = value

    @rx.event
    async def new_conversation(self) -> None:
        if self.live:
            return
        self.conversation_id, self.latest, self.panel_error = "", TurnView(), ""
        (await self.get_state(ConversationState)).earlier = []

    async def _show_new(self, turn: TurnView) -> None:
        """Show ``turn`` as the latest; the one it follows joins the earlier turns (call under the state lock)."""
        if self.latest.run_id:
            conversation = await self.get_state(ConversationState)
            conversation.earlier = [*conversation.earlier, self.latest][-(MAX_TURNS - 1) :]
        self.latest = turn

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
                self.panel_error = STILL_WORKING
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
            await self._show_new(turn_view(view))
        async for event in self._follow(run_id):
            yield event

    async def _follow(self, run_id: str) -> AsyncIterator[EventSpec]:
        copilot = await runtime.copilot()
        try:
            async for event in copilot.subscribe(run_id):
                await self._refresh(run_id)
                if event.kind == "approval":
                    # A request filed or decided: the offer that made it (an earlier turn's button) moved on.
                    await self._refresh_offers()
                    yield ApprovalsBadgeState.refresh
        except OpsPilotError as exc:
            async with self:
                self.panel_error = str(exc)
        turn = await self._refresh(run_id)
        await self._refresh_offers()
        async with self:
            closed = not self.panel_open
        # The open panel shows the outcome in place; a toast tells only someone who closed it.
        if closed and turn.state == "DONE":
            yield rx.toast.success("The Copilot has answered: open the panel to read it.")
        elif closed and turn.state == "FAILED":
            yield rx.toast.error(f"The Copilot stopped: {turn.error}", duration=8000)

    async def _refresh(self, run_id: str) -> TurnView:
        """Re-read the run (and the request it waits on) and show it in place, if anything changed."""
        copilot = await runtime.copilot()
        view = await copilot.get_run(run_id)
        request, shown = None, None
        if view.pending_request_id:
            try:
                found = await asyncio.to_thread(copilot.approvals.get, view.pending_request_id)
                request = found.model_dump(mode="json")
                if found.status == "pending":
                    shown = await request_preview(await runtime.core(), found)
            except NotFound:
                request = None
        offers = await copilot.proposals(run_id) if view.state == RunState.DONE else []
        # The catalog is read once there is an answer whose services to name.
        name = await service_names(await runtime.core()) if view.answer else str
        turn = turn_view(view, request, shown, offers, name)
        async with self:
            # Assigning marks the var changed and sends it: only a change of the latest turn goes out.
            if self.latest.run_id == run_id and self.latest != turn:
                self.latest = turn
        return turn

    async def _refresh_offers(self) -> None:
        """Read again how the offers made from the earlier answers stand, and show what changed (a button that
        said "Waiting for approval" now says "Filed as OPS-1965")."""
        copilot = await runtime.copilot()
        async with self:
            conversation = await self.get_state(ConversationState)
            offered = [turn.run_id for turn in conversation.earlier if turn.answer.proposals]
        if not offered:
            return
        fresh = {run_id: await copilot.proposals(run_id) for run_id in offered}
        async with self:
            conversation = await self.get_state(ConversationState)
            turns = [
                turn.model_copy(update={"answer": with_offers(turn.answer, fresh[turn.run_id])})
                if turn.run_id in fresh
                else turn
                for turn in conversation.earlier
            ]
            if turns != conversation.earlier:
                conversation.earlier = turns

    @rx.event(background=True)
    @approves
    async def approve(self) -> AsyncIterator[EventSpec]:
        """Approve what the run waits for; the run goes on to execute it."""
        async for event in self._decide(approve=True):
            yield event

    @rx.event(background=True)
    @approves
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
                self.decision_error = "Say why you reject it: the Copilot is told the reason."
                return
            self.deciding, self.decision_error = True, ""
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
            async with self:
                self.decision_error = str(exc)
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
        self.dismissed_request, self.decision_error = self.approval.request_id, ""

    @rx.event(background=True)
    @acts
    async def propose(self, run_id: str, index: int) -> AsyncIterator[EventSpec]:
        """Offer a proposed action of a finished run: a follow-up run files the request and waits for a person."""
        async with self:
            if self.live:
                self.panel_error = STILL_WORKING
                return
            self.panel_error = ""
        try:
            user = await self.verified_user()
            copilot = await runtime.copilot()
            follow_up = await copilot.propose(run_id, index, by=user.actor())
        except OpsPilotError as exc:
            async with self:
                self.panel_error = str(exc)
            return
        async with self:
            await self._show_new(turn_view(follow_up))
        await self._refresh_offers()
        async for event in self._follow(follow_up.id):
            yield event

    @rx.event(background=True)
    async def watch(self, run_id: str) -> AsyncIterator[EventSpec]:
        """Open the panel on run ``run_id`` (a follow-up offered elsewhere: a draft to post) and follow it."""
        try:
            await self.verified_user()
            view = await (await runtime.copilot()).get_run(run_id)
        except OpsPilotError as exc:
            async with self:
                self.panel_error = str(exc)
            return
        async with self:
            self.panel_open = True
            if self.latest.run_id != run_id:
                await self._show_new(turn_view(view))
        async for event in self._follow(run_id):
            yield event

    @rx.event(background=True)
    async def cancel(self, run_id: str) -> None:
        try:
            user = await self.verified_user()
            copilot = await runtime.copilot()
            await copilot.cancel(run_id, user.actor())
        except OpsPilotError as exc:
            async with self:
                self.panel_error = str(exc)
            return
        await self._refresh(run_id)
