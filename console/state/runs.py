"""Copilot runs: the list (``/runs``, paged, filtered by state) and one run (``/runs/[id]``), followed live while
it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.runs import RunDetail, RunRow, RunsFilters, load_run, load_runs
from console.state.paging import PagedList, RowsPage
from console.state.record import linked_key
from console.state.scope import ScopeState
from core_client.client import CoreClient
from core_client.errors import OpsPilotError


class RunsPageState(PagedList, ScopeState):
    """The visible page of runs, newest first, and the state filter the URL holds."""

    rows: list[RunRow] = []
    status: str = ""

    @classmethod
    def _filter_type(cls) -> type[RunsFilters]:
        return RunsFilters

    async def _fetch(self, core: CoreClient, cursor: str | None) -> RowsPage:
        return await load_runs(await runtime.copilot(), RunsFilters(status=self.status), cursor=cursor)


class RunPageState(ScopeState):
    """One run; a live one is re-read on each of its events until it ends."""

    loading: bool = True
    error: str = ""
    # Why cancelling failed (shown beside the button; the run stays on screen).
    cancel_error: str = ""
    run: RunDetail = RunDetail()

    @rx.event(background=True)
    async def load(self) -> None:
        async with self:
            self.loading = True
            run_id = linked_key(self.router.url.path, "run")
        try:
            copilot = await runtime.copilot()
            detail = await load_run(copilot, await runtime.core(), run_id)
        except OpsPilotError as exc:
            async with self:
                self.error, self.loading, self.run = str(exc), False, RunDetail()
            return
        async with self:
            self.run, self.error, self.loading = detail, "", False
        if not detail.live:
            return
        try:
            async for _event in copilot.subscribe(run_id):
                detail = await load_run(copilot, await runtime.core(), run_id)
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
            run_id, self.cancel_error = self.run.id, ""
        try:
            user = await self.verified_user()
            copilot = await runtime.copilot()
            await copilot.cancel(run_id, user.actor())
            detail = await load_run(copilot, await runtime.core(), run_id)
        except OpsPilotError as exc:
            async with self:
                self.cancel_error = str(exc)
            return
        async with self:
            self.run = detail
        yield rx.toast.success("Run cancelled.")
