"""Every event handler of every console state, called over a real websocket as an attacker would.

The console's backend runs (``reflex run --backend-only``) over a small demo world; browserless tabs
(tests/support/reflex_ws.py) call each handler with no session, with a signed-out one, with an expired one, and
with a viewer's. Without a live session every handler is refused (sent to sign in) and nothing but defaults comes
back; a viewer is refused every handler that changes something and nothing changes in the database. A tab left
open is cut off at its next event once its session ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import time
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from reflex.state import BaseState, State
from reflex_base.event import EventHandler
from reflex_base.utils.format import json_dumps
from sqlalchemy import text

import console.console  # noqa: F401  (every page and state, as the server has them)
from console.backend.session import COOKIE_NAME, ConsoleSessions
from console.state.session import PUBLIC_MARKER, ROLES_MARKER, SessionState
from core_client.client import CoreClient
from core_client.identity import Role
from core_client.settings import load_settings
from core_client.store import Database
from tests.conftest import REPO_ROOT
from tests.demo.world_fixture import build_small, install
from tests.support.reflex_ws import Outcome, ReflexTab

PASSWORD = "correct horse battery"
STARTUP_SECONDS = 180
TABS_PER_CALLER = 6
# Handlers a viewer may not run only because they would end the test's own session.
ENDS_THE_SESSION = {"sign_out"}


@dataclass
class Backend:
    url: str
    database_url: str
    tokens: dict[str, str]

    def end_session(self, token: str) -> None:
        database = Database(self.database_url)
        try:
            with database.transaction() as session:
                session.execute(
                    text("DELETE FROM console_sessions WHERE token_sha256 = :sha"),
                    {"sha": hashlib.sha256(token.encode()).hexdigest()},
                )
        finally:
            database.dispose()

    def count(self, sql: str) -> int:
        database = Database(self.database_url)
        try:
            with database.transaction() as session:
                return int(session.execute(text(sql)).scalar_one())
        finally:
            database.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _prepare(home: Path) -> tuple[str, dict[str, str]]:
    """The demo world and the callers' sessions, in the data folder the backend will use."""
    built = build_small(home / "world")
    install(built)
    settings = load_settings()

    async def sessions() -> dict[str, str]:
        core = CoreClient.from_settings(settings)
        try:
            directory = ConsoleSessions.of(core)
            directory.users.add("vera", Role.VIEWER, PASSWORD)
            directory.users.add("rick", Role.RESPONDER, PASSWORD)
            tokens = {
                "viewer": (await directory.sign_in("vera", PASSWORD))[0],
                "responder": (await directory.sign_in("rick", PASSWORD))[0],
            }
            ended, _ = await directory.sign_in("rick", PASSWORD)
            await directory.sign_out(ended)
            expired, _ = await directory.sign_in("rick", PASSWORD)
            with directory.users._database.transaction() as session:
                session.execute(
                    text("UPDATE console_sessions SET expires_at = :past WHERE token_sha256 = :sha"),
                    {
                        "past": (datetime.now(UTC) - timedelta(minutes=1)).replace(tzinfo=None),
                        "sha": hashlib.sha256(expired.encode()).hexdigest(),
                    },
                )
            return {**tokens, "signed out": ended, "expired": expired, "none": ""}
        finally:
            await core.aclose()

    return settings.resolved_database_url, asyncio.run(sessions())


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    home = tmp_path_factory.mktemp("every-handler")
    (home / "opspilot.toml").write_text("")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPSORCH_", "OPSPILOT_", "REFLEX_"))
        and key not in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY")
    }
    env |= {"OPSPILOT_DATA_DIR": str(home / "data"), "OPSPILOT_CONFIG": str(home / "opspilot.toml")}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        database_url, tokens = _prepare(home)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    port = _free_port()
    log = (home / "backend.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "reflex"), "run", "--backend-only", "--backend-port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert process.poll() is None, (home / "backend.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(1)
        else:
            pytest.fail(f"the backend did not start within {STARTUP_SECONDS} s")
        yield Backend(url, database_url, tokens)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def console_states() -> list[type[BaseState]]:
    """Every state the console defines (Reflex's own internal states aside)."""
    found: list[type[BaseState]] = []
    pending = list(State.get_substates())
    while pending:
        state = pending.pop()
        pending += state.get_substates()
        if state.__module__.startswith("console."):
            found.append(state)
    return sorted(found, key=lambda s: s.get_full_name())


def handlers() -> list[tuple[type[BaseState], str, EventHandler]]:
    return [
        (state, name, handler) for state in console_states() for name, handler in state.event_handlers.items()
    ]


def _sample(annotation: Any) -> Any:
    """Some value of the annotated type (refused calls never read it; a viewer's show they are harmless)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _sample(typing.get_args(annotation)[0])
    base = origin or annotation
    samples: dict[Any, Any] = {str: "x", int: 0, float: 0.0, bool: True, dict: {}, list: []}
    return samples.get(base, "x")


def payload(handler: EventHandler) -> dict[str, Any]:
    hints = typing.get_type_hints(handler.fn)
    parameters = list(inspect.signature(handler.fn).parameters)[1:]
    return {name: _sample(hints.get(name, str)) for name in parameters}


def refused_to_sign_in(outcome: Outcome) -> bool:
    return any(
        event.get("name") == "_redirect"
        and str(event.get("payload", {}).get("path", "")).startswith("/login")
        for event in outcome.events
    )


def refusal_toast(outcome: Outcome) -> str:
    return " ".join(
        str(event.get("payload", {}).get("function", ""))
        for event in outcome.events
        if event.get("name") == "_call_function"
    )


def leaked(outcome: Outcome) -> list[str]:
    """Vars an update set to anything but their default (what a refused call must never send)."""
    by_name = {state.get_full_name(): state for state in console_states()}
    found = []
    for delta in outcome.deltas:
        for state_name, values in delta.items():
            state = by_name.get(state_name)
            if state is None or not isinstance(values, dict):
                continue
            for key, value in values.items():
                name = key.split("_rx_state_")[0]
                field = state.get_fields().get(name)
                if field is None:
                    continue  # a computed var: derived from the defaults it sits beside
                if value != json.loads(json_dumps(field.default_value())):
                    found.append(f"{state.__name__}.{name}={str(value)[:80]}")
    return found


async def call_all(
    backend: Backend,
    caller: str,
    calls: list[tuple[str, dict[str, Any]]],
    *,
    within: float = 30,
    until: Callable[[Outcome], bool] | None = None,
) -> list[Outcome]:
    """Each call in a fresh tab of ``caller``'s (several tabs at once), in order of ``calls``; with ``until``, each
    call's answer is awaited until ``until`` holds, it sends the tab to sign in or ``within`` passes, not only until a
    pause (a background event answers after its first, empty update, later on a loaded machine)."""
    cookies = {COOKIE_NAME: backend.tokens[caller]} if backend.tokens[caller] else {}
    results: list[Outcome | None] = [None] * len(calls)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(calls)):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            tab = ReflexTab(backend.url, cookies=cookies)
            try:
                # A blank page first: no on_load runs, so only the call under test can answer.
                await tab.open("/no-such-page", within=30)
                name, data = calls[index]
                results[index] = await tab.fire(name, data, within=within, done=until)
            finally:
                await tab.close()

    await asyncio.gather(*(worker() for _ in range(TABS_PER_CALLER)))
    return [result for result in results if result is not None]


def test_every_console_state_checks_the_session() -> None:
    states = console_states()
    assert len(states) >= 20
    unguarded = [s.__name__ for s in states if not issubclass(s, SessionState)]
    assert unguarded == [], "every console state must be a SessionState (its handlers check the session)"
    for state, name, handler in handlers():
        if name == "setvar" or getattr(handler.fn, PUBLIC_MARKER, False):
            continue
        assert getattr(handler.fn, "_opspilot_guarded", False), f"{state.__name__}.{name} is not guarded"


@pytest.mark.parametrize("caller", ["none", "signed out", "expired"])
def test_without_a_live_session_every_handler_is_refused(backend: Backend, caller: str) -> None:
    chosen = [
        (state, name, handler)
        for state, name, handler in handlers()
        if not getattr(handler.fn, PUBLIC_MARKER, False) and name != "setvar"
    ]
    calls = [(f"{state.get_full_name()}.{name}", payload(handler)) for state, name, handler in chosen]
    outcomes = asyncio.run(call_all(backend, caller, calls, until=lambda _outcome: False))

    problems = []
    for (state, name, _), outcome in zip(chosen, outcomes, strict=True):
        if not refused_to_sign_in(outcome):
            problems.append(f"{state.__name__}.{name}: not sent to sign in ({outcome.errors})")
        if leaks := leaked(outcome):
            problems.append(f"{state.__name__}.{name}: sent {leaks}")
    assert problems == []


def test_a_viewer_is_refused_every_change_and_changes_nothing(backend: Backend) -> None:
    before = backend.count("SELECT count(*) FROM approval_requests")
    chosen = [
        (state, name, handler)
        for state, name, handler in handlers()
        if name not in ENDS_THE_SESSION and name != "setvar"
    ]
    gated = [getattr(handler.fn, ROLES_MARKER, None) is not None for _, _, handler in chosen]
    calls = [(f"{state.get_full_name()}.{name}", payload(handler)) for state, name, handler in chosen]
    # A handler that needs a role answers a viewer with a refusal, awaited however long a loaded machine takes;
    # one with nothing to do for a viewer sends nothing back: a few seconds of silence is its answer.
    refusals = asyncio.run(
        call_all(
            backend,
            "viewer",
            [call for call, needs in zip(calls, gated, strict=True) if needs],
            until=lambda outcome: "vera is a viewer" in refusal_toast(outcome),
        )
    )
    silences = asyncio.run(
        call_all(
            backend, "viewer", [call for call, needs in zip(calls, gated, strict=True) if not needs], within=4
        )
    )
    outcomes = [(refusals if needs else silences).pop(0) for needs in gated]

    problems = []
    for (state, name, handler), outcome in zip(chosen, outcomes, strict=True):
        needed = getattr(handler.fn, ROLES_MARKER, None)
        if refused_to_sign_in(outcome) and not getattr(handler.fn, PUBLIC_MARKER, False):
            problems.append(f"{state.__name__}.{name}: a live viewer was sent to sign in")
        elif needed is not None and "vera is a viewer" not in refusal_toast(outcome):
            problems.append(
                f"{state.__name__}.{name}: needs {needed[0]} but ran for a viewer ({outcome.errors})"
            )
    assert problems == []
    assert backend.count("SELECT count(*) FROM approval_requests") == before
    assert (
        backend.count("SELECT count(*) FROM audit_events WHERE actor_user = 'vera' AND tool != 'users'") == 0
    )
    # Setting any var from the browser is refused outright.
    refused = asyncio.run(
        call_all(
            backend,
            "viewer",
            [(f"{SessionState.get_full_name()}.setvar", {"var_name": "role", "value": "admin"})],
        )
    )
    assert "through its own events only" in refusal_toast(refused[0])


def test_an_open_tab_is_cut_off_at_its_next_event_once_the_session_ends(backend: Backend) -> None:
    from console.state.incidents import IncidentsState

    async def scenario() -> tuple[Outcome, Outcome]:
        tab = ReflexTab(backend.url, cookies={COOKIE_NAME: backend.tokens["responder"]})
        try:
            opened = await tab.open("/incidents")
            backend.end_session(backend.tokens["responder"])
            after = await tab.fire(f"{IncidentsState.get_full_name()}.next_page")
            return opened, after
        finally:
            await tab.close()

    opened, after = asyncio.run(scenario())
    rows = [
        values
        for delta in opened.deltas
        for name, values in delta.items()
        if name == IncidentsState.get_full_name() and any(key.startswith("rows") for key in values)
    ]
    assert rows, f"the signed-in tab never showed incidents: {opened.errors}"
    assert refused_to_sign_in(after)
    assert leaked(after) == []
