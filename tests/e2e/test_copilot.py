"""The Copilot in real Chromium: ask, watch the states, follow up, open a citation, and every approval path."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.panel import RUN_TIMEOUT_MS, ask, open_panel, propose_ticket, states, wait_done

pytestmark = pytest.mark.browser


def test_ask_follow_up_and_open_a_cited_log_line(page: Any) -> None:
    open_panel(page)

    first = ask(page)
    trace = states(first)
    assert trace[0] == "PLAN" and trace[-1] == "DONE"
    assert {"EXECUTE_TOOL", "EVALUATE"} <= set(trace)
    assert first.get_by_test_id("tool-card").count() > 0
    assert "orders-api" in first.get_by_test_id("copilot-answer").inner_text()

    second = ask(page, "What changed just before that?")
    assert states(second)[-1] == "DONE"
    screenshot(page, "copilot-panel")

    citation = first.locator('[data-testid="citation"][href*="highlight="]').first
    href = citation.get_attribute("href")
    citation.click()
    page.wait_for_url(lambda url: "/logs" in url and "highlight=" in url)
    marked = page.locator('[data-testid="log-row"][data-highlighted="true"]')
    marked.wait_for(timeout=RUN_TIMEOUT_MS)
    assert marked.is_visible() and href
    screenshot(page, "copilot-citation-log")


def test_each_kind_of_question_gets_its_own_verdict_first(page: Any) -> None:
    open_panel(page)
    verdicts = {
        question: ask(page, question).get_by_test_id("answer-verdict").inner_text()
        for question in ("Is payflow down?", "Who is on call for orders-api?", "asdf qwerty")
    }
    assert verdicts["Is payflow down?"].startswith("No, payflow is healthy")
    assert "is on call for orders-api" in verdicts["Who is on call for orders-api?"]
    assert verdicts["asdf qwerty"].startswith("I could not tell what this question asks")
    screenshot(page, "copilot-question-kinds")


def test_ask_propose_approve_propose_again_files_one_ticket_linked_both_ways(
    page_as: Callable[[str], Any],
) -> None:
    tab = page_as("approver")
    # Another approver's console, open on some page: its badge counts the new request without a reload.
    other = page_as("admin")
    other.goto("/incidents")
    other.get_by_test_id("nav-approvals").wait_for()
    waiting_before = _badge(other)

    open_panel(tab)
    answer = ask(tab)
    follow_up = propose_ticket(tab, answer)
    expect(other.get_by_test_id("approvals-badge")).to_have_text(str(waiting_before + 1), timeout=15_000)

    dialog = tab.get_by_test_id("approval-dialog")
    dialog.wait_for()
    assert "create_ticket" in dialog.inner_text()
    # The ticket as it will read, not its arguments as JSON.
    assert dialog.get_by_test_id("preview-headline").inner_text().startswith("File a ticket: ")
    assert "linked to incident" in dialog.get_by_test_id("preview-blast-radius").inner_text()
    # Rendered as it will read: Markdown headings are headings, not "## ..." text.
    body = dialog.get_by_test_id("preview-body")
    assert body.get_by_role("heading", name="Summary").count() == 1
    assert "## " not in body.inner_text()
    # While it waits, the button that proposed it says so and cannot be pressed again.
    offered = answer.get_by_test_id("proposal-state").first
    expect(offered).to_have_text("Waiting for approval")
    expect(answer.get_by_test_id("propose-action").first).to_be_disabled()
    screenshot(tab, "copilot-approval-dialog")
    tab.get_by_test_id("approve-button").click()
    wait_done(follow_up)

    # Done: the button names the ticket and opens it; it stays disabled.
    expect(offered).to_have_text(re.compile(r"^Filed as OPS-\d+$"), timeout=RUN_TIMEOUT_MS)
    key = offered.inner_text().removeprefix("Filed as ")
    expect(answer.get_by_test_id("propose-action").first).to_be_disabled()
    screenshot(tab, "copilot-proposal-filed")

    # Proposing again from a new answer updates that ticket instead of filing a second one, and says so.
    again = ask(tab)
    update = propose_ticket(tab, again)
    assert f"Update ticket {key}" in update.inner_text()
    dialog.wait_for()
    assert dialog.get_by_test_id("preview-headline").inner_text().startswith(f"Update ticket {key}")
    tab.get_by_test_id("approve-button").click()
    wait_done(update)
    expect(again.get_by_test_id("proposal-state").first).to_have_text(
        f"Updated {key}", timeout=RUN_TIMEOUT_MS
    )

    # The ticket names its incident, and the incident lists the ticket: linked both ways, and only once.
    offered.click()
    tab.wait_for_url(re.compile(r"/tickets/"))
    title = tab.get_by_test_id("ticket-heading").inner_text()
    incident = tab.locator('a[href^="/incidents/INC-"]').first
    incident.wait_for()
    incident_id = incident.inner_text()
    incident.click()
    tab.wait_for_url(re.compile(f"/incidents/{incident_id}"))
    tickets = tab.get_by_test_id("panel-related-tickets")
    expect(tickets).to_contain_text(key, timeout=RUN_TIMEOUT_MS)
    assert tickets.inner_text().count(key) == 1
    tab.goto("/tickets")
    rows = tab.get_by_test_id("ticket-row")
    rows.first.wait_for()
    assert rows.filter(has_text=title).count() == 1


def _badge(tab: Any) -> int:
    """What the approvals badge says (0 when it is hidden: nothing waits)."""
    badge = tab.get_by_test_id("approvals-badge")
    return int(badge.inner_text()) if badge.count() else 0


def test_reject_in_the_dialog_and_the_run_plans_again(page_as: Callable[[str], Any]) -> None:
    tab = page_as("approver")
    open_panel(tab)
    follow_up = propose_ticket(tab, ask(tab))

    tab.get_by_test_id("approval-dialog").wait_for()
    tab.get_by_test_id("reject-reason").fill("a ticket already exists for this")
    tab.get_by_test_id("reject-button").click()
    wait_done(follow_up)

    trace = states(follow_up)
    assert "PLAN" in trace[trace.index("NEEDS_APPROVAL") + 1 :]


def test_a_second_user_approves_from_the_inbox(page_as: Callable[[str], Any]) -> None:
    rick = page_as("responder")
    open_panel(rick)
    follow_up = propose_ticket(rick, ask(rick))
    assert rick.get_by_test_id("approval-dialog").count() == 0, "a responder is never offered the dialog"

    abby = page_as("approver")
    abby.goto("/approvals")
    abby.get_by_test_id("pending-request").first.wait_for()
    screenshot(abby, "approvals")
    abby.get_by_test_id("inbox-approve").first.click()

    wait_done(follow_up)


def test_a_viewer_finds_no_approve_button(page_as: Callable[[str], Any]) -> None:
    rick = page_as("responder")
    open_panel(rick)
    propose_ticket(rick, ask(rick))

    vera = page_as("viewer")
    vera.goto("/approvals")
    vera.get_by_test_id("pending-request").first.wait_for()
    assert vera.get_by_test_id("inbox-approve").count() == 0
    assert vera.get_by_test_id("propose-action").count() == 0


def test_the_runs_page_shows_the_trace(page: Any) -> None:
    open_panel(page)
    ask(page)
    page.goto("/runs")
    page.get_by_test_id("run-row").first.wait_for()
    screenshot(page, "runs")
    page.get_by_test_id("run-row").first.get_by_role("link").click()
    page.get_by_test_id("run-step").first.wait_for()
    screenshot(page, "run")


def test_a_postmortem_draft_reads_in_the_panel_downloads_and_shows_on_the_run_page(page: Any) -> None:
    open_panel(page)
    turn = ask(page)
    turn.get_by_test_id("draft-postmortem").click()
    dialog = page.get_by_test_id("draft-dialog")
    body = dialog.get_by_test_id("draft-body")
    # Rendered as a document: its sections are headings, its evidence links.
    expect(body.get_by_role("heading", name="Action items")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    assert body.get_by_role("heading", name=re.compile(r"^Postmortem \(draft\): ")).count() == 1
    assert body.locator('a[href*="/incidents/INC-"]').count() > 0
    screenshot(page, "copilot-postmortem-draft")
    with page.expect_download() as downloading:
        dialog.get_by_test_id("draft-download").click()
    saved = Path(downloading.value.path()).read_text(encoding="utf-8")
    assert saved.startswith("# Postmortem (draft): ") and "\n## Action items\n" in saved
    dialog.get_by_role("button", name="Close").click()

    turn.get_by_test_id("run-link").click()
    page.wait_for_url(re.compile(r"/runs/"))
    page.get_by_test_id("run-answer").get_by_test_id("draft-status").click()
    expect(dialog.get_by_test_id("draft-body")).to_contain_text("Status update", timeout=RUN_TIMEOUT_MS)
