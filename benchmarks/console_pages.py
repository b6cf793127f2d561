"""Event-to-render time of the console's list pages with 10k incidents and 1M log lines behind them.

Builds (or reuses) the demo world at ``--scale`` (5 gives about 1M log lines and 10k incidents) in its own data
folder, serves the console with ``reflex.testing.AppHarnessProd`` (the exported frontend, as in production), signs
in with Chromium, and times, in the page itself, from the click or the form's submit to the moment the new rows
are in the DOM (a MutationObserver and ``performance.now()``), each from a settled page (the backend has sent
nothing for a quarter of a second, so the event before has finished arriving):

- Logs: a page change (Older, then Newer, alternately) and a filter (a new search text); the volume chart with
  and without search text (backend only);
- Incidents: a page change (Next, Previous), a filter (a new search text), and a page change sorted by severity
  (the provider sorts all incidents), when the page exists.

Beside each, the backend-only time of the same operation (the console's backend function over CoreClient, the
provider included, no Reflex and no browser). Median and p95 of ``--repeats`` runs after one warm-up each.

    .venv/bin/python benchmarks/console_pages.py [--scale 5] [--repeats 30] [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# The browser as the end-to-end tests drive it.
from tests.e2e.conftest import CHROMIUM_ARGS, VIEWPORT  # noqa: E402

USER, PASSWORD = "bench", "bench password 1"
TIMEOUT_MS = 120_000
# Texts that each match lines (incidents) whose newest differs from the others', so every filter changes the rows.
LOG_TERMS = ("checkpoint", "HikariPool", "cache", "timeout")
INCIDENT_TERMS = ("latency", "error rate", "pool", "memory", "certificate", "disk", "queue", "CPU")

# Runs ``act`` (a function body acting on the page), then resolves with the milliseconds until the first element
# matching ``rows`` differs from before (another id, or another text) and, when given, contains ``expect``: the
# new rows are in the DOM (other panels, such as the Logs volume chart, may still be loading).
MEASURE = """
async ([act, rows, expect]) => {
  const first = () => document.querySelector(rows);
  // textContent, not innerText: innerText lays the page out, and the observer runs at every mutation, so the
  // measurement itself cost a list without row ids a forced layout per mutation.
  const key = (row) => row ? (row.id || row.textContent) : null;
  const before = key(first());
  const done = () => {
    const row = first();
    return row !== null && key(row) !== before
      && (!expect || row.textContent.toLowerCase().includes(expect.toLowerCase()));
  };
  const start = performance.now();
  new Function(act)();
  return await new Promise((resolve, reject) => {
    if (done()) { resolve(performance.now() - start); return; }
    const observer = new MutationObserver(() => {
      if (done()) { observer.disconnect(); resolve(performance.now() - start); }
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    setTimeout(() => { observer.disconnect(); reject(new Error('no new rows within 60 s')); }, 60000);
  });
}
"""
# Notes when the backend last sent the page anything: each event is timed from a settled page, not while the one
# before still streams its slower parts (the Logs volume chart of the search before, say).
LAST_FRAME = """
window.__lastFrame = 0;
const Socket = window.WebSocket;
window.WebSocket = class extends Socket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => { window.__lastFrame = performance.now(); });
  }
};
"""
QUIET_MS = 250
CLICK = "document.querySelector('[data-testid=\"{test_id}\"]').click();"
SUBMIT = """
const field = document.querySelector('[data-testid="{test_id}"]');
const input = field.matches('input') ? field : field.querySelector('input');
Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, {text!r});
input.form.requestSubmit();
"""


def _summary(samples: list[float]) -> str:
    if not samples:
        return f"{'-':>8}{'-':>8}"
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):>8.1f}{p95:>8.1f}"


def prepare(data_dir: Path, scale: float) -> None:
    """Point the settings at ``data_dir``, build (or reuse) the world there, and add the benchmark's user."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "opspilot.toml").touch()
    os.environ["OPSPILOT_DATA_DIR"] = str(data_dir / "data")
    os.environ["OPSPILOT_CONFIG"] = str(data_dir / "opspilot.toml")
    for variable in list(os.environ):
        if variable.startswith("OPSORCH_") or variable in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"):
            del os.environ[variable]
    from adapters.demo.build import WorldSpec
    from adapters.demo.world import DEFAULT_SCENARIO, prepare_world
    from core_client.clock import SystemClock
    from core_client.settings import load_settings
    from core_client.store import Database
    from core_client.users import UserDirectory

    settings = load_settings()
    started = time.perf_counter()
    prepared = prepare_world(settings, WorldSpec(settings.demo.seed, DEFAULT_SCENARIO, scale))
    print(
        f"world {prepared.path.name}: {'built' if prepared.built else 'cached'} in {time.perf_counter() - started:.0f} s"
    )
    database = Database.from_settings(settings, upgrade=True)
    users = UserDirectory(database, clock=SystemClock(), settings=settings)
    if not any(user.username == USER for user in users.list()):
        users.add(USER, "admin", PASSWORD)
    database.engine.dispose()


