"""Logs and Metrics in real Chromium: filter and page through lines, open a highlight link and find the line
marked in view, the Patterns tab, and a metrics link with a mark."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect

from core_client.links import format_time

from .conftest import screenshot

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000
NO_SKELETON = ".rt-Skeleton"


@pytest.fixture(scope="module")
def world_now(console_app: Any) -> datetime:
    """The demo world's frozen now, read through the app's own settings (the world the app serves)."""
    from core_client.client import CoreClient

    async def read() -> datetime:
        core = CoreClient.from_settings()
        try:
            return core.clock.now()
        finally:
            await core.aclose()

    # In a thread of its own: the browser session's event loop already runs in this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, read()).result()


def settled(page: Any) -> None:
    expect(page.locator(NO_SKELETON)).to_have_count(0, timeout=TIMEOUT_MS)


def address(page: Any) -> dict[str, str]:
    """The query parameters of the address bar as the page sees it (history.pushState included)."""
    return dict(parse_qsl(urlsplit(page.evaluate("window.location.href")).query))


def wait_for_param(page: Any, name: str, value: str) -> None:
    page.wait_for_function(
        "([name, value]) => new URLSearchParams(window.location.search).get(name) === value",
        arg=[name, value],
        timeout=TIMEOUT_MS,
    )


def logs_path(now: datetime, hours: float = 1, **params: str) -> str:
    window = {"from": format_time(now - timedelta(hours=hours)), "to": format_time(now)}
    return "/logs?" + "&".join(f"{k}={v}" for k, v in {**window, **params}.items())


def test_logs_filter_and_paginate_and_the_url_follows(page: Any, world_now: datetime) -> None:
    page.goto(logs_path(world_now), timeout=TIMEOUT_MS)
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(50, timeout=TIMEOUT_MS)
    settled(page)
    expect(page.get_by_test_id("logs-volume-chart")).to_be_visible()
    screenshot(page, "logs")

    page.get_by_test_id("logs-q").fill('"orders-main"')
    page.keyboard.press("Enter")
    wait_for_param(page, "q", '"orders-main"')
    expect(rows.first).to_contain_text("orders-main", timeout=TIMEOUT_MS)
    expect(rows.filter(has_not_text="orders-main")).to_have_count(0)
    first_page = rows.first.get_attribute("id")

    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 2", timeout=TIMEOUT_MS)
    expect(rows.first).not_to_have_attribute("id", first_page)
    page.get_by_test_id("page-previous").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 1", timeout=TIMEOUT_MS)
    expect(rows.first).to_have_attribute("id", first_page)

    page.get_by_test_id("logs-severity").click()
    page.get_by_role("option", name="warn and worse", exact=True).click()
    wait_for_param(page, "severity", "warn,error,fatal")
    expect(rows.filter(has_text=re.compile(r"\binfo\b"))).to_have_count(0, timeout=TIMEOUT_MS)
    assert address(page)["q"] == '"orders-main"'

    # A row opens the lines around it.
    rows.nth(2).click()
    expect(page.get_by_test_id("log-context")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("context-line").first).to_be_visible(timeout=TIMEOUT_MS)

    # Back restores the query before the severity, from the URL.
    page.go_back()
    wait_for_param(page, "q", '"orders-main"')
    page.wait_for_function("() => !new URLSearchParams(window.location.search).has('severity')")
    expect(page.get_by_test_id("logs-severity")).to_have_text("any severity", timeout=TIMEOUT_MS)


def test_a_highlight_link_opens_its_page_with_the_line_marked_in_view(page: Any, world_now: datetime) -> None:
    page.goto(logs_path(world_now), timeout=TIMEOUT_MS)
    rows = page.get_by_test_id("log-row")
    expect(rows).to_have_count(50, timeout=TIMEOUT_MS)
    for number in (2, 3):
        page.get_by_test_id("page-next").click()
        expect(page.get_by_test_id("page-number")).to_have_text(f"Page {number}", timeout=TIMEOUT_MS)
    target = (rows.nth(37).get_attribute("id") or "").removeprefix("log-")
    assert target

    page.goto(logs_path(world_now, highlight=target), timeout=TIMEOUT_MS)
    marked = page.locator('[data-highlighted="true"]')
    expect(marked).to_have_count(1, timeout=TIMEOUT_MS)
    expect(marked).to_have_attribute("id", f"log-{target}")
    expect(page.get_by_test_id("page-number")).to_have_text("Page 3")
    expect(marked).to_be_in_viewport(timeout=TIMEOUT_MS)
    screenshot(page, "logs-highlight")


def test_patterns_tab_marks_new_patterns(page: Any, world_now: datetime) -> None:
    page.goto(logs_path(world_now, hours=2), timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("log-row").first).to_be_visible(timeout=TIMEOUT_MS)
    page.get_by_test_id("tab-patterns").click()
    wait_for_param(page, "tab", "patterns")
    new = page.locator('[data-testid="pattern-row"][data-change="new"]')
    expect(new.filter(has_text="timeout acquiring connection from pool")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("patterns-note")).to_contain_text("new")
    screenshot(page, "logs-patterns")


def test_a_metrics_link_draws_series_band_anomalies_and_the_mark(page: Any, world_now: datetime) -> None:
    mark = world_now - timedelta(minutes=45)
    start, end = world_now - timedelta(hours=3), world_now
    page.goto(
        f"/metrics?metric=db_pool_in_use&service=orders-api&from={format_time(start)}&to={format_time(end)}"
        f"&mark={format_time(mark)}",
        timeout=TIMEOUT_MS,
    )
    chart = page.get_by_test_id("metrics-chart")
    expect(chart).to_be_visible(timeout=TIMEOUT_MS)
    settled(page)
    expect(chart.locator(".recharts-line")).to_have_count(2)
    expect(chart.locator(".recharts-area")).to_have_count(1)
    # Two vertical lines (the mark, the anomaly's onset) with their labels, and a dot at the anomaly's peak.
    expect(chart.locator(".recharts-reference-line")).to_have_count(2)
    expect(chart.locator(".recharts-label")).to_have_text(["onset", "mark"])
    expect(chart.locator(".recharts-reference-dot")).to_have_count(1)
    expect(page.get_by_test_id("anomaly-row")).to_contain_text("prod")
    expect(page.get_by_test_id("metrics-mark")).to_have_value(mark.strftime("%Y-%m-%dT%H:%M"))
    screenshot(page, "metrics")

    page.get_by_role("checkbox", name="environment").click()
    wait_for_param(page, "group_by", "environment")
    assert address(page)["mark"] == format_time(mark)
    expect(page.get_by_test_id("panel-metric").locator(".recharts-legend-item")).to_contain_text(
        ["baseline band", "prod", "staging"], timeout=TIMEOUT_MS
    )
