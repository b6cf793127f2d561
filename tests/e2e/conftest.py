"""One console for the whole browser session: the repo's app under ``reflex.testing.AppHarness`` and Debian's
Chromium driven by Playwright.

The app gets its own data folder and an empty opspilot.toml, so the demo providers build a fresh default world
there, and nothing a test does reaches the developer's world.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(autouse=True)
def _isolated_settings() -> None:
    """The session's app keeps the settings :func:`console_app` gave it, for every test (overrides tests/conftest)."""


@pytest.fixture(scope="session")
def console_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The running console (``reflex.testing.AppHarness``), with its CoreClient already built."""
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
        with AppHarness.create(root=REPO_ROOT, app_name="console") as harness:
            _warm_up(f"{get_config().api_url}/health")
            yield harness
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _warm_up(health_url: str) -> None:
    """Ask /health once, so the first page does not wait for the providers to load; 503 is an answer too."""
    try:
        urllib.request.urlopen(health_url, timeout=WARM_UP_SECONDS).close()
    except urllib.error.HTTPError as exc:
        assert exc.code == 503, f"/health answered {exc.code}"
        print(f"/health: 503 {exc.read().decode()[:2000]}")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, through Playwright (never a downloaded browser)."""
    executable = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, console_app) -> Iterator[object]:
    """A fresh browser page (own context) aimed at the console."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=console_app.frontend_url)
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(page, name: str) -> Path:
    """Save the whole page under tests/artifacts/ (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
