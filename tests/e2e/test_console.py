"""The console in real Chromium: the shared layout, Overview at / and Settings at /settings."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from core_client.capabilities import Capability

from .conftest import screenshot

pytestmark = pytest.mark.browser

PANELS = ("panel-incidents", "panel-alerts", "panel-deploys", "panel-services")
TIMEOUT_MS = 60_000


def test_overview_shows_every_panel_loaded(page) -> None:
    page.goto("/")

    expect(page).to_have_title(re.compile("Overview · OpsPilot"))
    expect(page.get_by_role("heading", name="OpsPilot")).to_be_visible()
    expect(page.get_by_test_id("nav-overview")).to_be_visible()
    expect(page.get_by_test_id("nav-settings")).to_be_visible()
    for panel in PANELS:
        expect(page.get_by_test_id(panel)).to_be_visible()
    # Loading ends (no skeleton left); then every panel shows its provider's data, not an error banner.
    expect(page.locator(".rt-Skeleton")).to_have_count(0, timeout=TIMEOUT_MS)
    screenshot(page, "overview")
    expect(page.get_by_test_id("panel-error")).to_have_count(0)
    expect(page.get_by_text(re.compile(r"^as of \d{4}-\d\d-\d\d \d\d:\d\d UTC$"))).to_be_visible()
    incidents = page.get_by_test_id("panel-incidents")
    expect(incidents.get_by_test_id("severity-count")).to_have_count(4)
    for severity in ("sev1", "sev2", "sev3", "sev4"):
        expect(incidents.get_by_test_id("severity-count").filter(has_text=severity)).to_have_count(1)
    expect(page.get_by_test_id("panel-services").get_by_test_id("service-tile").first).to_be_visible()


def test_settings_lists_each_capability_with_its_health(page, console_app) -> None:
    page.goto("/settings")

    expect(page).to_have_title(re.compile("Settings · OpsPilot"))
    rows = page.get_by_test_id("provider-row")
    expect(page.locator(".rt-Skeleton")).to_have_count(0, timeout=TIMEOUT_MS)
    screenshot(page, "settings")
    expect(rows).to_have_count(len(Capability))
    for capability in Capability:
        expect(rows.filter(has_text=capability.value).first).to_be_visible()

    from reflex.config import get_config

    with urllib.request.urlopen(f"{get_config().api_url}/health", timeout=60) as response:
        health = json.load(response)
    # The page and /health report the same providers and statuses.
    for provider in health["providers"]:
        row = rows.filter(has=page.get_by_text(provider["capability"], exact=True))
        expect(row).to_contain_text(provider["provider"])
        expect(row).to_contain_text(provider["status"])


def test_navigation_and_theme_toggle(page) -> None:
    page.goto("/")
    expect(page.get_by_test_id("page-title")).to_have_text("Overview")

    page.get_by_test_id("nav-settings").click()
    expect(page).to_have_url(re.compile(r"/settings/?$"))
    expect(page.get_by_test_id("page-title")).to_have_text("Settings")

    html = page.locator("html")
    before = html.get_attribute("class") or ""
    page.get_by_test_id("theme-toggle").click()
    expect(html).not_to_have_class(before, timeout=5_000)
    screenshot(page, "settings-toggled-theme")
