"""Issue 19's console half: over real telemetry, the Copilot panel gives the answer ``opspilot ask`` gives, and the
metric it cites opens the Metrics page on the onset.

A caller and the service it calls run under a steady load, scraped by Debian's Prometheus with the machine's
node_exporter (tests/integration/real_telemetry.py). The running console is switched to the sources an operator
would configure for them (metrics from that Prometheus, the catalog from a file, the rest the demo world), a
quiet baseline is scraped, then the callee fails 60% of its requests. Once a minute of that is in, the same
question is asked with the CLI and in the panel beside the caller's page.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from console import runtime
from copilot.records import RunView
from copilot.store import RunStore
from core_client.clock import SystemClock
from core_client.links import parse_link, parse_time
from core_client.settings import load_settings
from core_client.store import Database
from tests.e2e.conftest import USERS, screenshot
from tests.e2e.panel import open_panel
from tests.integration.real_telemetry import Stack, running_stack, settings_env
from tests.integration.test_real_faults import BASELINE_SECONDS, FAULT_SECONDS
from tests.support.cli_users import add_cli_user

pytestmark = [pytest.mark.browser, pytest.mark.services]

HOST, CALLER, CALLEE = "edge-host", "storefront", "ledger"
QUESTION = f"Why is {CALLER} failing?"
# Over a real Prometheus on a shared machine a run reads for longer than over the demo world.
ANSWER_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def failing_callee(
    console_app: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, RunView]]:
    """The stack with the callee failing for a minute, the console reading it, and the CLI's answer by then."""
    workdir = tmp_path_factory.mktemp("real-telemetry")
    sources = pytest.MonkeyPatch()
    try:
        with running_stack(workdir, host=HOST, caller=CALLER, callee=CALLEE, environment="prod") as stack:
            for name, value in settings_env(stack).items():
                sources.setenv(name, value)
            # The console runs in this process: from now on its pages and its Copilot read these sources.
            sources.setattr(runtime, "RUNTIME", runtime.CoreRuntime())
            time.sleep(BASELINE_SECONDS)
            stack.inject(stack.callee_port, error_ratio=0.6)
            time.sleep(FAULT_SECONDS)
            yield stack, cli_ask(QUESTION, CALLER)
    finally:
        sources.undo()


def cli_ask(question: str, service: str) -> RunView:
    """``opspilot ask QUESTION --service SERVICE --json`` in a process of its own, as a responder would run it."""
    responder = add_cli_user(f"responder-{time.monotonic_ns()}", "responder")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "console.cli",
            "ask",
            question,
            "--service",
            service,
            "--json",
            "--auto-reject",
        ],
        env=responder.env(),
        capture_output=True,
        text=True,
        timeout=ANSWER_TIMEOUT_MS / 1000,
    )
    assert done.stdout.strip(), (
        f"opspilot ask printed nothing (exit {done.returncode}): {done.stderr[-2000:]}"
    )
    return RunView.model_validate_json(done.stdout.strip().splitlines()[-1])


def panel_run(username: str) -> RunView:
    """The newest run ``username`` started (the panel's), as the Copilot stored it."""
    database = Database.from_settings(load_settings())
    try:
        store = RunStore(database, clock=SystemClock())
        [newest] = store.list_runs(user=username, limit=1)
        return store.get(newest.id)
    finally:
        database.engine.dispose()


def test_the_panel_answers_as_the_cli_and_its_metric_citation_opens_the_onset(
    page: Any, failing_callee: tuple[Stack, RunView]
) -> None:
    _, cli = failing_callee
    assert cli.answer is not None and cli.answer.root_cause is not None, cli.error
    assert (cli.answer.root_cause.service, cli.answer.root_cause.fault_kind) == (CALLEE, "dependency_outage")

    open_panel(page, f"/services/{CALLER}")
    page.get_by_test_id("copilot-input").fill(QUESTION)
    page.get_by_test_id("copilot-ask").click()
    turn = page.get_by_test_id("copilot-turn").last
    verdict = turn.get_by_test_id("answer-verdict")
    verdict.wait_for(timeout=ANSWER_TIMEOUT_MS)

    panel = panel_run(USERS["admin"])
    assert panel.answer is not None and panel.answer.root_cause is not None, panel.error
    assert (panel.answer.root_cause.service, panel.answer.root_cause.fault_kind) == (
        cli.answer.root_cause.service,
        cli.answer.root_cause.fault_kind,
    )
    assert [hop.service for hop in panel.answer.path] == [hop.service for hop in cli.answer.path]
    # The demo world keeps the logs here, frozen in another time: the next check does not send anyone to them.
    assert f"/logs?service={CALLEE}" not in panel.answer.summary, panel.answer.summary
    assert CALLEE in verdict.inner_text(), verdict.inner_text()
    screenshot(page, "real-telemetry-panel")

    # A cited metric opens the Metrics page over a window holding the onset, the onset marked on the chart.
    citation = turn.locator('[data-testid="citation"][href*="/metrics?"][href*="mark="]').first
    href = citation.get_attribute("href") or ""
    link = parse_link(href)
    assert parse_time(link.params["from"]) <= parse_time(link.params["mark"]) <= parse_time(link.params["to"])
    citation.click()
    page.wait_for_url(lambda url: "/metrics?" in url and "mark=" in url)
    chart = page.get_by_test_id("metrics-chart")
    expect(chart).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(chart.locator(".recharts-label", has_text="mark")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.get_by_test_id("metrics-mark")).to_have_value(
        parse_time(link.params["mark"]).strftime("%Y-%m-%dT%H:%M")
    )
    screenshot(page, "real-telemetry-metrics")
