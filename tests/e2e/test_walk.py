"""Every page, as a person walks the console with the Copilot open beside it, at 1280 and 1440 px, as an admin and
as a viewer: nothing cut off, identifiers on one line, the page's title always the one its URL names (after Back,
Forward and a reload too), and not one browser console error or warning (the fixtures fail any test on those).
Screenshots of each page go to tests/artifacts/walk-<role>-<page>-<width>.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from .conftest import screenshot
from .layout import clipped, wrapped_ids
from .panel import ask, open_panel

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000
NO_SKELETON = ".rt-Skeleton"
# The title each route shows in the header (detail routes by their first segment).
TITLES = {
    "": "Overview",
    "incidents": "Incidents",
    "alerts": "Alerts",
    "logs": "Logs",
    "metrics": "Metrics",
    "tickets": "Tickets",
    "deployments": "Deployments",
    "services": "Services",
    "approvals": "Approvals",
    "runs": "Copilot runs",
    "settings": "Settings",
}
DETAIL_TITLES = {
    "incidents": "Incident",
    "alerts": "Alert",
    "tickets": "Ticket",
    "deployments": "Deployment",
    "services": "Service",
    "runs": "Copilot run",
    "approvals": "Approval",
}
# Each list with the test id of its rows, and of its first row's link to a record and that record's panel.
LISTS: tuple[tuple[str, str, str, str], ...] = (
    ("/", "panel-incidents", "", ""),
    ("/incidents", "incident-row", "incident-link", "panel-timeline"),
    ("/alerts", "alert-row", "alert-link", "panel-alert"),
    ("/logs", "log-row", "", ""),
    ("/metrics", "metrics-chart", "", ""),
    ("/tickets", "ticket-row", "ticket-link", "panel-ticket"),
    ("/deployments?range=7d", "deployment-row", "deployment-link", "panel-deployment"),
    ("/services", "service-row", "service-link", "panel-dependencies"),
)
OTHERS = ("/approvals", "/runs", "/settings", "/no-such-page", "/incidents/NO-SUCH-INCIDENT")
WIDTHS = (1280, 1440)
# Identifiers in lists: each on one line.
ID_LINKS = '[data-testid="incident-link"], [data-testid="ticket-link"], [data-testid="service-link"]'
PANEL = '[data-testid="copilot-panel"]'


def title_for(url: str) -> str:
    """The header title the page at ``url`` must show."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments:
        return TITLES[""]
    if len(segments) == 1 and segments[0] in TITLES:
        return TITLES[segments[0]]
    if len(segments) == 2 and segments[0] in DETAIL_TITLES:
        return DETAIL_TITLES[segments[0]]
    return "Page not found"


def settled(page: Any) -> None:
    expect(page.locator(NO_SKELETON)).to_have_count(0, timeout=TIMEOUT_MS)


def shows_its_url(page: Any) -> None:
    """The page on screen is the one the address bar names."""
    expect(page.get_by_test_id("page-title")).to_have_text(title_for(page.url), timeout=TIMEOUT_MS)


def looks_right(page: Any, name: str) -> None:
    """At each width: the page its URL names, nothing cut off, identifiers on one line; a screenshot."""
    settled(page)
    shows_its_url(page)
    height = page.viewport_size["height"]
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        assert clipped(page) == [], f"cut off on {page.url} at {width} px"
        assert wrapped_ids(page, ID_LINKS) == [], f"identifiers broken over lines on {page.url} at {width} px"
        screenshot(page, f"{name}-{width}", full_page=False)


def page_name(url: str) -> str:
    return urlsplit(url).path.strip("/").replace("/", "-") or "overview"


def walk(page: Any, role: str) -> list[str]:
    """Every list, its first record, every other page and the answer's run page, beside the open panel; returns
    the URLs visited before the run page."""
    visited: list[str] = []
    for path, row, link, record in LISTS:
        page.goto(path, timeout=TIMEOUT_MS)
        expect(page.get_by_test_id(row).first).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.get_by_test_id("copilot-panel")).to_be_visible()
        looks_right(page, f"walk-{role}-{page_name(path)}")
        expect(page.get_by_test_id("panel-error")).to_have_count(0)
        visited.append(page.url)
        if link:
            page.get_by_test_id(link).first.click()
            expect(page.get_by_test_id(record)).to_be_visible(timeout=TIMEOUT_MS)
            looks_right(page, f"walk-{role}-{page_name(path)}-record")
            expect(page.get_by_test_id("panel-error")).to_have_count(0)
            visited.append(page.url)
    expect(page.get_by_test_id("dependency").first).to_be_visible()
    for path in OTHERS:
        page.goto(path, timeout=TIMEOUT_MS)
        looks_right(page, f"walk-{role}-{page_name(path)}")
        visited.append(page.url)
    expect(page.get_by_test_id("panel-error")).to_have_count(1)  # the missing incident, said once
    # The run page, from the answer's link in the panel.
    page.get_by_test_id("run-link").first.click()
    expect(page.get_by_test_id("run-steps")).to_be_visible(timeout=TIMEOUT_MS)
    looks_right(page, f"walk-{role}-run")
    return visited