async def world_size() -> tuple[int, str]:
    """How many incidents the world holds, and what the log provider says of its lines."""
    from core_client.client import CoreClient
    from core_client.schemas import IncidentQuery

    core = CoreClient.from_settings()
    try:
        count, cursor = 0, None
        while True:
            page = await core.incidents.query(IncidentQuery(limit=1000), cursor=cursor)
            count += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        report = await core.health()
        return count, next(check.message for check in report.providers if check.capability == "log")
    finally:
        await core.aclose()


async def _timed(operation: Callable[[], Awaitable[Any]], repeats: int) -> list[float]:
    await operation()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await operation()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _changing(terms: tuple[str, ...], first_row: Callable[[str], Awaitable[str | None]]) -> list[str]:
    """The terms that find rows, each with a first row unlike the one before it (so each filter changes the rows)."""
    kept: list[tuple[str, str]] = []
    for term in terms:
        row = await first_row(term)
        if row is not None and all(row != seen for _, seen in kept[-1:]):
            kept.append((term, row))
    if len(kept) > 2 and kept[0][1] == kept[-1][1]:
        kept.pop()
    return [term for term, _ in kept]


@dataclass
class Plan:
    """What both sides time: the window of the Logs page and the search texts that change the rows."""

    now: datetime
    log_terms: list[str]
    incident_terms: list[str]


async def plan() -> Plan:
    from console.backend.incidents import IncidentFilters, incidents_page
    from console.backend.logs import LogSearch, lines_page
    from core_client.client import CoreClient
    from core_client.schemas import QueryScope

    core = CoreClient.from_settings()
    try:
        now = core.clock.now()
        search = LogSearch(start=now - timedelta(hours=24), end=now)

        async def first_line(term: str) -> str | None:
            rows = (await lines_page(core, search.model_copy(update={"q": term}))).rows
            return rows[0].id if rows else None

        async def first_incident(term: str) -> str | None:
            rows = (await incidents_page(core, IncidentFilters(text=term), QueryScope(), None)).rows
            return rows[0].id if rows else None

        return Plan(
            now, await _changing(LOG_TERMS, first_line), await _changing(INCIDENT_TERMS, first_incident)
        )
    finally:
        await core.aclose()


async def backend_figures(repeats: int, plan: Plan) -> dict[str, list[float]]:
    """The same operations without Reflex or a browser: the console's backend functions over CoreClient."""
    from console.backend.incidents import IncidentFilters, incidents_page
    from console.backend.logs import LogSearch, lines_page, volume
    from core_client.client import CoreClient
    from core_client.schemas import QueryScope

    core = CoreClient.from_settings()
    try:
        search = LogSearch(start=plan.now - timedelta(hours=24), end=plan.now)
        second = (await lines_page(core, search)).next_cursor
        cursors = cycle([second, None])
        terms = cycle(plan.log_terms)
        first_incidents = await incidents_page(core, IncidentFilters(), QueryScope(), None)
        incident_cursors = cycle([first_incidents.next_cursor, None])
        incident_terms = cycle(plan.incident_terms)
        by_severity = IncidentFilters(sort="severity")
        first_by_severity = await incidents_page(core, by_severity, QueryScope(), None)
        severity_cursors = cycle([first_by_severity.next_cursor, None])
        return {
            "logs page change": await _timed(lambda: lines_page(core, search, cursor=next(cursors)), repeats),
            "logs filter": await _timed(
                lambda: lines_page(core, search.model_copy(update={"q": next(terms)})), repeats
            ),
            "logs filter (volume)": await _timed(
                lambda: volume(core, search.model_copy(update={"q": next(terms)})), repeats
            ),
            # No search text: the chart the page opens with, read from the per-minute rollup.
            "logs volume, no search": await _timed(lambda: volume(core, search), repeats),
            "incidents page change": await _timed(
                lambda: incidents_page(core, IncidentFilters(), QueryScope(), next(incident_cursors)), repeats
            ),
            "incidents filter": await _timed(
                lambda: incidents_page(core, IncidentFilters(text=next(incident_terms)), QueryScope(), None),
                repeats,
            ),
            "incidents page change, by severity": await _timed(
                lambda: incidents_page(core, by_severity, QueryScope(), next(severity_cursors)), repeats
            ),
        }
    finally:
        await core.aclose()


