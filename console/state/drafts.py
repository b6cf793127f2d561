"""Drafts written from a finished run (a postmortem, a stakeholder status update): read in a dialog from the
Copilot panel or the run page, downloaded as Markdown, or offered for posting (a ticket, a timeline note, a message)
through the same approval as any change.

The draft is written on the server from the run's cited evidence (``Copilot.draft``); posting it is a follow-up run
(``Copilot.post_draft``) that the Copilot panel then shows and follows, like a proposed action. Each draft goes to
each target once: the dialog shows how an earlier offer stands and does not offer it again while it waits, was
approved or was carried out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import get_args

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.copilot import OfferShown
from console.state.copilot import CopilotPanelState
from console.state.session import SessionState, acts
from copilot.followups import ProposalState
from copilot.writeups.drafts import DraftKind, DraftTarget
from copilot.writeups.markdown import to_markdown
from core_client.errors import BadQuery, OpsPilotError

KINDS: dict[str, str] = {"postmortem": "Postmortem draft", "status": "Status update"}
TARGETS: dict[str, str] = {
    "ticket": "File as a ticket",
    "note": "Add to the incident's timeline",
    "message": "Post",
}


class DraftTargetView(OfferShown):
    """Where the draft can be posted, and how an earlier offer to post it there stands."""

    target: str
    action: str


def target_views(kind: str, offers: list[ProposalState]) -> list[DraftTargetView]:
    """Each target of the ``kind`` draft, with the offer already made to post it there (keyed ``kind:target``)."""
    by_key = {offer.key: offer for offer in offers}
    return [
        DraftTargetView(target=target, action=action).showing(by_key.get(f"{kind}:{target}"))
        for target, action in TARGETS.items()
    ]


class DraftState(SessionState):
    """The draft dialog: which run and kind, the Markdown, and the targets it may be posted to."""

    dialog_open: bool = False
    loading: bool = False
    run_id: str = ""
    kind: str = ""
    title: str = ""
    markdown: str = ""
    error: str = ""
    channel: str = "#incidents"
    targets: list[DraftTargetView] = []
    posting: bool = False

    @rx.var
    def heading(self) -> str:
        return KINDS.get(self.kind, "Draft")

    @rx.var
    def filename(self) -> str:
        return f"{self.kind}-{self.run_id}.md"

    @rx.event
    def set_channel(self, value: str) -> None:
        self.channel = value

    @rx.event
    def set_dialog_open(self, value: bool) -> None:
        self.dialog_open = value

    @rx.event(background=True)
    async def show(self, run_id: str, kind: str) -> None:
        """Write the ``kind`` draft of run ``run_id`` now and open it (anyone signed in may read it)."""
        async with self:
            self.dialog_open, self.loading, self.error = True, True, ""
            self.run_id, self.kind, self.markdown, self.title, self.targets = run_id, kind, "", "", []
        try:
            if kind not in get_args(DraftKind):
                raise BadQuery(f"no draft of kind {kind!r}; there are {', '.join(KINDS)}", source="console")
            user = await self.verified_user()
            copilot = await runtime.copilot()
            document = await copilot.draft(run_id, kind, by=user.actor())  # type: ignore[arg-type]
            offers = await copilot.proposals(run_id)
        except OpsPilotError as exc:
            async with self:
                self.error, self.loading = str(exc), False
            return
        async with self:
            if (self.run_id, self.kind) != (run_id, kind):
                return  # another draft was asked for meanwhile
            self.title = document.title
            self.markdown = to_markdown(document, with_title=True)
            self.targets = target_views(kind, offers)
            self.loading = False

    @rx.event
    def download(self) -> EventSpec:
        """The draft as a Markdown file, as shown."""
        return rx.download(data=self.markdown, filename=self.filename)

    @rx.event(background=True)
    @acts
    async def post(self, target: str) -> AsyncIterator[EventSpec]:
        """Offer the draft for posting to ``target``: a follow-up run files the approval request, and the Copilot
        panel shows it waiting (nothing is posted until a person approves)."""
        async with self:
            if self.posting:
                return
            run_id, kind, channel = self.run_id, self.kind, self.channel.strip()
            self.posting, self.error = True, ""
        try:
            if target not in get_args(DraftTarget):
                raise BadQuery(f"no target {target!r}; there are {', '.join(TARGETS)}", source="console")
            user = await self.verified_user()
            copilot = await runtime.copilot()
            follow_up = await copilot.post_draft(
                run_id,
                kind,  # type: ignore[arg-type]
                target,  # type: ignore[arg-type]
                by=user.actor(),
                channel=channel if target == "message" else None,
            )
        except OpsPilotError as exc:
            async with self:
                self.error = str(exc)
            return
        finally:
            async with self:
                self.posting = False
        async with self:
            self.dialog_open = False
        yield rx.toast.info("Offered for approval: the Copilot panel shows where it stands.")
        yield CopilotPanelState.watch(follow_up.id)