def test_every_page_beside_the_copilot_as_an_admin(page_as: Callable[..., Any]) -> None:
    page = page_as("admin", width=WIDTHS[0])
    open_panel(page)
    turn = ask(page)
    expect(turn.get_by_text("Proposed follow-ups")).to_have_count(1)
    looks_right(page, "walk-admin-copilot")

    visited = walk(page, "admin")

    # Back through the walk, then forward again: every step shows the page its address names.
    for url in reversed(visited[-6:]):
        page.go_back()
        expect(page).to_have_url(url, timeout=TIMEOUT_MS)
        shows_its_url(page)
    page.go_forward()
    expect(page).to_have_url(visited[-5], timeout=TIMEOUT_MS)
    shows_its_url(page)
    page.reload()
    shows_its_url(page)


def test_every_page_beside_the_copilot_as_a_viewer_offers_nothing_it_cannot_do(
    page_as: Callable[..., Any],
) -> None:
    page = page_as("viewer", width=WIDTHS[0])
    open_panel(page)
    turn = ask(page)
    # Proposals are for people who may act: a viewer gets neither them nor a heading over nothing.
    expect(turn.get_by_text("Proposed follow-ups")).to_have_count(0)
    expect(turn.get_by_test_id("propose-action")).to_have_count(0)
    looks_right(page, "walk-viewer-copilot")

    walk(page, "viewer")

    page.goto("/incidents", timeout=TIMEOUT_MS)
    page.get_by_test_id("incident-link").first.click()
    expect(page.get_by_test_id("panel-timeline")).to_be_visible(timeout=TIMEOUT_MS)
    for control in ("panel-actions", "note-input", "add-note"):
        expect(page.get_by_test_id(control)).to_have_count(0)
    for path, absent in (("/tickets", "ticket-create"), ("/approvals", "inbox-approve")):
        page.goto(path, timeout=TIMEOUT_MS)
        settled(page)
        expect(page.get_by_test_id(absent)).to_have_count(0)


def test_the_panel_widens_by_its_edge_and_opens_full_screen(page_as: Callable[..., Any]) -> None:
    page = page_as("viewer", width=WIDTHS[0])
    open_panel(page, "/runs")
    panel = page.get_by_test_id("copilot-panel")
    narrow = panel.bounding_box()["width"]
    edge = page.get_by_test_id("copilot-resize").bounding_box()
    page.mouse.move(edge["x"] + edge["width"] / 2, edge["y"] + 200)
    page.mouse.down()
    page.mouse.move(edge["x"] - 240, edge["y"] + 200, steps=8)
    page.mouse.up()
    wide = panel.bounding_box()["width"]
    assert wide > narrow + 200, (narrow, wide)
    # The page beside gets what is left (its tables may scroll then); the panel itself shows all it holds.
    assert clipped(page, within=PANEL) == []
    screenshot(page, "walk-viewer-panel-wide", full_page=False)
    # The width is the person's: it stays on the next page, and after a reload.
    page.get_by_test_id("nav-approvals").click()
    expect(page).to_have_url(re.compile(r"/approvals$"), timeout=TIMEOUT_MS)
    page.reload()
    expect(panel).to_be_visible(timeout=TIMEOUT_MS)
    assert abs(panel.bounding_box()["width"] - wide) < 2
    page.get_by_test_id("copilot-resize").dblclick()
    assert abs(panel.bounding_box()["width"] - narrow) < 2

    page.get_by_test_id("copilot-full").click()
    expect(panel).to_have_css("left", "0px")
    assert panel.bounding_box()["width"] >= page.viewport_size["width"] - 20  # a scrollbar at the most
    assert clipped(page, within=PANEL) == []
    screenshot(page, "walk-viewer-panel-full", full_page=False)
    page.get_by_test_id("copilot-full").click()
    expect(panel).not_to_have_css("left", "0px")


def test_a_citation_then_back_at_once_leaves_the_page_its_address(page: Any) -> None:
    open_panel(page, "/incidents")
    turn = ask(page)
    rows = page.get_by_test_id("incident-row")
    expect(rows.first).to_be_visible(timeout=TIMEOUT_MS)
    count = rows.count()

    for kind in ("metrics", "logs"):
        citation = turn.locator(f'[data-testid="citation"][href^="/{kind}?"]').first
        citation.click()
        page.wait_for_url(re.compile(f"/{kind}\\?"), timeout=TIMEOUT_MS)
        page.go_back()
        # Whatever the cited page was still loading finishes now, and must not write its address over this one.
        page.wait_for_timeout(3_000)
        expect(page).to_have_url(re.compile(r"/incidents$"))
        shows_its_url(page)
        expect(page.get_by_test_id("scope-service")).to_contain_text("any")
        expect(rows).to_have_count(count, timeout=TIMEOUT_MS)

    page.go_forward()
    page.wait_for_url(re.compile(r"/logs\?"), timeout=TIMEOUT_MS)
    shows_its_url(page)
    page.reload()
    shows_its_url(page)
    expect(page.get_by_test_id("log-row").first).to_be_visible(timeout=TIMEOUT_MS)
