"""What a tool call through MCP costs over the direct CoreClient call, on the demo world.

For a few representative read tools, times N calls each way, after a warm-up: the direct CoreClient call, the
tool through the SDK's in-memory client (``Client(server)``, protocol negotiated as a real client would), and
the tool through ``opspilot mcp`` as a stdio subprocess. Prints median and p95 side by side, and the overhead of
each MCP path over the direct call (the budget in DESIGN.md: under 1 ms each).

Beside each transport runs a no-op twin: the same tool (same argument model, same output schema) whose body
hands back the result the real tool gave, canned, on a server with none of OpsPilot's request handling (for
stdio: this script with ``--serve-noop``, no token check). What the SDK and the transport cost is then the
twin's time, and OpsPilot's own share of a call is ``tool - twin - direct call`` (budget: under 0.3 ms), taken
round by round and reported as the median.

The world is built once into the data folder (cached there) with its own settings, so the developer's data
folder and providers are left alone.

With ``--baseline CHECKOUT`` (another checkout of OpsPilot, e.g. ``git worktree add /tmp/before main``) a third
stdio server runs that checkout's ``opspilot mcp`` in the same run, so a change's before and after stand side by
side under the same load.

    .venv/bin/python benchmarks/mcp_overhead.py [--calls 300] [--warmup 20] [--scale 0.1] [--data-dir DIR]
        [--baseline CHECKOUT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import Client, StdioServerParameters
from mcp.server.mcpserver import MCPServer

from adapters.demo.build import WorldSpec
from adapters.demo.world import DEFAULT_SCENARIO, prepare_world
from core_client.client import CoreClient
from core_client.errors import NotFound
from core_client.identity import Actor, Role
from core_client.mcp.http import user_directory
from core_client.mcp.server import build_server
from core_client.schemas import IncidentQuery, LogExpression, LogQuery, QueryScope
from core_client.settings import Settings, load_settings

BUDGET_MS = 1.0
OWN_SHARE_BUDGET_MS = 0.3
USER = "bench"
OPSPILOT = Path(sys.prefix) / "bin" / "opspilot"


@dataclass(frozen=True)
class Probe:
    """One read tool and the CoreClient call it stands for."""

    name: str
    tool: str
    arguments: dict[str, Any]
    direct: Callable[[CoreClient], Awaitable[object]]


def probes(incident_id: str) -> list[Probe]:
    logs = LogQuery(
        expression=LogExpression(search="error"), scope=QueryScope(service="checkout-api"), limit=50
    )
    return [
        Probe(
            "get_incident",
            "get_incident",
            {"incident_id": incident_id},
            lambda core: core.incidents.get(incident_id),
        ),
        Probe(
            "query_incidents x25",
            "query_incidents",
            {"limit": 25},
            lambda core: core.incidents.query(IncidentQuery(limit=25)),
        ),
        Probe(
            "search_logs x50",
            "search_logs",
            {"search": "error", "service": "checkout-api", "limit": 50},
            lambda core: core.logs.query(logs),
        ),
    ]


def prepare(data_dir: Path, scale: float) -> Settings:
    """Settings for a data folder of its own holding the demo world (built once) and the benchmark's user."""
    for variable in list(os.environ):
        if variable.startswith(("OPSORCH_", "OPSPILOT_")) or variable == "DATABASE_URL":
            del os.environ[variable]
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "opspilot.toml"
    config.touch()
    os.environ["OPSPILOT_DATA_DIR"] = str(data_dir)
    os.environ["OPSPILOT_CONFIG"] = str(config)
    settings = load_settings()
    prepared = prepare_world(settings, WorldSpec(1, DEFAULT_SCENARIO, scale))
    print(f"world {prepared.path} ({'built' if prepared.built else 'cached'})")
    users = user_directory(settings)
    try:
        users.get(USER)
    except NotFound:
        users.add(USER, Role.VIEWER)
    # The stdio server acts only as the holder of an API token.
    os.environ["OPSPILOT_TOKEN"] = users.issue_token(USER, "benchmark", expires_in=timedelta(hours=1))
    return settings


