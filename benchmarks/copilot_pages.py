"""What the Copilot costs the browser: a question at 1 vs 8 turns shown, the runs list, a run's page.

Serves the console with ``reflex.testing.AppHarnessProd`` (the exported frontend, as in production) over the
default demo world in its own data folder, signs in with Chromium, and in each round starts a new conversation
and asks the same question eight times in a row. For the first question (1 turn shown) and the eighth (8 turns
shown) it records, from the click on Ask to the moment the new turn shows DONE in the DOM:

- the time (``performance.now()`` in the page, a MutationObserver watching for the badge);
- the websocket frames and bytes the browser received (every frame until the answer, plus any that follow
  within half a second).

Median and spread over ``--rounds`` rounds, and the ratio of the 8-turn time to the 1-turn time (the panel's
budget: within 10%). The run's own time (created to finished, read from the store afterwards) varies from run to
run whatever the conversation's length, so each question's time less its run's own is shown beside it: the
panel's share, which is what the turns shown could make grow. Then, with every run of those rounds stored: the time from a click on "Copilot runs" in the
sidebar to its rows in the DOM, and the height of a run's page at 1440x1000 (steps folded, as it opens).

The backend runs in this process, so the full collections of CPython's collector during each question are counted
too (with the time they paused everything). ``--baseline`` interleaves rounds under CPython's default collector
with the console's (console/collector.py), and prints both.

    .venv/bin/python benchmarks/copilot_pages.py [--rounds 3] [--baseline] [--dir DIR]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# The data folder, world and user the console benchmarks share.
from benchmarks.console_pages import PASSWORD, USER, prepare  # noqa: E402
from console.collector import CPYTHON_DEFAULT, size_for_the_console  # noqa: E402
from tests.e2e.conftest import CHROMIUM_ARGS, VIEWPORT  # noqa: E402

QUESTION = "Why are orders failing?"
TURNS = 8
TIMEOUT_MS = 120_000
SETTLE_S = 0.5

# Clicks Ask, then resolves with the milliseconds until the turn at ``index`` shows DONE (or FAILED).
ASK = """
async (index) => {
  const done = () => {
    const turn = document.querySelectorAll('[data-testid="copilot-turn"]')[index];
    if (!turn) return false;
    return [...turn.querySelectorAll('[data-testid="run-state"]')]
      .some((badge) => ['DONE', 'FAILED'].includes(badge.textContent.trim()));
  };
  const start = performance.now();
  document.querySelector('[data-testid="copilot-ask"]').click();
  return await new Promise((resolve, reject) => {
    const observer = new MutationObserver(() => {
      if (done()) { observer.disconnect(); resolve(performance.now() - start); }
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
    setTimeout(() => { observer.disconnect(); reject(new Error('no answer within 120 s')); }, 120000);
  });
}
"""


@dataclass
class Frames:
    """Websocket frames received since the last ``reset``."""

    count: int = 0
    size: int = 0

    def take(self, payload: str | bytes) -> None:
        self.count += 1
        self.size += len(payload.encode() if isinstance(payload, str) else payload)

    def reset(self) -> None:
        self.count = self.size = 0


@dataclass
class Collections:
    """Full collections of this process's collector (the backend's among them) since the last ``reset``."""

    count: int = 0
    millis: float = 0.0
    _started: float = 0.0

    def observe(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.millis += (time.perf_counter() - self._started) * 1000

    def reset(self) -> None:
        self.count, self.millis = 0, 0.0


# How the rounds size the collector: the console's own way, and CPython's default (the baseline).
COLLECTORS = {"console": size_for_the_console, "cpython": lambda: gc.set_threshold(*CPYTHON_DEFAULT)}


@dataclass
class Figures:
    millis: list[float] = field(default_factory=list)
    kilobytes: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    full_collections: list[int] = field(default_factory=list)
    collection_millis: list[float] = field(default_factory=list)


def _ask(tab: Any, frames: Frames, collections: Collections, index: int) -> tuple[float, Frames, Collections]:
    tab.get_by_test_id("copilot-input").fill(QUESTION)
    frames.reset()
    collections.reset()
    millis = float(tab.evaluate(ASK, index))
    during = Collections(collections.count, collections.millis)
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        tab.wait_for_timeout(50)
    return millis, Frames(frames.count, frames.size), during


# Clicks a sidebar link, then resolves with the milliseconds until ``rows`` match at least ``count`` elements.
NAVIGATE = """
async ([link, rows, count]) => {
  const start = performance.now();
  document.querySelector(`[data-testid="${link}"]`).click();
  return await new Promise((resolve, reject) => {
    const done = () => document.querySelectorAll(`[data-testid="${rows}"]`).length >= count;
    const observer = new MutationObserver(() => {
      if (done()) { observer.disconnect(); resolve(performance.now() - start); }
    });
    observer.observe(document.body, {subtree: true, childList: true});
    setTimeout(() => { observer.disconnect(); reject(new Error('no rows within 60 s')); }, 60000);
  });
}
"""
RUNS_PAGE = 25


@dataclass
class Pages:
    runs_ms: list[float] = field(default_factory=list)
    run_height: int = 0


def measure_pages(tab: Any, stored: int, repeats: int = 5) -> Pages:
    """The runs list opened from the sidebar (its first page of ``stored`` runs), and the height of the newest
    run's page."""
    pages = Pages()
    for _ in range(repeats):
        tab.goto("/incidents", timeout=TIMEOUT_MS)
        tab.get_by_test_id("incident-row").first.wait_for(timeout=TIMEOUT_MS)
        pages.runs_ms.append(
            float(tab.evaluate(NAVIGATE, ["nav-copilot-runs", "run-row", min(stored, RUNS_PAGE)]))
        )
    tab.get_by_test_id("run-link").first.click()
    tab.get_by_test_id("run-steps").wait_for(timeout=TIMEOUT_MS)
    tab.wait_for_timeout(1000)
    pages.run_height = int(tab.evaluate("document.documentElement.scrollHeight"))
    return pages


def measure(base_url: str, rounds: int, collectors: list[str]) -> tuple[dict[str, dict[int, Figures]], Pages]:
    """``rounds`` rounds under each of ``collectors``, interleaved (the first collector's round first)."""
    from playwright.sync_api import sync_playwright

    figures = {collector: {1: Figures(), TURNS: Figures()} for collector in collectors}
    frames = Frames()
    collections = Collections()
    gc.callbacks.append(collections.observe)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        tab = browser.new_context(viewport=VIEWPORT, base_url=base_url).new_page()
        tab.on("websocket", lambda socket: socket.on("framereceived", frames.take))
        tab.goto("/login", timeout=TIMEOUT_MS)
        tab.locator("#username").fill(USER)
        tab.locator("#password").fill(PASSWORD)
        tab.get_by_test_id("sign-in").click()
        tab.wait_for_url(lambda url: "/login" not in url, timeout=TIMEOUT_MS)
        tab.goto("/incidents", timeout=TIMEOUT_MS)
        tab.get_by_test_id("copilot-toggle").click()
        tab.get_by_test_id("copilot-panel").wait_for()
        # A warm-up question: the first run of a process builds the Copilot and its tools.
        _ask(tab, frames, collections, 0)
        for round_ in range(rounds * len(collectors)):
            collector = collectors[round_ % len(collectors)]
            COLLECTORS[collector]()
            # Each round starts with nothing promoted: what one setting promoted must not start the full
            # collections of the next one's round.
            gc.collect()
            tab.get_by_test_id("new-conversation").click()
            tab.wait_for_function("!document.querySelector('[data-testid=\"copilot-turn\"]')")
            for index in range(TURNS):
                millis, received, during = _ask(tab, frames, collections, index)
                if index + 1 in figures[collector]:
                    shown = figures[collector][index + 1]
                    shown.millis.append(millis)
                    shown.kilobytes.append(received.size / 1000)
                    shown.frames.append(received.count)
                    shown.full_collections.append(during.count)
                    shown.collection_millis.append(during.millis)
        size_for_the_console()
        tab.get_by_test_id("copilot-close").click()
        pages = measure_pages(tab, stored=rounds * len(collectors) * TURNS + 1)
        browser.close()
    gc.callbacks.remove(collections.observe)
    return figures, pages


def run_millis(rounds: int) -> dict[int, list[float]]:
    """The run's own milliseconds (created to finished) of each of the last ``rounds`` rounds' first and last
    questions, oldest round first, read from the store the console wrote (the data folder ``prepare`` set)."""
    from copilot.store import RunStore
    from core_client.clock import SystemClock
    from core_client.settings import load_settings
    from core_client.store import Database

    store = RunStore(Database.from_settings(load_settings()), clock=SystemClock())
    conversations: dict[str, list[Any]] = {}
    for run in reversed(store.list_runs(limit=rounds * TURNS)):
        conversations.setdefault(run.conversation_id, []).append(run)
    measured = [runs for runs in conversations.values() if len(runs) == TURNS]
    return {
        shown: [
            (runs[shown - 1].finished_at - runs[shown - 1].created_at).total_seconds() * 1000
            for runs in measured
        ]
        for shown in (1, TURNS)
    }


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):>9.1f} ({min(values):.1f}-{max(values):.1f})"


