"""A person's action from a page state, checked on the server, with a toast either way.

The handler's click is only a wish: ``_perform`` re-reads the session (``Forbidden`` once it has ended), acts as
that user under the approval policy (console/backend/actions.py), and says what happened. When the action waits
for approval, approvers are notified afterwards, best effort, so the person never waits for the chat provider.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from console import runtime
from console.backend.actions import Outcome
from console.state.session import LOGIN_ROUTE, SESSION_ENDED
from core_client.client import CoreClient
from core_client.errors import Forbidden, OpsPilotError
from core_client.identity import Actor
from core_client.notices import notify_approvers

Action = Callable[[CoreClient, Actor], Awaitable[Outcome[Any]]]


class Acting(rx.State, mixin=True):
    """Mix into a ``SessionState`` subclass whose page offers actions."""

    acting: bool = False

    async def _perform(
        self, action: Action, *, then: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[EventSpec]:
        """Run ``action`` as the verified user; yields the toast (and a redirect when the session ended).

        ``then`` runs after an action that was done (a reload of the page's data, say).
        """
        async with self:
            if self.acting:
                return
            self.acting = True
        outcome: Outcome[Any] | None = None
        try:
            user = await self.verified_user()
            core = await runtime.core()
            outcome = await action(core, user.actor())
        except Forbidden as exc:
            yield rx.toast.error(exc.message, duration=8000)
            if exc.message == SESSION_ENDED:
                yield rx.redirect(LOGIN_ROUTE)
        except OpsPilotError as exc:
            yield rx.toast.error(str(exc), duration=8000)
        finally:
            async with self:
                self.acting = False
        if outcome is None:
            return
        if outcome.done:
            yield rx.toast.success(outcome.message)
            if then is not None:
                await then()
            return
        yield rx.toast.info(outcome.message, description=f"Request {outcome.request_id} waits in Approvals.")
        if outcome.new_request:
            await notify_approvers(core, await asyncio.to_thread(core.gate.approvals.get, outcome.request_id))
