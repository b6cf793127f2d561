"""One console for the whole browser session: the repo's app under ``reflex.testing.AppHarness`` and Debian's
Chromium driven by Playwright.

The app gets its own data folder and an empty opspilot.toml, so the demo providers build a fresh default world
there, and nothing a test does reaches the developer's world. Every console page needs sign-in, so the session
starts with one user per role (:data:`USERS`, all with :data:`PASSWORD`), and each is signed in through the real
form once; pages then reuse that browser storage.

Fixtures for any page's tests:

- ``page``: a fresh tab signed in as the admin (so a test can act);
- ``page_as``: ``page_as("viewer")`` opens a fresh tab signed in with that role;
- ``anonymous_page``: a fresh tab with no session (it lands on ``/login``).

Every tab these fixtures open reports its browser console: a test that leaves an error or a warning there (or an
uncaught exception in the page) fails, with the messages, when it ends.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, require, require_binary

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The first request builds the CoreClient (and, on a fresh data folder, the demo world).
WARM_UP_SECONDS = 180
SIGN_IN_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1440, "height": 1000}
PASSWORD = "e2e password 1"
# One user per role, by role.
USERS = {"viewer": "vera", "responder": "rick", "approver": "abby", "admin": "ada"}


@pytest.fixture(autouse=True)
def _isolated_settings() -> None:
    """The session's app keeps the settings :func:`console_app` gave it, for every test (overrides tests/conftest)."""


def _prepare_data() -> None:
    """The demo world and the session's users, in the app's data folder (the one the settings now point at).

    The world is built here, before the app starts: built by the backend's start-up instead, on a busy machine,
    it starves the backend thread past the harness's 30 s wait for its port."""
    from adapters.demo.world import active_spec, prepare_world
    from core_client.clock import SystemClock
    from core_client.settings import load_settings
    from core_client.store import Database
    from core_client.users import UserDirectory

    settings = load_settings()
    prepare_world(settings, active_spec(settings))
    database = Database.from_settings(settings, upgrade=True)
    users = UserDirectory(database, clock=SystemClock(), settings=settings)
    for role, username in USERS.items():
        users.add(username, role, PASSWORD, display_name=username.capitalize())
    database.engine.dispose()


class BrowserConsole:
    """The errors and warnings of every tab of the contexts it watches, for the test to fail on."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def watch(self, context: Any) -> Any:
        context.on("console", self._console)
        context.on("weberror", lambda error: self.messages.append(f"uncaught: {error.error}"))
        return context

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "") if message.location else ""
            self.messages.append(f"{message.type}: {message.text[:600]} ({where})")

    def check(self) -> None:
        assert not self.messages, "the browser console reported:\n" + "\n".join(self.messages)


@pytest.fixture
def browser_console() -> Iterator[BrowserConsole]:
    """The browser console of the test's tabs; the test fails if it shows an error or a warning."""
    console = BrowserConsole()
    yield console
    console.check()


@pytest.fixture(scope="session")
def console_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The running console (``reflex.testing.AppHarness``), with its CoreClient already built and its users added."""
    require(
        (REPO_ROOT / ".venv" / "bin" / "bun").exists()
        or any((Path(p) / "bun").exists() for p in os.environ.get("PATH", "").split(os.pathsep)),
        "bun is not installed (make setup installs it into .venv/bin)",
    )
    from reflex.config import get_config
    from reflex.testing import AppHarness

    home = tmp_path_factory.mktemp("console")
    (home / "opspilot.toml").write_text("")
    saved = dict(os.environ)
    for variable in list(os.environ):
        if variable.startswith("OPSORCH_") or variable in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"):
            del os.environ[variable]
    os.environ["OPSPILOT_DATA_DIR"] = str(home / "data")
    os.environ["OPSPILOT_CONFIG"] = str(home / "opspilot.toml")
    try:
        _prepare_data()
        with AppHarness.create(root=REPO_ROOT, app_name="console") as harness:
            _warm_up(f"{get_config().api_url}/health")
            yield harness
    finally:
        os.environ.clear()
        os.environ.update(saved)


def frontend_url(harness: Any) -> str:
    """Where the tabs open the console: on 127.0.0.1, the address the harness serves the backend on, so the page and
    its websocket are one site and the SameSite=Strict session cookie goes with the socket."""
    return str(harness.frontend_url).replace("//localhost:", "//127.0.0.1:")


def _warm_up(health_url: str) -> None:
    """Ask /health once, so the first page does not wait for the providers to load; 503 is an answer too."""
    try:
        urllib.request.urlopen(health_url, timeout=WARM_UP_SECONDS).close()
    except urllib.error.HTTPError as exc:
        assert exc.code == 503, f"/health answered {exc.code}"
        print(f"/health: 503 {exc.read().decode()[:2000]}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    executable = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def sign_in(tab: Any, username: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form on ``tab`` (which shows ``/login``) and wait to leave it."""
    tab.locator("#username").fill(username)
    tab.locator("#password").fill(password)
    tab.get_by_test_id("sign-in").click()
    tab.wait_for_url(lambda url: "/login" not in url, timeout=SIGN_IN_TIMEOUT_MS)


@pytest.fixture(scope="session")
def signed_in_storage(browser: Any, console_app: Any) -> Callable[[str], dict[str, Any]]:
    """``signed_in_storage("viewer")``: the browser storage (the session cookie) of that role, signed in once."""
    stored: dict[str, dict[str, Any]] = {}

    def storage(role: str) -> dict[str, Any]:
        if role not in stored:
            context = browser.new_context(viewport=VIEWPORT, base_url=frontend_url(console_app))
            tab = context.new_page()
            tab.goto("/login", timeout=SIGN_IN_TIMEOUT_MS)
            sign_in(tab, USERS[role])
            stored[role] = context.storage_state()
            context.close()
        return stored[role]

    return storage


@pytest.fixture
def page_as(
    browser: Any,
    console_app: Any,
    signed_in_storage: Callable[[str], dict[str, Any]],
    browser_console: BrowserConsole,
) -> Iterator[Any]:
    """``page_as(role)``: a fresh tab (own context) aimed at the console, signed in with ``role``
    (``page_as(role, width=1280)`` for a narrower window)."""
    contexts: list[Any] = []

    def open_as(role: str, *, width: int = VIEWPORT["width"]) -> Any:
        context = browser.new_context(
            viewport={**VIEWPORT, "width": width},
            base_url=frontend_url(console_app),
            storage_state=signed_in_storage(role),
        )
        contexts.append(browser_console.watch(context))
        return context.new_page()

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def page(page_as: Callable[[str], Any]) -> Any:
    """A fresh tab aimed at the console, signed in as the admin."""
    return page_as("admin")


@pytest.fixture
def anonymous_page(browser: Any, console_app: Any, browser_console: BrowserConsole) -> Iterator[Any]:
    """A fresh tab aimed at the console with no session."""
    context = browser_console.watch(
        browser.new_context(viewport=VIEWPORT, base_url=frontend_url(console_app))
    )
    yield context.new_page()
    context.close()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Save the whole page (or only the window, ``full_page=False``) under tests/artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
