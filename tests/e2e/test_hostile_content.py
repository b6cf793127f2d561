"""Hostile text from data, in real Chromium: shown literally, never run, never a link anywhere but http(s).

Log lines and a runbook carrying the usual payloads (``<script>``, ``<iframe srcdoc>``, ``<img onerror>``,
``javascript:`` links, Markdown link tricks) are written into the running console's demo world. A real Copilot run
investigates (panel and run page), the approver files the ticket it proposes (its body quotes the evidence), and
every page is checked: a payload that ran would set ``window.__xss`` or open a dialog.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import datetime
from typing import Any

import pytest

from adapters.demo.logstore import LogRow, LogStore
from adapters.demo.world import active_spec, world_path
from core_client.settings import load_settings
from tests.e2e.conftest import screenshot
from tests.e2e.panel import RUN_TIMEOUT_MS, ask, open_panel, propose_ticket

pytestmark = pytest.mark.browser

SERVICE = "orders-api"
PAYLOADS = [
    "<script>window.__xss=1</script> checkout failed",
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe> pool error',
    '<img src=x onerror="window.__xss=1"> connection reset',
    "[open the pool dashboard](javascript:window.__xss=1) pool exhausted",
    '<a href="javascript:window.__xss=1">retry</a> upstream refused',
    "[x](  JaVaScRiPt:window.__xss=1 ) and <javascript:window.__xss=1> and ![p](https://tracker.example/p.png)",
]
RUNBOOK = (
    "# Hostile runbook\n\n" + "\n\n".join(PAYLOADS) + "\n\n[the real runbook](https://wiki.example/rb)\n"
)
# Anything that could run or load: none may exist in the page.
DANGEROUS = """() => ({
  flag: window.__xss,
  iframes: document.querySelectorAll("iframe").length,
  handlers: document.querySelectorAll("[onerror], [onload], [onclick]").length,
  script_links: [...document.querySelectorAll("a[href]")]
    .filter((a) => !/^(https?:|\\/|#|$)/i.test(a.getAttribute("href").trim())).length,
  scripts: [...document.scripts].filter((s) => s.textContent.includes("__xss")).length,
  remote_images: [...document.images].filter((i) => (i.getAttribute("src") || "").includes("tracker")).length,
})"""
SAFE_PAGE = {"flag": 0, "iframes": 0, "handlers": 0, "script_links": 0, "scripts": 0, "remote_images": 0}


@pytest.fixture(scope="module")
def hostile_world(console_app: Any) -> None:
    """The payloads as fresh error lines of the service at fault, and as its runbook."""
    settings = load_settings()
    path = world_path(settings, active_spec(settings))
    with closing(sqlite3.connect(path)) as conn:
        (now_text,) = conn.execute("SELECT value FROM world_meta WHERE key = 'world_now'").fetchone()
        now_ms = int(datetime.fromisoformat(now_text.replace("Z", "+00:00")).timestamp() * 1000)
        environment, team = conn.execute(
            "SELECT environment, team FROM log_line WHERE service = ? LIMIT 1", (SERVICE,)
        ).fetchone()
        rows = [
            LogRow(
                id=f"lgxss{n:05d}",
                ts_ms=now_ms - 600_000 + n * 10_000,
                service=SERVICE,
                environment=environment,
                team=team,
                severity="error",
                message=PAYLOADS[n % len(PAYLOADS)],
            )
            for n in range(48)
        ]
        store = LogStore(conn)
        store.insert(rows)
        store.finish()
        (doc,) = conn.execute("SELECT doc FROM runbook WHERE service = ?", (SERVICE,)).fetchone()
        conn.execute(
            "UPDATE runbook SET doc = ? WHERE service = ?",
            (json.dumps({**json.loads(doc), "body": RUNBOOK}), SERVICE),
        )
        conn.commit()


def watched(tab: Any) -> list[str]:
    """Arm ``tab``: the flag a payload would set, and every dialog it would open."""
    dialogs: list[str] = []
    tab.add_init_script("window.__xss = 0;")
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def assert_harmless(tab: Any, dialogs: list[str], where: str) -> None:
    assert tab.evaluate(DANGEROUS) == SAFE_PAGE, where
    assert dialogs == [], where


def test_hostile_logs_and_runbook_show_as_text_on_every_page(
    hostile_world: None, page_as: Callable[[str], Any]
) -> None:
    tab = page_as("approver")
    dialogs = watched(tab)

    tab.goto(f"/services/{SERVICE}")
    runbook = tab.get_by_test_id("panel-runbook")
    runbook.get_by_text("Hostile runbook").wait_for(timeout=RUN_TIMEOUT_MS)
    text = runbook.inner_text()
    assert "<script>window.__xss=1</script>" in text and '<img src=x onerror="window.__xss=1">' in text
    assert (
        runbook.get_by_role("link", name="the real runbook").get_attribute("href")
        == "https://wiki.example/rb"
    )
    # The javascript: link keeps its words and loses its address (the link component falls back to "#").
    assert runbook.get_by_role("link", name="open the pool dashboard").get_attribute("href") in (None, "#")
    assert_harmless(tab, dialogs, "service page")

    tab.goto(f"/logs?service={SERVICE}&q=__xss&range=7d")
    tab.get_by_test_id("log-row").first.wait_for(timeout=RUN_TIMEOUT_MS)
    assert "<script>window.__xss=1</script>" in "\n".join(tab.get_by_test_id("log-row").all_inner_texts())
    assert_harmless(tab, dialogs, "logs page")

    open_panel(tab)
    turn = ask(tab, f"Why is {SERVICE} failing? What do its error logs say?")
    assert_harmless(tab, dialogs, "Copilot panel")
    screenshot(tab, "hostile-panel")

    run_href = turn.get_by_test_id("run-link").first.get_attribute("href")
    follow_up = propose_ticket(tab, turn)
    tab.get_by_test_id("approval-dialog").wait_for()
    tab.get_by_test_id("approve-button").click()
    follow_up.get_by_test_id("run-state").filter(has_text="DONE").wait_for(timeout=RUN_TIMEOUT_MS)
    assert_harmless(tab, dialogs, "Copilot panel after the ticket")

    assert run_href
    tab.goto(run_href)
    tab.get_by_test_id("copilot-answer").first.wait_for(timeout=RUN_TIMEOUT_MS)
    assert_harmless(tab, dialogs, "run page")
    screenshot(tab, "hostile-run")

    tab.goto("/tickets")
    tab.get_by_test_id("ticket-link").first.click()
    tab.get_by_test_id("ticket-heading").wait_for(timeout=RUN_TIMEOUT_MS)
    description = tab.get_by_test_id("ticket-description")
    description.wait_for(timeout=RUN_TIMEOUT_MS)
    assert re.search(r"pool|connection|orders", description.inner_text(), re.IGNORECASE)
    assert_harmless(tab, dialogs, "ticket page")
    screenshot(tab, "hostile-ticket")
