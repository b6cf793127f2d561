"""Steps in the Copilot panel, shared by the browser tests: open it, ask, offer a proposed ticket, wait for DONE."""

from __future__ import annotations

from typing import Any

QUESTION = "Why are orders failing?"
RUN_TIMEOUT_MS = 60_000


def open_panel(tab: Any, path: str = "/incidents") -> None:
    tab.goto(path)
    tab.get_by_test_id("copilot-toggle").click()
    tab.get_by_test_id("copilot-panel").wait_for()


def ask(tab: Any, question: str = QUESTION) -> Any:
    """Ask in the panel and wait for the run to finish; returns its turn."""
    before = tab.get_by_test_id("copilot-turn").count()
    tab.get_by_test_id("copilot-input").fill(question)
    tab.get_by_test_id("copilot-ask").click()
    turn = tab.get_by_test_id("copilot-turn").nth(before)
    turn.get_by_test_id("copilot-answer").wait_for(timeout=RUN_TIMEOUT_MS)
    return turn


def states(turn: Any) -> list[str]:
    return [text.strip() for text in turn.get_by_test_id("run-state").all_inner_texts()]


def propose_ticket(tab: Any, turn: Any) -> Any:
    """Offer the answer's ticket for approval; returns the follow-up run's turn."""
    before = tab.get_by_test_id("copilot-turn").count()
    turn.get_by_test_id("propose-action").first.click()
    follow_up = tab.get_by_test_id("copilot-turn").nth(before)
    follow_up.get_by_text("NEEDS_APPROVAL").first.wait_for(timeout=RUN_TIMEOUT_MS)
    return follow_up


def wait_done(turn: Any) -> None:
    turn.get_by_test_id("run-state").filter(has_text="DONE").wait_for(timeout=RUN_TIMEOUT_MS)
