"""Evidence from tool results: our tools' real results over a small demo world, and foreign tools' results."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from copilot.answer import EvidenceKind
from copilot.evidence import EXCERPT_CHARS, MAX_ITEMS, extract_evidence, foreign_kind
from copilot.planning import ToolOutcome, ToolSpec
from core_client.client import CoreClient
from core_client.identity import Actor, Role
from core_client.links import parse_link, parse_time
from core_client.mcp.server import build_server
from core_client.settings import load_settings
from tests.demo.world_fixture import SPEC, build_small, install

ALICE = Actor(user="alice", role=Role.RESPONDER, via="copilot")


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("evidence-world"), SPEC)


@pytest.fixture
async def client(small_world: Path) -> AsyncIterator[CoreClient]:
    """A CoreClient over the small world; each call goes through our MCP server in memory."""
    install(small_world, SPEC)
    core = CoreClient.from_settings(load_settings())
    yield core
    await core.aclose()


def own(tool: str) -> ToolSpec:
    return ToolSpec(name=f"opspilot.{tool}", server="opspilot", tool=tool, kind="read_only")


async def call(core: CoreClient, tool: str, arguments: dict[str, Any]) -> tuple[ToolSpec, ToolOutcome]:
    async with Client(build_server(core, actor=lambda _: ALICE)) as session:
        result = await session.call_tool(tool, arguments)
    spec = own(tool)
    outcome = ToolOutcome(
        call_id="s1c1",
        tool=spec.name,
        arguments=arguments,
        ok=not result.is_error,
        text="\n".join(getattr(block, "text", "") for block in result.content),
        structured=result.structured_content,
    )
    return spec, outcome


async def test_records_become_evidence_with_their_console_links(client: CoreClient) -> None:
    cases = {
        "query_incidents": ({"limit": 5}, EvidenceKind.INCIDENT, "incident"),
        "query_alerts": ({"limit": 5}, EvidenceKind.ALERT, "alert"),
        "query_deployments": ({"limit": 5}, EvidenceKind.DEPLOYMENT, "deployment"),
        "query_services": ({"limit": 100}, EvidenceKind.SERVICE, "service"),
    }
    for tool, (arguments, kind, link_kind) in cases.items():
        spec, outcome = await call(client, tool, arguments)
        evidence = extract_evidence(spec, outcome)
        rows = outcome.structured["items"]
        assert len(evidence) == len(rows) > 0, tool
        for item, row in zip(evidence, rows, strict=True):
            ref = row.get("id") if kind is not EvidenceKind.SERVICE else row["name"]
            assert item.kind is kind and item.ref == ref and item.id == f"{kind.value}:{ref}"
            assert item.tool_call_id == "s1c1"
            assert 0 < len(item.excerpt) <= EXCERPT_CHARS
            assert item.link is not None
            link = parse_link(item.link)
            assert link.kind == link_kind and ref in link.params.values()


async def test_a_runbook_is_cited_by_its_service(client: CoreClient) -> None:
    spec, outcome = await call(client, "get_runbook", {"service": "orders-api"})
    [item] = extract_evidence(spec, outcome)
    assert item.id == "runbook:orders-api" and item.kind is EvidenceKind.RUNBOOK
    assert "orders-api" in item.excerpt and item.link == "/services/orders-api"


async def test_a_log_line_links_to_its_service_log_around_it_highlighted(client: CoreClient) -> None:
    spec, outcome = await call(client, "search_logs", {"service": "orders-api", "limit": 5})
    evidence = extract_evidence(spec, outcome)
    assert evidence
    for item, row in zip(evidence, outcome.structured["items"], strict=True):
        assert item.kind is EvidenceKind.LOG and item.id == f"log:{row['id']}"
        link = parse_link(item.link or "")
        assert link.kind == "logs"
        assert link.params["highlight"] == row["id"] and link.params["service"] == "orders-api"
        logged = parse_time(row["timestamp"])
        assert parse_time(link.params["from"]) < logged < parse_time(link.params["to"])
        assert row["message"][:40] in item.excerpt


async def test_a_log_pattern_links_to_the_lines_it_matches_from_the_onset(client: CoreClient) -> None:
    since = "2025-06-11T13:30:00Z"
    spec, outcome = await call(client, "compare_log_patterns", {"since": since, "severities": ["error"]})
    evidence = extract_evidence(spec, outcome)
    changes = outcome.structured["changes"]
    patterns = [e for e in evidence if e.kind is EvidenceKind.LOG_PATTERN]
    # The most frequent patterns after `since` that did not change are evidence too, by their count.
    changed = {c["id"] for c in changes}
    steady = [p for p in outcome.structured["frequent"] if p["id"] not in changed]
    assert len(patterns) == len(changes) + len(steady) and changes
    assert all(
        f"{p['count']} lines since" in e.excerpt
        for e, p in zip(patterns[len(changes) :], steady, strict=True)
    )
    pool = next(e for e, c in zip(patterns, changes, strict=False) if "acquiring connection" in c["template"])
    assert pool.id.startswith("log_pattern:p_")
    link = parse_link(pool.link or "")
    assert link.kind == "logs" and link.params["from"] == since
    # Each pattern also brings one real line of it, which opens highlighted on the Logs page.
    examples = {e.id: e for e in evidence if e.kind is EvidenceKind.LOG}
    for change in changes:
        example = examples[f"log:{change['exampleId']}"]
        assert example.excerpt.endswith(change["example"][:40]) or change["example"][:40] in example.excerpt
        assert parse_link(example.link or "").params["highlight"] == change["exampleId"]
    assert {"timeout", "acquiring", "connection"} <= set(link.params["q"].split())
    assert link.params["service"] == "orders-api"
    assert "new since" in pool.excerpt


async def test_an_anomaly_links_to_its_metric_marked_at_the_onset(client: CoreClient) -> None:
    spec, outcome = await call(
        client,
        "detect_metric_anomalies",
        {"since": "2025-06-11T12:50:00Z", "reference_hours": 1.5, "environment": "prod", "limit": 40},
    )
    evidence = extract_evidence(spec, outcome)
    anomalies = outcome.structured["anomalies"]
    assert len(evidence) == len(anomalies) > 0
    for item, anomaly in zip(evidence, anomalies, strict=True):
        assert item.kind is EvidenceKind.ANOMALY
        assert item.ref.startswith(f"{anomaly['service']}:{anomaly['name']}")
        link = parse_link(item.link or "")
        assert link.kind == "metrics"
        assert link.params["metric"] == anomaly["name"] and link.params["service"] == anomaly["service"]
        assert parse_time(link.params["mark"]) == parse_time(anomaly["onset"])
    pool = next(e for e in evidence if e.ref == "orders-api:db_pool_in_use{environment=prod}")
    assert "went up" in pool.excerpt


async def test_a_series_is_metric_evidence_and_a_catalog_of_metrics_is_nothing_to_cite(
    client: CoreClient,
) -> None:
    spec, outcome = await call(
        client,
        "query_metrics",
        {"metric_name": "error_rate", "service": "orders-api", "environment": "prod", "step": 600},
    )
    [item] = extract_evidence(spec, outcome)
    assert item.kind is EvidenceKind.METRIC and item.id == "metric:orders-api:error_rate{environment=prod}"
    link = parse_link(item.link or "")
    assert link.params["metric"] == "error_rate"
    # The console's window is half-open: it must run past the last point for the chart to show it.
    points = [p["timestamp"] for p in (outcome.structured or {})["items"][0]["points"]]
    assert link.params["from"] == points[0] and link.params["to"] > points[-1]
    spec, outcome = await call(client, "describe_metrics", {})
    assert outcome.ok and extract_evidence(spec, outcome) == []


async def test_a_failed_call_proves_nothing(client: CoreClient) -> None:
    spec, outcome = await call(client, "get_incident", {"incident_id": "INC-does-not-exist"})
    assert not outcome.ok
    assert extract_evidence(spec, outcome) == []


def foreign(tool: str, structured: Any, text: str = "") -> tuple[ToolSpec, ToolOutcome]:
    spec = ToolSpec(name=f"opsorch.{tool}", server="opsorch", tool=tool, kind="read_only")
    return spec, ToolOutcome(
        call_id="s2c1", tool=spec.name, arguments={}, ok=True, text=text, structured=structured
    )


def test_a_foreign_tool_kind_comes_from_the_nouns_in_its_name() -> None:
    assert foreign_kind("query-incidents") is EvidenceKind.INCIDENT
    assert foreign_kind("get_incident_timeline") is EvidenceKind.TIMELINE
    assert foreign_kind("search_logs") is EvidenceKind.LOG
    assert foreign_kind("listDeployments") is EvidenceKind.DEPLOYMENT
    assert foreign_kind("jira_issue_get") is EvidenceKind.TICKET
    assert foreign_kind("weather") is EvidenceKind.FILE


def test_foreign_rows_with_ids_are_cited_one_by_one_with_links() -> None:
    spec, outcome = foreign("query-incidents", [{"id": "INC-9", "title": "db down"}, {"id": "INC-8"}])
    evidence = extract_evidence(spec, outcome)
    assert [e.id for e in evidence] == ["incident:INC-9", "incident:INC-8"]
    assert evidence[0].link == "/incidents/INC-9" and "db down" in evidence[0].excerpt


def test_a_foreign_result_without_ids_is_one_file_of_evidence_cut_short() -> None:
    spec, outcome = foreign("weather", {"forecast": "rain " * 1000}, text="rain " * 1000)
    [item] = extract_evidence(spec, outcome)
    assert item.kind is EvidenceKind.FILE and item.id == "file:opsorch.weather#s2c1"
    assert len(item.excerpt) <= EXCERPT_CHARS and item.excerpt.endswith("\u2026")
    assert item.link is None


def test_foreign_results_are_bounded_and_never_repeat_an_id() -> None:
    rows = [{"id": f"A-{i % (MAX_ITEMS + 10)}"} for i in range(3 * MAX_ITEMS)]
    spec, outcome = foreign("list_alerts", {"items": rows})
    evidence = extract_evidence(spec, outcome)
    assert len(evidence) == MAX_ITEMS
    assert len({e.id for e in evidence}) == len(evidence)


def test_our_tool_with_an_unexpected_shape_is_read_generically_not_a_crash() -> None:
    spec = own("detect_metric_anomalies")
    outcome = ToolOutcome(
        call_id="c9", tool=spec.name, arguments={}, ok=True, structured={"surprise": [1, 2]}
    )
    [item] = extract_evidence(spec, outcome)
    assert item.kind is EvidenceKind.ANOMALY and item.tool_call_id == "c9"


def test_nothing_to_cite_without_structured_content() -> None:
    spec = own("query_incidents")
    outcome = ToolOutcome(call_id="c1", tool=spec.name, arguments={}, ok=True, text="3 incidents")
    assert extract_evidence(spec, outcome) == []


async def test_a_team_and_its_on_call_are_cited_as_the_team(client: CoreClient) -> None:
    spec, outcome = await call(client, "get_team", {"team_id": "commerce"})
    [team] = extract_evidence(spec, outcome)
    assert team.kind is EvidenceKind.TEAM and team.id == "team:commerce"
    assert "on call: level 1:" in team.excerpt and team.label == "team Commerce"
    spec, outcome = await call(client, "get_oncall", {"team_id": "commerce"})
    [oncall] = extract_evidence(spec, outcome)
    assert oncall.id == "team:commerce" and "level 1:" in oncall.excerpt


async def test_every_piece_of_evidence_is_labelled_by_what_it_is(client: CoreClient) -> None:
    spec, outcome = await call(
        client,
        "detect_metric_anomalies",
        {"since": "2025-06-11T13:00:00Z", "until": "2025-06-11T14:20:00Z", "environment": "prod", "limit": 5},
    )
    labels = [item.label for item in extract_evidence(spec, outcome)]
    assert labels and all(" " in label and "{" not in label for label in labels)
    spec, outcome = await call(client, "query_deployments", {"limit": 3})
    assert all(
        item.label.startswith(("deploy: ", "config: ", "flag: ")) for item in extract_evidence(spec, outcome)
    )
    spec, outcome = await call(client, "query_services", {"name": "orders-api"})
    [service] = extract_evidence(spec, outcome)
    assert service.label == "service orders-api" and "owned by team commerce" in service.excerpt