async def timed(
    ways: dict[str, Callable[[], Awaitable[object]]], calls: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per call of each way over ``calls`` rounds, after ``warmup`` untimed ones. A round calls every way
    once in turn, so a change of load on a shared machine weighs on all of them alike."""
    for _ in range(warmup):
        for call in ways.values():
            await call()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(calls):
        for name, call in ways.items():
            started = time.perf_counter()
            await call()
            times[name].append(time.perf_counter() - started)
    return times


async def token_checks(settings: Settings, calls: int, warmup: int) -> dict[str, list[float]]:
    """What the stdio server's check of its token costs per request: in full (a query in a worker thread) and
    held (a counter read while nothing changed)."""
    users = user_directory(settings)
    token = os.environ["OPSPILOT_TOKEN"]
    held = users.hold(token)

    async def full() -> object:
        return await asyncio.to_thread(users.verify_token, token)

    return await timed({"full check": full, "held token": held.holder}, calls, warmup)


def own_share_ms(times: dict[str, list[float]], way: str, twin: str) -> float:
    """OpsPilot's own share of a call through ``way``: the median over rounds of ``way - twin - direct``. Taken
    within each round (the three ran back to back), a moment of contention that slows one round is not
    compared with a quiet moment of another."""
    rounds = zip(times[way], times[twin], times["direct"], strict=True)
    return statistics.median(tool - noop - direct for tool, noop, direct in rounds) * 1000


def median_p95_ms(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


def tool_call(client: Client, probe: Probe) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        result = await client.call_tool(probe.tool, probe.arguments)
        if result.is_error:
            raise SystemExit(f"{probe.tool} failed: {result.content}")
        return result

    return call


async def noop_server(core: CoreClient, calls: list[tuple[str, dict[str, Any]]]) -> MCPServer:
    """OpsPilot's read-only server whose tools in ``calls`` only hand back what they returned once, canned."""
    server = build_server(core, actor=lambda _: Actor(user=USER, role=Role.VIEWER, via="mcp"), read_only=True)
    for name, arguments in calls:
        tool = server._tool_manager.get_tool(name)
        if tool is None:
            raise SystemExit(f"no tool {name!r}")
        validated = tool.fn_metadata.validate_arguments(arguments)
        canned = await tool.fn_metadata.call_fn(tool.fn, tool.is_async, validated, {})

        async def body(_canned: object = canned, **_arguments: object) -> object:
            return _canned

        tool.fn = body
    return server


def probe_calls(incident_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(probe.tool, probe.arguments) for probe in probes(incident_id)]


async def serve_noop(incident_id: str) -> None:
    """The no-op twin over stdio (``--serve-noop``), on the settings the parent process left in the environment."""
    core = CoreClient.from_settings(load_settings())
    server = await noop_server(core, probe_calls(incident_id))
    try:
        await server.run_stdio_async()
    finally:
        await core.aclose()


async def run(args: argparse.Namespace) -> None:
    settings = prepare(Path(args.data_dir), args.scale)
    core = CoreClient.from_settings(settings)
    newest = (await core.incidents.query(IncidentQuery(limit=1))).items[0].id
    actor = Actor(user=USER, role=Role.VIEWER, via="mcp")
    stdio = StdioServerParameters(command=str(OPSPILOT), args=["mcp", "--read-only"], env=dict(os.environ))
    # The baseline checkout comes first on the path, ahead of this checkout's editable install.
    baseline = StdioServerParameters(
        command=sys.executable,
        args=["-c", "import sys; from console.cli import main; sys.exit(main())", "mcp", "--read-only"],
        env={**os.environ, "PYTHONPATH": str(args.baseline)},
    )
    stdio_noop = StdioServerParameters(
        command=sys.executable, args=[__file__, "--serve-noop", newest], env=dict(os.environ)
    )
    rows: dict[str, dict[str, list[float]]] = {}
    async with (
        Client(build_server(core, actor=lambda _: actor)) as memory,
        Client(await noop_server(core, probe_calls(newest))) as memory_noop,
        Client(stdio) as subprocess,
        Client(stdio_noop) as subprocess_noop,
        Client(baseline if args.baseline else stdio_noop) as subprocess_baseline,
    ):
        print(f"in-memory protocol {memory.protocol_version}, stdio protocol {subprocess.protocol_version}")
        print(f"{args.calls} calls each after {args.warmup} warm-up calls\n")
        for probe in probes(newest):
            ways = {
                "direct": lambda probe=probe: probe.direct(core),
                "in-memory": tool_call(memory, probe),
                "in-memory no-op": tool_call(memory_noop, probe),
                "stdio": tool_call(subprocess, probe),
                "stdio no-op": tool_call(subprocess_noop, probe),
            }
            if args.baseline:
                ways["stdio baseline"] = tool_call(subprocess_baseline, probe)
            rows[probe.name] = await timed(ways, args.calls, args.warmup)
    await core.aclose()

    checks = await token_checks(settings, args.calls, args.warmup)
    print("token check per request (med/p95 ms): ", end="")
    print(
        ", ".join(f"{way} {median_p95_ms(t)[0]:.3f}/{median_p95_ms(t)[1]:.3f}" for way, t in checks.items())
    )
    print()
    header = (
        f"{'tool':<22}{'direct med/p95 ms':>19}{'in-memory med/p95':>19}{'stdio med/p95':>17}"
        f"{'in-mem +ms med/p95':>20}{'stdio +ms med/p95':>19}"
    )
    print(header)
    print("-" * len(header))
    verdicts = []
    for name, times in rows.items():
        direct, memory_ms, stdio_ms = (median_p95_ms(times[way]) for way in ("direct", "in-memory", "stdio"))
        over_memory = (memory_ms[0] - direct[0], memory_ms[1] - direct[1])
        over_stdio = (stdio_ms[0] - direct[0], stdio_ms[1] - direct[1])
        print(
            f"{name:<22}{direct[0]:>10.3f}/{direct[1]:<8.3f}{memory_ms[0]:>10.3f}/{memory_ms[1]:<8.3f}"
            f"{stdio_ms[0]:>8.3f}/{stdio_ms[1]:<8.3f}{over_memory[0]:>+11.3f}/{over_memory[1]:<+8.3f}"
            f"{over_stdio[0]:>+10.3f}/{over_stdio[1]:<+8.3f}"
        )
        verdicts.append((name, over_memory[0], over_stdio[0]))
    print(f"\nbudget (DESIGN.md): under {BUDGET_MS:.0f} ms over the direct call, by median")
    for name, memory_over, stdio_over in verdicts:
        print(
            f"  {name:<22} in-memory {'ok' if memory_over < BUDGET_MS else 'OVER'}"
            f"   stdio {'ok' if stdio_over < BUDGET_MS else 'OVER'}"
        )
    print(
        f"\nOpsPilot's own share (median of tool - no-op twin - direct call per round; budget under {OWN_SHARE_BUDGET_MS} ms)"
    )
    header = (
        f"{'tool':<22}{'in-mem no-op ms':>17}{'own share ms':>14}{'stdio no-op ms':>16}{'own share ms':>14}"
    )
    print(header)
    print("-" * len(header))
    for name, times in rows.items():
        medians = {way: statistics.median(values) * 1000 for way, values in times.items()}
        shares = [own_share_ms(times, way, f"{way} no-op") for way in ("in-memory", "stdio")]
        verdict = " ".join("ok" if share < OWN_SHARE_BUDGET_MS else "OVER" for share in shares)
        print(
            f"{name:<22}{medians['in-memory no-op']:>17.3f}{shares[0]:>+14.3f}"
            f"{medians['stdio no-op']:>16.3f}{shares[1]:>+14.3f}   {verdict}"
        )

    if args.baseline:
        print(f"\nstdio own share, this checkout beside {args.baseline} (same run)")
        header = f"{'tool':<22}{'baseline stdio ms':>19}{'own share ms':>14}{'this stdio ms':>15}{'own share ms':>14}"
        print(header)
        print("-" * len(header))
        for name, times in rows.items():
            medians = {way: statistics.median(values) * 1000 for way, values in times.items()}
            before, after = (own_share_ms(times, way, "stdio no-op") for way in ("stdio baseline", "stdio"))
            print(
                f"{name:<22}{medians['stdio baseline']:>19.3f}{before:>+14.3f}{medians['stdio']:>15.3f}{after:>+14.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--scale", type=float, default=0.1, help="demo world scale (1.0 is the default world)"
    )
    parser.add_argument(
        "--data-dir",
        default=str(
            Path(os.environ.get("OPSPILOT_BENCH_DIR", Path.home() / ".cache" / "opspilot" / "bench"))
            / "mcp-overhead"
        ),
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="CHECKOUT",
        help="also time the stdio server of another OpsPilot checkout (before/after in one run)",
    )
    parser.add_argument("--serve-noop", metavar="INCIDENT_ID", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_noop:
        asyncio.run(serve_noop(args.serve_noop))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
