"""Sources that fail the way real ones do (refused, hanging, HTTP 500, malformed JSON), for metrics and for logs:
the Copilot still answers from the sources that answer, names what it could not check, and a hanging source costs
a run its timeout once, not once per call. The metric source is the real Prometheus adapter and the log source the
real Loki adapter, each pointed at a loopback server that fails; everything else is the demo world."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from adapters.demo.scenario import load_library
from copilot.machine import RunState
from copilot.planners.offline import OfflineInvestigator
from copilot.records import RunView
from copilot.runtime import Copilot
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.settings import load_settings
from tests.demo.world_fixture import SPEC, build_small, install
from tests.faults.faulty_http import MODES, FaultyServer, Mode

ALICE = Actor(user="alice", role=Role.RESPONDER, via="cli")
SCENARIO = load_library().get(SPEC.scenario)
# Short, so a hanging source costs the suite little; the budget rule is the same at any timeout.
TIMEOUT = 1.0
ADAPTER = {Capability.METRIC: "prometheus", Capability.LOG: "loki"}
# The tools of our MCP server that reach each capability's provider (copilot.toolbox.TOOL_CAPABILITY).
TOOLS = {
    Capability.METRIC: ("query_metrics", "describe_metrics", "detect_metric_anomalies"),
    Capability.LOG: ("search_logs", "get_log_context", "compare_log_patterns"),
}


@pytest.fixture(scope="module")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("faults-world"))


@asynccontextmanager
async def copilot_over(
    built_world: Path, monkeypatch: pytest.MonkeyPatch, failing: Capability | None = None, url: str = ""
) -> AsyncIterator[Copilot]:
    """The offline Copilot over the demo world, with ``failing`` served by its real adapter at ``url``."""
    install(built_world)
    if failing is not None:
        prefix = failing.env_prefix
        monkeypatch.setenv(f"{prefix}_PROVIDER", ADAPTER[failing])
        monkeypatch.setenv(f"{prefix}_CONFIG", json.dumps({"url": url}))
        monkeypatch.setenv(f"{prefix}_TIMEOUT", str(TIMEOUT))
    settings = load_settings()
    loaded = CoreClient.from_settings(settings)
    # The demo world's frozen clock, although a real adapter serves one capability: the world's telemetry is there.
    world_clock = loaded.provider_for(Capability.INCIDENT).instance.clock
    core = CoreClient(
        {provider.capability: provider for provider in loaded.providers()},
        gate=loaded.gate,
        clock=world_clock,
        settings=settings,
    )
    copilot = Copilot.from_settings(settings, core=core, planner=OfflineInvestigator(settings))
    try:
        yield copilot
    finally:
        await copilot.aclose()
        await core.aclose()


@pytest.fixture(scope="module")
def healthy() -> dict[str, RunView]:
    """The run over healthy sources, once per module (filled by the first test that needs it)."""
    return {}


async def healthy_run(
    built_world: Path, monkeypatch: pytest.MonkeyPatch, healthy: dict[str, RunView]
) -> RunView:
    if "run" not in healthy:
        async with copilot_over(built_world, monkeypatch) as copilot:
            healthy["run"] = await copilot.investigate(SCENARIO.question, user=ALICE)
    return healthy["run"]


def calls_to(view: RunView, capability: Capability) -> list[tuple[int, bool, str]]:
    """(planning step, ok, error) of every call the run made to a tool of ``capability``'s provider."""
    plan, planned = 0, {}
    for step in view.steps:
        if step.kind == "plan":
            plan += 1
        elif step.kind == "tool_call":
            planned[step.data.get("call_id")] = plan
    return [
        (planned.get(outcome.call_id, 0), outcome.ok, outcome.error or "")
        for outcome in view.outcomes
        if outcome.tool.split(".", 1)[-1] in TOOLS[capability]
    ]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("capability", [Capability.METRIC, Capability.LOG], ids=["metrics", "logs"])
async def test_a_failing_source_is_named_and_the_others_still_answer(
    built_world: Path,
    monkeypatch: pytest.MonkeyPatch,
    healthy: dict[str, RunView],
    capability: Capability,
    mode: Mode,
) -> None:
    baseline = await healthy_run(built_world, monkeypatch, healthy)
    assert baseline.answer is not None and baseline.answer.root_cause is not None
    async with (
        FaultyServer(mode) as server,
        copilot_over(built_world, monkeypatch, capability, server.url) as copilot,
    ):
        view = await copilot.investigate(SCENARIO.question, user=ALICE)
    answer = view.answer
    assert view.state == RunState.DONE and answer is not None, view.error
    calls = calls_to(view, capability)
    assert calls and not any(ok for _, ok, _ in calls), "every call to the failing source failed"
    assert answer.missing, "what could not be checked is said"
    assert any(ADAPTER[capability] in line or "not asked again" in line for line in answer.missing), (
        answer.missing
    )
    assert answer.confidence < baseline.answer.confidence, "a missing source lowers confidence"
    if capability == Capability.LOG:
        # The metrics still show the onset and where it began: the finding stands.
        assert answer.root_cause == baseline.answer.root_cause

    if mode == "hang":
        # The hang is met once: every call that waited out the timeout was made in one batch, and the source was
        # not asked again in this run.
        waited = {plan for plan, _, error in calls if f"no answer within {TIMEOUT:g} s" in error}
        assert len(waited) == 1, f"the timeout was waited out in more than one step: {calls}"
        later = [error for plan, _, error in calls if plan > min(waited)]
        assert all("not asked again in this run" in error for error in later), later
        assert len(set(server.requests)) == len(server.requests), (
            "nothing was asked twice: no retry after a hang"
        )
