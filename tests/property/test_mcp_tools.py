"""Every tool of OpsPilot's MCP server, over any arguments (those its input schema allows, and anything at all): the
call answers, or is refused with an error that says why. A crash inside a tool (which the SDK reports only as
``Error executing tool <name>``) or an outage of the in-process demo world (which cannot be down, so it crashed)
fails the property with the smallest arguments that cause it."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult, TextContent

from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.gate import MutationGate
from core_client.identity import Actor, Role
from core_client.mcp.results import ERROR_META_KEY
from core_client.mcp.server import build_server
from core_client.settings import Settings, load_settings
from tests.demo.world_fixture import build_small, install
from tests.property.conftest import json_values, says_why
from tests.property.schemas import from_schema

RICK = Actor(user="rick", role=Role.RESPONDER, via="mcp")
# The errors a caller's arguments may earn; ProviderUnavailable from the demo world means something crashed.
REFUSALS = {"BadQuery", "NotFound", "ApprovalRequired", "Forbidden", "CapabilityNotConfigured", "Unsupported"}


@pytest.fixture(scope="module")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("property-mcp-world"))


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture
def server(built_world: Path, runner: asyncio.Runner, tmp_path: Path) -> Iterator[Any]:
    install(built_world)
    settings = load_settings(files_dir=tmp_path / "files")
    core = CoreClient.from_settings(settings)
    yield build_server(core, actor=lambda _context: RICK)
    runner.run(core.aclose())


def tool_schemas() -> dict[str, dict[str, Any]]:
    """Every tool's input schema, read from the server itself (no providers needed to list them)."""

    async def listed(folder: str) -> dict[str, dict[str, Any]]:
        settings = Settings(data_dir=Path(folder), database_url=f"sqlite:///{folder}/tools.db")
        core = CoreClient(
            {}, gate=MutationGate.from_settings(settings, clock=SystemClock()), settings=settings
        )
        async with Client(build_server(core, actor=lambda _context: RICK)) as client:
            return {tool.name: dict(tool.input_schema) for tool in (await client.list_tools()).tools}

    with tempfile.TemporaryDirectory() as folder:
        return asyncio.run(listed(folder))


SCHEMAS = tool_schemas()


def call(runner: asyncio.Runner, server: Any, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async def once() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    return runner.run(asyncio.wait_for(once(), 60))


def check(tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
    if not result.is_error:
        return
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    assert text.strip() != f"Error executing tool {tool}", f"{tool} crashed on {arguments!r}"
    error = (result.meta or {}).get(ERROR_META_KEY)
    if error is not None:
        assert error["error"] in REFUSALS, f"{tool}({arguments!r}) -> {error}"
        assert says_why(error["message"]), f"{tool}({arguments!r}) -> {error['message']!r}"
    else:  # refused by the SDK before the tool ran: the schema said no, and says which field
        assert says_why(text), f"{tool}({arguments!r}) -> {text!r}"


# The analysis tools read days of telemetry per call: fewer examples keep the suite within its CI time.
HEAVY = {"detect_metric_anomalies", "compare_log_patterns"}
LIGHT_TOOLS = sorted(set(SCHEMAS) - HEAVY)
HEAVY_TOOLS = sorted(HEAVY)


@pytest.mark.parametrize("tool", LIGHT_TOOLS)
@settings(max_examples=15)
@given(data=st.data())
def test_any_arguments_the_schema_allows_are_answered_or_refused_with_a_reason(
    runner: asyncio.Runner, server: Any, tool: str, data: st.DataObject
) -> None:
    arguments = data.draw(from_schema(SCHEMAS[tool]), label="arguments")
    check(tool, arguments, call(runner, server, tool, arguments))


@pytest.mark.parametrize("tool", HEAVY_TOOLS)
@settings(max_examples=5)
@given(data=st.data())
def test_any_arguments_an_analysis_tool_allows_are_answered_or_refused_with_a_reason(
    runner: asyncio.Runner, server: Any, tool: str, data: st.DataObject
) -> None:
    arguments = data.draw(from_schema(SCHEMAS[tool]), label="arguments")
    check(tool, arguments, call(runner, server, tool, arguments))


@pytest.mark.parametrize("tool", sorted(SCHEMAS))
@settings(max_examples=6)
@given(arguments=st.dictionaries(st.text(max_size=12), json_values, max_size=4))
def test_any_arguments_at_all_are_refused_with_a_reason(
    runner: asyncio.Runner, server: Any, tool: str, arguments: dict[str, Any]
) -> None:
    check(tool, arguments, call(runner, server, tool, arguments))


# Paths as a hostile client sends them: long, deep, with NULs, lone surrogates, separators and dots.
hostile_paths = st.one_of(
    st.text(alphabet=st.sampled_from("ab/.\\\x00\udcff\u00e9 "), max_size=40),
    st.integers(1_000, 6_000).map(lambda n: "a" * n),
    st.integers(130, 3_000).map(lambda n: "a/" * n),
    st.integers(256, 600).map(lambda n: "d/" + "n" * n),
)


@pytest.mark.parametrize("tool", ["read_file", "list_directory", "write_file"])
@settings(max_examples=25)
@given(path=hostile_paths)
def test_file_tools_refuse_a_hostile_path_naming_it_without_a_traceback(
    runner: asyncio.Runner, server: Any, tool: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    arguments: dict[str, Any] = {"path": path, **({"content": "x"} if tool == "write_file" else {})}
    caplog.clear()
    result = call(runner, server, tool, arguments)
    check(tool, arguments, result)
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    if result.is_error and "ApprovalRequired" not in text:
        assert "path" in text, text
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"


@pytest.mark.parametrize("bad", ["\x00", "ok\udcffok"])
@pytest.mark.parametrize(
    ("tool", "argument"),
    [
        ("get_incident", "incident_id"),
        ("search_logs", "query"),
        ("get_service", "name"),
        ("read_file", "path"),
    ],
)
def test_arguments_that_are_not_text_are_refused_naming_the_argument(
    runner: asyncio.Runner, server: Any, tool: str, argument: str, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    result = call(runner, server, tool, {argument: bad})
    error = (result.meta or {}).get(ERROR_META_KEY)
    assert result.is_error and error is not None and error["error"] == "BadQuery"
    assert f"argument {argument!r}" in error["message"]
    assert not [record for record in caplog.records if record.exc_info]
