"""Load: N console sessions over the Reflex websocket plus M concurrent Copilot runs, against the demo world.

Starts the console itself (``reflex run``) in one of three modes, on free ports, over a copy of the demo world in
its own data folder: ``dev`` (the default ``reflex run``), ``prod`` (``reflex run --env prod``) or ``redis``
(``--env prod`` with Reflex's state in Redis, two backend workers, and PostgreSQL for OpsPilot's tables). Then,
for ``--seconds``, each of ``--sessions`` simulated tabs (tests/support/reflex_ws.py: no browser) signs in and
keeps doing what an on-call engineer does between pauses of ``--think`` seconds: paging the Incidents list,
opening an incident, searching the logs; meanwhile ``--runs`` more tabs each ask the Copilot a question, wait for
the answer, and ask again. It prints throughput, p50/p95/p99 of each kind of event (from the event sent to the
tab's new state in, the page's on_load included), every error, and the peak memory of the server's processes.

    .venv/bin/python benchmarks/load.py --mode prod [--sessions 50] [--runs 10] [--seconds 60]

Needs a built demo world (``make demo``), bun on PATH (as ``make run``), and for ``redis`` the local Redis and
PostgreSQL (``--redis-url``, ``--postgres-url``). Target: zero errors, p95 under 500 ms per event.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.postgres import scratch_database  # noqa: E402
from tests.support.reflex_ws import Outcome, ReflexTab  # noqa: E402

PASSWORD = "load test password"
# Words any service's logs carry; the search is the operator's, not a scenario's.
LOG_TERMS = ("error", "timeout", "connection", "retry", "request", "failed", "latency", "pool")
STARTUP_SECONDS = 600
# What an engineer paged in the night asks first; nothing in it names this world's services.
QUESTION = "What is failing right now, and why?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


@contextmanager
def data_folder(source: Path) -> Iterator[Path]:
    """A copy of the demo world's folder (worlds only: users, runs and approvals start empty)."""
    with tempfile.TemporaryDirectory(prefix="opspilot-load-") as folder:
        target = Path(folder) / "data"
        shutil.copytree(source / "demo", target / "demo")
        yield target


