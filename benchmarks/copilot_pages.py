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

    .venv/bin/python benchmarks/copilot_pages.py [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
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
class Figures:
    millis: list[float] = field(default_factory=list)
    kilobytes: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)


def _ask(tab: Any, frames: Frames, index: int) -> tuple[float, Frames]:
    tab.get_by_test_id("copilot-input").fill(QUESTION)
    frames.reset()
    millis = float(tab.evaluate(ASK, index))
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        tab.wait_for_timeout(50)
    return millis, Frames(frames.count, frames.size)


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


def measure(base_url: str, rounds: int) -> tuple[dict[int, Figures], Pages]:
    from playwright.sync_api import sync_playwright

    figures = {1: Figures(), TURNS: Figures()}
    frames = Frames()
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
        _ask(tab, frames, 0)
        for _ in range(rounds):
            tab.get_by_test_id("new-conversation").click()
            tab.wait_for_function("!document.querySelector('[data-testid=\"copilot-turn\"]')")
            for index in range(TURNS):
                millis, received = _ask(tab, frames, index)
                if index + 1 in figures:
                    shown = figures[index + 1]
                    shown.millis.append(millis)
                    shown.kilobytes.append(received.size / 1000)
                    shown.frames.append(received.count)
        tab.get_by_test_id("copilot-close").click()
        pages = measure_pages(tab, stored=rounds * TURNS + 1)
        browser.close()
    return figures, pages


def run_millis(rounds: int) -> dict[int, list[float]]:
    """The run's own milliseconds (created to finished) of each of the last ``rounds`` rounds' first and last
    questions, read from the store the console wrote (the data folder ``prepare`` set)."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=REPO / ".opspilot" / "bench-panel")
    args = parser.parse_args()

    prepare(args.dir, scale=1.0)
    from reflex.testing import AppHarnessProd

    with AppHarnessProd.create(root=REPO, app_name="console") as harness:
        assert harness.frontend_url is not None
        figures, pages = measure(harness.frontend_url, args.rounds)

    runs = run_millis(args.rounds)
    panel = {
        shown: [asked - run for asked, run in zip(figure.millis, runs[shown], strict=True)]
        for shown, figure in figures.items()
    }
    print(
        f"\n{'turns shown':<14}{'question to answer (ms)':>30}{'the run itself (ms)':>30}{'the panel (ms)':>26}"
        f"{'received (kB)':>28}{'frames':>10}"
    )
    for shown, figure in figures.items():
        frames = statistics.median(figure.frames)
        print(
            f"{shown:<14}{_spread(figure.millis):>30}{_spread(runs[shown]):>30}{_spread(panel[shown]):>26}"
            f"{_spread(figure.kilobytes):>28}{frames:>10.0f}"
        )
    asked = {shown: statistics.median(figure.millis) for shown, figure in figures.items()}
    print(
        f"\n{TURNS} turns / 1 turn, median question to answer: {asked[TURNS] / asked[1]:.2f}x ({args.rounds} rounds)"
    )
    grown = statistics.median(panel[TURNS]) - statistics.median(panel[1])
    print(
        f"the panel's share at {TURNS} turns less at 1: {grown:+.1f} ms, {grown / asked[1]:+.1%} of a question "
        "to answer at 1 turn (budget: within 10%)"
    )
    print(
        f"/runs from the sidebar to its first {RUNS_PAGE} rows: {_spread(pages.runs_ms)} ms "
        f"({len(pages.runs_ms)} times, {args.rounds * TURNS + 1} runs stored)"
    )
    print(
        f"a run's page (steps folded) at {VIEWPORT['width']}x{VIEWPORT['height']}: {pages.run_height} px tall"
    )


if __name__ == "__main__":
    main()
