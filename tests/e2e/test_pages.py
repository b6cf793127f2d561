"""Sign-in, the scope bar, filters, sorting and actions on the data pages in real Chromium (every page and record
opens in tests/e2e/test_walk.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import PASSWORD, USERS, screenshot, sign_in

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000
NO_SKELETON = ".rt-Skeleton"
# A list whose next rows are on their way (the rows before stay, dimmed).
BUSY = 'table[aria-busy="true"]'


def settled(page: Any) -> None:
    """Wait until no panel is loading."""
    expect(page.locator(NO_SKELETON)).to_have_count(0, timeout=TIMEOUT_MS)


def pick(page: Any, test_id: str, option: str) -> None:
    """Choose ``option`` in the select whose trigger has ``test_id``."""
    page.get_by_test_id(test_id).click()
    page.get_by_role("option", name=option, exact=True).click()


def test_sign_in_comes_back_to_the_page_and_sign_out_leaves(anonymous_page: Any) -> None:
    page = anonymous_page
    page.goto("/incidents?status=resolved", timeout=TIMEOUT_MS)
    expect(page).to_have_url(
        re.compile(r"/login\?next=%2Fincidents%3Fstatus%3Dresolved$"), timeout=TIMEOUT_MS
    )
    expect(page).to_have_title(re.compile("Sign in · OpsPilot"))
    screenshot(page, "login")

    page.locator("#username").fill(USERS["responder"])
    page.locator("#password").fill("not the password")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("auth-error")).to_have_text("Wrong username or password.")

    sign_in(page, USERS["responder"], PASSWORD)
    expect(page).to_have_url(re.compile(r"/incidents\?status=resolved$"))
    # The session cookie is HttpOnly and SameSite=Strict: no script on the page can read it.
    (session,) = [c for c in page.context.cookies() if c["name"] == "opspilot_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert "opspilot_session" not in page.evaluate("document.cookie")
    expect(page.get_by_test_id("user-menu")).to_contain_text("Rick")
    expect(page.get_by_test_id("user-menu")).to_contain_text("responder")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=TIMEOUT_MS)
    page.goto("/tickets")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ftickets$"), timeout=TIMEOUT_MS)


def test_the_first_run_page_is_closed_once_users_exist(anonymous_page: Any) -> None:
    anonymous_page.goto("/setup", timeout=TIMEOUT_MS)
    expect(anonymous_page).to_have_url(re.compile(r"/login$"), timeout=TIMEOUT_MS)


def test_filter_scope_and_paginate_incidents(page: Any) -> None:
    page.goto("/incidents", timeout=TIMEOUT_MS)
    rows = page.get_by_test_id("incident-row")
    expect(rows).to_have_count(25, timeout=TIMEOUT_MS)
    first_id = page.get_by_test_id("incident-link").first
    newest = first_id.inner_text()

    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 2")
    expect(first_id).not_to_have_text(newest)
    expect(rows).to_have_count(25)
    page.get_by_test_id("page-previous").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 1")
    expect(first_id).to_have_text(newest)

    pick(page, "filter-severity", "sev1")
    expect(page).to_have_url(re.compile(r"/incidents\?severity=sev1$"))
    expect(page.get_by_test_id("page-number")).to_have_text("Page 1")
    expect(rows.first).to_contain_text("sev1", timeout=TIMEOUT_MS)
    for text in rows.all_inner_texts():
        assert text.startswith("sev1"), text

    pick(page, "scope-service", "orders-api")
    expect(page).to_have_url(re.compile(r"/incidents\?service=orders-api&severity=sev1$"))
    expect(rows.first).to_contain_text("orders-api", timeout=TIMEOUT_MS)
    for text in rows.all_inner_texts():
        assert "orders-api" in text and text.startswith("sev1"), text

    page.get_by_test_id("filter-text").fill("poo")
    page.get_by_test_id("filter-text").press("Enter")
    expect(page).to_have_url(re.compile(r"q=poo&"))
    settled(page)
    expect(page.locator(BUSY)).to_have_count(0, timeout=TIMEOUT_MS)
    # The search stays where it was typed: the box keeps the focus, so typing on refines it.
    expect(page.get_by_test_id("filter-text")).to_be_focused()
    page.keyboard.type("l")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"q=pool&"))
    settled(page)
    expect(page.locator(BUSY)).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("filter-text")).to_be_focused()
    screenshot(page, "incidents-filtered")
    pooled = rows.count()

    # Back and Forward over a filter: the search box and the rows follow the address.
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=poo&"))
    expect(page.get_by_test_id("filter-text")).to_have_value("poo")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/incidents\?service=orders-api&severity=sev1$"))
    expect(page.get_by_test_id("filter-text")).to_have_value("")
    page.go_forward()
    page.go_forward()
    expect(page).to_have_url(re.compile(r"q=pool"))
    expect(page.get_by_test_id("filter-text")).to_have_value("pool")
    expect(page.locator(BUSY)).to_have_count(0, timeout=TIMEOUT_MS)
    expect(rows).to_have_count(pooled)

    # The URL holds it all: a fresh tab on the same link shows the same filters and scope.
    page.reload()
    expect(page.get_by_test_id("scope-service")).to_contain_text("orders-api", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("filter-severity")).to_contain_text("sev1")


def test_sort_incidents_across_pages_and_narrow_them_to_a_chosen_range(page: Any) -> None:
    rank = {"sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4}
    page.goto("/incidents", timeout=TIMEOUT_MS)
    rows = page.get_by_test_id("incident-row")
    expect(rows).to_have_count(25, timeout=TIMEOUT_MS)
    pick(page, "sort", "Severity")
    expect(page).to_have_url(re.compile(r"/incidents\?sort=severity$"))
    expect(rows.first).to_contain_text("sev1", timeout=TIMEOUT_MS)
    first_page = [rank[text.split()[0]] for text in rows.all_inner_texts()]
    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 2")
    settled(page)
    second_page = [rank[text.split()[0]] for text in rows.all_inner_texts()]
    # Sorted by the provider across all pages: page 2 carries on where page 1 stopped.
    assert first_page + second_page == sorted(first_page + second_page)
    assert page.get_by_text("over all time").count() == 1

    page.get_by_role("radio", name="24h").click()
    expect(page).to_have_url(re.compile(r"range=24h"))
    expect(page.get_by_text("started within the scope's time range (Last 24h)")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    settled(page)
    assert 0 < rows.count() < 25
    for text in rows.all_inner_texts():
        assert re.search(r"\b\d+[mh] ago\b", text), f"older than a day: {text}"


def test_an_admin_changes_an_incident_s_severity_and_sees_the_toast(page: Any) -> None:
    page.goto("/incidents?status=active", timeout=TIMEOUT_MS)
    row = page.get_by_test_id("incident-row").first
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    row.get_by_test_id("incident-link").click()
    expect(page).to_have_url(re.compile(r"/incidents/INC-\d+$"), timeout=TIMEOUT_MS)
    incident_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("metric-chart").first).to_be_visible(timeout=TIMEOUT_MS)
    settled(page)

    current = page.get_by_test_id("new-severity").inner_text().strip()
    target = "sev1" if current != "sev1" else "sev2"
    pick(page, "new-severity", target)
    page.get_by_test_id("apply-severity").click()

    toast = page.locator("[data-sonner-toast]").filter(has_text=f"severity of {incident_id} set to {target}")
    expect(toast).to_be_visible(timeout=TIMEOUT_MS)
    expect(toast).to_contain_text("Done")
    expect(page.get_by_test_id("panel-incident")).to_contain_text(target)
    screenshot(page, "incident-severity-changed")


def test_a_viewer_finds_no_button_that_changes_anything(page_as: Any) -> None:
    page = page_as("viewer")
    page.goto("/incidents?status=active", timeout=TIMEOUT_MS)
    page.get_by_test_id("incident-link").first.click()
    expect(page.get_by_test_id("panel-timeline")).to_be_visible(timeout=TIMEOUT_MS)
    settled(page)
    expect(page.get_by_test_id("user-menu")).to_contain_text("viewer")
    expect(page.get_by_test_id("investigate")).to_be_visible()
    for control in ("panel-actions", "apply-status", "apply-severity", "add-note", "note-input"):
        expect(page.get_by_test_id(control)).to_have_count(0)
    screenshot(page, "viewer-incident")

    page.goto("/tickets", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("ticket-row").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("ticket-create")).to_have_count(0)
    page.get_by_test_id("ticket-link").first.click()
    expect(page.get_by_test_id("panel-ticket")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("ticket-edit")).to_have_count(0)