class Server:
    """``reflex run`` in its own process group, with its memory sampled while it runs."""

    def __init__(self, mode: str, env: dict[str, str]) -> None:
        # In production the backend serves the built frontend too, on one port.
        self.frontend_port = free_port()
        self.backend_port = self.frontend_port if mode in ("prod", "redis") else free_port()
        command = [
            str(Path(sys.executable).parent / "reflex"),
            "run",
            "--frontend-port",
            str(self.frontend_port),
            "--backend-port",
            str(self.backend_port),
            "--loglevel",
            "warning",
        ]
        if mode in ("prod", "redis"):
            command += ["--env", "prod"]
        self.log = tempfile.NamedTemporaryFile(prefix=f"opspilot-load-{mode}-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.peak_rss = 0
        self._sampling = True

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    async def ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        async with httpx.AsyncClient(timeout=5) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise SystemExit(f"reflex run exited ({self.process.returncode}); see {self.log.name}")
                try:
                    if (await http.get(f"{self.backend_url}/health")).status_code in (200, 503):
                        frontend = await http.get(f"http://127.0.0.1:{self.frontend_port}/")
                        if frontend.status_code == 200:
                            return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1)
        raise SystemExit(f"the console did not start within {STARTUP_SECONDS} s; see {self.log.name}")

    def rss(self) -> int:
        try:
            root = psutil.Process(self.process.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                if "bun" in process.name() or "node" in process.name():
                    continue  # the frontend's dev server is not what serves the load
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total

    async def sample(self) -> None:
        while self._sampling:
            self.peak_rss = max(self.peak_rss, self.rss())
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        self._sampling = False
        if self.process.poll() is not None:
            return
        # The whole group: reflex run's own children (workers, the frontend server) go with it.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def sign_in(sessions: int) -> list[str]:
    """Session tokens for ``sessions`` tabs (five responders, several tabs each), in the server's database."""
    from console.backend.session import ConsoleSessions
    from core_client.client import CoreClient
    from core_client.identity import Role
    from core_client.settings import load_settings

    core = CoreClient.from_settings(load_settings())
    directory = ConsoleSessions.of(core)
    names = [f"oncall{n}" for n in range(5)]
    for name in names:
        directory.users.add(name, Role.RESPONDER, PASSWORD)

    async def tokens() -> list[str]:
        made = [await directory.sign_in(names[n % len(names)], PASSWORD) for n in range(sessions)]
        await core.aclose()
        return [token for token, _ in made]

    return asyncio.run(tokens())


def incident_ids(limit: int = 50) -> list[str]:
    from core_client.client import CoreClient
    from core_client.schemas import IncidentQuery
    from core_client.settings import load_settings

    async def ids() -> list[str]:
        core = CoreClient.from_settings(load_settings())
        try:
            return [item.id for item in (await core.incidents.query(IncidentQuery(limit=limit))).items]
        finally:
            await core.aclose()

    return asyncio.run(ids())


class Load:
    def __init__(self, backend_url: str, origin: str, args: argparse.Namespace, incidents: list[str]) -> None:
        from console.backend.session import COOKIE_NAME
        from console.state.copilot import CopilotPanelState
        from console.state.incidents import IncidentsState

        self.backend_url, self.origin, self.args, self.incidents = backend_url, origin, args, incidents
        self.cookie = COOKIE_NAME
        self.next_page = f"{IncidentsState.get_full_name()}.next_page"
        self.ask = f"{CopilotPanelState.get_full_name()}.ask"
        self.new_conversation = f"{CopilotPanelState.get_full_name()}.new_conversation"
        self.copilot_state = CopilotPanelState.get_full_name()
        self.outcomes: list[Outcome] = []
        self.failures: list[str] = []
        self.deadline = 0.0

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.failures += outcome.errors

    async def tab(self, token: str) -> ReflexTab:
        tab = ReflexTab(self.backend_url, cookies={self.cookie: token}, origin=self.origin)
        self.record(await tab.open("/"))
        return tab

    async def engineer(self, token: str, rng: random.Random) -> None:
        try:
            tab = await self.tab(token)
        except Exception as error:
            self.failures.append(f"connect: {type(error).__name__}: {error}")
            return
        try:
            while time.monotonic() < self.deadline:
                await asyncio.sleep(rng.uniform(*self.args.think))
                action = rng.choice(("incidents", "incident", "logs"))
                if action == "incidents":
                    self.record(await tab.navigate("/incidents", kind="incidents list"))
                    self.record(await tab.fire(self.next_page, kind="incidents next page"))
                elif action == "incident":
                    self.record(
                        await tab.navigate(f"/incidents/{rng.choice(self.incidents)}", kind="open incident")
                    )
                else:
                    self.record(await tab.navigate(f"/logs?q={rng.choice(LOG_TERMS)}", kind="search logs"))
        finally:
            await tab.close()

    def answered(self, delta: dict[str, Any]) -> bool:
        def terminal(value: Any) -> bool:
            if isinstance(value, dict):
                return value.get("state") in ("DONE", "FAILED") or any(terminal(v) for v in value.values())
            if isinstance(value, list):
                return bool(value) and terminal(value[-1])
            return False

        return any(terminal(values) for name, values in delta.items() if name == self.copilot_state)

    async def asker(self, token: str, question: str) -> None:
        try:
            tab = await self.tab(token)
        except Exception as error:
            self.failures.append(f"connect: {type(error).__name__}: {error}")
            return
        try:
            while time.monotonic() < self.deadline:
                self.record(await tab.fire(self.new_conversation, kind="copilot new conversation"))
                run = await tab.fire(
                    self.ask,
                    {"question": question},
                    kind="copilot run",
                    within=180,
                    done=lambda outcome: self.answered(outcome.deltas[-1]),
                )
                self.record(run)
        finally:
            await tab.close()

    async def run(self, tokens: list[str], question: str) -> float:
        rng = random.Random(7)
        self.deadline = time.monotonic() + self.args.seconds
        started = time.monotonic()
        work = [
            self.engineer(token, random.Random(rng.random())) for token in tokens[: self.args.sessions]
        ] + [self.asker(token, question) for token in tokens[self.args.sessions :]]
        await asyncio.gather(*work)
        return time.monotonic() - started


def report(mode: str, load: Load, elapsed: float, peak_rss: int, args: argparse.Namespace) -> None:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for outcome in load.outcomes:
        if not outcome.errors:
            by_kind[outcome.kind].append(outcome.seconds * 1000)
    events = sum(len(v) for k, v in by_kind.items() if k != "copilot run")
    print(f"\nmode {mode}: {args.sessions} sessions + {args.runs} Copilot runs at once, {elapsed:.0f} s")
    print(
        f"throughput: {events / elapsed:.1f} console events/s ({events} events), "
        f"{len(by_kind.get('copilot run', []))} Copilot runs answered"
    )
    print(f"{'event':<28}{'count':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
    for kind in sorted(by_kind):
        values = by_kind[kind]
        print(
            f"{kind:<28}{len(values):>7}{percentile(values, 0.5):>10.0f}"
            f"{percentile(values, 0.95):>10.0f}{percentile(values, 0.99):>10.0f}"
        )
    console_events = [v for k, v in by_kind.items() if k not in ("copilot run",) for v in v]
    if console_events:
        print(
            f"{'all console events':<28}{len(console_events):>7}{percentile(console_events, 0.5):>10.0f}"
            f"{percentile(console_events, 0.95):>10.0f}{percentile(console_events, 0.99):>10.0f}"
        )
    print(f"errors: {len(load.failures)}")
    for failure in sorted(set(load.failures))[:20]:
        print(f"  {load.failures.count(failure)} x {failure}")
    print(f"peak memory of the server's processes: {peak_rss / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("dev", "prod", "redis"), default="prod")
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"))
    parser.add_argument(
        "--data", type=Path, default=REPO / ".opspilot", help="where the demo world was built"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    with (
        data_folder(args.data) as folder,
        scratch_database(args.postgres_url, "opspilot_load")
        if args.mode == "redis"
        else nullcontext() as database,
    ):
        env = {**os.environ, "OPSPILOT_DATA_DIR": str(folder)}
        if database is not None:
            env["DATABASE_URL"] = database
        if args.mode == "redis":
            env.update(REFLEX_REDIS_URL=args.redis_url, REDIS_URL=args.redis_url, GRANIAN_WORKERS="2")
        os.environ.update(
            {k: v for k, v in env.items() if k in ("OPSPILOT_DATA_DIR", "DATABASE_URL", "REDIS_URL")}
        )
        tokens = sign_in(args.sessions + args.runs)
        incidents = incident_ids()
        question = QUESTION
        server = Server(args.mode, env)
        try:
            asyncio.run(server.ready())
            print(
                f"console up ({args.mode}): frontend :{server.frontend_port}, backend :{server.backend_port}"
            )

            async def measured() -> tuple[Load, float]:
                load = Load(server.backend_url, f"http://127.0.0.1:{server.frontend_port}", args, incidents)
                sampler = asyncio.create_task(server.sample())
                elapsed = await load.run(tokens, question)
                server._sampling = False
                await sampler
                return load, elapsed

            load, elapsed = asyncio.run(measured())
        finally:
            server.stop()
        report(args.mode, load, elapsed, server.peak_rss, args)


if __name__ == "__main__":
    main()