def _report(collector: str, figures: dict[int, Figures], runs: dict[int, list[float]], rounds: int) -> None:
    panel = {
        shown: [asked - run for asked, run in zip(figure.millis, runs[shown], strict=True)]
        for shown, figure in figures.items()
    }
    print(f"\nthe {collector} collector ({rounds} rounds)")
    print(
        f"{'turns shown':<14}{'question to answer (ms)':>30}{'the run itself (ms)':>30}{'the panel (ms)':>26}"
        f"{'received (kB)':>28}{'frames':>8}{'full collections':>18}{'their pause (ms)':>28}"
    )
    for shown, figure in figures.items():
        print(
            f"{shown:<14}{_spread(figure.millis):>30}{_spread(runs[shown]):>30}{_spread(panel[shown]):>26}"
            f"{_spread(figure.kilobytes):>28}{statistics.median(figure.frames):>8.0f}"
            f"{sum(figure.full_collections) / len(figure.full_collections):>13.1f} each"
            f"{_spread(figure.collection_millis):>28}"
        )
    asked = {shown: statistics.median(figure.millis) for shown, figure in figures.items()}
    print(f"{TURNS} turns / 1 turn, median question to answer: {asked[TURNS] / asked[1]:.2f}x")
    grown = statistics.median(panel[TURNS]) - statistics.median(panel[1])
    print(
        f"the panel's share at {TURNS} turns less at 1: {grown:+.1f} ms, {grown / asked[1]:+.1%} of a question "
        "to answer at 1 turn (budget: within 10%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds under each collector")
    parser.add_argument(
        "--baseline", action="store_true", help="also rounds under CPython's default collector, interleaved"
    )
    parser.add_argument("--dir", type=Path, default=REPO / ".opspilot" / "bench-panel")
    args = parser.parse_args()

    prepare(args.dir, scale=1.0)
    from reflex.testing import AppHarnessProd

    collectors = ["console", "cpython"] if args.baseline else ["console"]
    with AppHarnessProd.create(root=REPO, app_name="console") as harness:
        assert harness.frontend_url is not None
        figures, pages = measure(harness.frontend_url, args.rounds, collectors)

    stored = args.rounds * len(collectors)
    every_run = run_millis(stored)
    for position, collector in enumerate(collectors):
        # The store lists the rounds in the order they were asked: every len(collectors)-th is this collector's.
        runs = {shown: millis[position :: len(collectors)] for shown, millis in every_run.items()}
        _report(collector, figures[collector], runs, args.rounds)
    print(
        f"\n/runs from the sidebar to its first {RUNS_PAGE} rows: {_spread(pages.runs_ms)} ms "
        f"({len(pages.runs_ms)} times, {stored * TURNS + 1} runs stored)"
    )
    print(
        f"a run's page (steps folded) at {VIEWPORT['width']}x{VIEWPORT['height']}: {pages.run_height} px tall"
    )


if __name__ == "__main__":
    main()
