"""Copilot runs: the list (``/runs``) and one run's trace (``/runs/[id]``), followed live while it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.copilot import RunDetail, RunRow, load_run, load_runs
from console.state.record import linked_key
from console.state.scope import ScopeState
from core_client.errors import OpsPilotError


class RunsPageState(ScopeState):
    loading: bool = True
    error: str = ""
    runs: list[RunRow] = []

    @rx.event(background=True)
    async def load(self) -> None:
        async with self:
            self.loading = True
        try:
            rows = await load_runs(await runtime.copilot())
        except OpsPilotError as exc:
            async with self:
                self.error, self.loading = str(exc), False
            return
        async with self:
            self.runs, self.error, self.loading = rows, "", False


class RunPageState(ScopeState):
    """One run; a live one is re-read on each of its events until it ends."""

    loading: bool = True
    error: str = ""
    run: RunDetail = RunDetail()

    @rx.event(background=True)
    async def load(self) -> None:
        async with self:
            self.loading = True
            run_id = linked_key(self.router.url.path, "run")
        try:
            copilot = await runtime.copilot()
            detail = await load_run(copilot, run_id)
        except OpsPilotError as exc:
            async with self:
                self.error, self.loading = str(exc), False
            return
        async with self:
            self.run, self.error, self.loading = detail, "", False
        if not detail.live:
            return
        try:
            async for _event in copilot.subscribe(run_id):
                detail = await load_run(copilot, run_id)
                async with self:
                    if self.run.id != run_id:
                        return  # the person has moved on to another run
                    self.run = detail
        except OpsPilotError as exc:
            async with self:
                self.error = str(exc)

    @rx.event(background=True)
    async def cancel(self) -> AsyncIterator[EventSpec]:
        async with self:
            run_id = self.run.id
        try:
            user = await self.verified_user()
            copilot = await runtime.copilot()
            await copilot.cancel(run_id, user.actor())
            detail = await load_run(copilot, run_id)
        except OpsPilotError as exc:
            yield rx.toast.error(str(exc), duration=8000)
            return
        async with self:
            self.run = detail
        yield rx.toast.success("Run cancelled.")