def _measure(page: Any, act: str, rows: str, expect: str = "") -> float:
    # The backend has sent nothing for QUIET_MS: whatever the event before started has arrived.
    page.wait_for_function(f"performance.now() - window.__lastFrame > {QUIET_MS}", timeout=TIMEOUT_MS)
    return float(page.evaluate(MEASURE, [act, rows, expect]))


def browser_figures(base_url: str, repeats: int, plan: Plan, with_incidents: bool) -> dict[str, list[float]]:
    """The operations clicked in Chromium, timed in the page from the event to the new rows in the DOM."""
    from playwright.sync_api import expect, sync_playwright

    from core_client.links import format_time

    figures: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport=VIEWPORT, base_url=base_url)
        page.add_init_script(LAST_FRAME)
        page.set_default_timeout(TIMEOUT_MS)
        page.goto("/login")
        page.locator("#username").fill(USER)
        page.locator("#password").fill(PASSWORD)
        page.get_by_test_id("sign-in").click()
        page.wait_for_url(lambda url: "/login" not in url)

        page.goto(f"/logs?from={format_time(plan.now - timedelta(hours=24))}&to={format_time(plan.now)}")
        rows = "[data-testid=log-row]"
        expect(page.locator(rows)).to_have_count(50, timeout=TIMEOUT_MS)
        buttons = cycle(["page-next", "page-previous"])
        figures["logs page change"] = _samples(
            repeats, lambda: _measure(page, CLICK.format(test_id=next(buttons)), rows)
        )
        terms = cycle(plan.log_terms)

        def log_filter() -> float:
            term = next(terms)
            return _measure(page, SUBMIT.format(test_id="logs-q", text=term), rows, term)

        figures["logs filter"] = _samples(repeats, log_filter)

        if with_incidents:
            page.goto("/incidents")
            incident_rows = "[data-testid=incident-row]"
            expect(page.locator(incident_rows).first).to_be_visible(timeout=TIMEOUT_MS)
            pagers = cycle(["page-next", "page-previous"])
            figures["incidents page change"] = _samples(
                repeats, lambda: _measure(page, CLICK.format(test_id=next(pagers)), incident_rows)
            )
            incident_terms = cycle(plan.incident_terms)
            figures["incidents filter"] = _samples(
                repeats,
                lambda: _measure(
                    page, SUBMIT.format(test_id="filter-text", text=next(incident_terms)), incident_rows
                ),
            )
            # Sorted by the provider across all 10k incidents, not by the page on screen.
            page.goto("/incidents?sort=severity")
            expect(page.locator(incident_rows).first).to_be_visible(timeout=TIMEOUT_MS)
            severity_pagers = cycle(["page-next", "page-previous"])
            figures["incidents page change, by severity"] = _samples(
                repeats, lambda: _measure(page, CLICK.format(test_id=next(severity_pagers)), incident_rows)
            )
        browser.close()
    return figures


def _samples(repeats: int, run: Callable[[], float]) -> list[float]:
    run()
    return [run() for _ in range(repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--dir", type=Path, default=REPO / ".opspilot" / "bench-console")
    parser.add_argument(
        "--backend-only", action="store_true", help="skip the browser (no production build of the frontend)"
    )
    args = parser.parse_args()

    prepare(args.dir, args.scale)
    incidents, lines = asyncio.run(world_size())
    print(f"{incidents:,} incidents; {lines}")
    chosen = asyncio.run(plan())
    print(f"log searches {chosen.log_terms}; incident searches {chosen.incident_terms}")
    backend = asyncio.run(backend_figures(args.repeats, chosen))

    browser: dict[str, list[float]] = {}
    if not args.backend_only:
        from reflex.testing import AppHarnessProd

        with_incidents = (REPO / "console" / "pages" / "incidents.py").exists()
        with AppHarnessProd.create(root=REPO, app_name="console") as harness:
            assert harness.frontend_url is not None
            browser = browser_figures(harness.frontend_url, args.repeats, chosen, with_incidents)

    print(f"\n{'operation (ms)':<36}{'browser':>16}{'backend only':>16}")
    print(f"{'':<36}{'median':>8}{'p95':>8}{'median':>8}{'p95':>8}")
    for name in backend:
        print(f"{name:<36}{_summary(browser.get(name, []))}{_summary(backend[name])}")
    print(f"\n{args.repeats} runs each after a warm-up; browser: event to new rows in the DOM, in Chromium.")


if __name__ == "__main__":
    main()
