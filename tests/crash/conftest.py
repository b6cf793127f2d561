"""Fixtures for the crash tests: every test runs on a fresh SQLite file and on the real PostgreSQL, over the small
demo world, with worker processes the test kills with SIGKILL and starts again."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.core_client.conftest import database_url, migrated_postgres, migrated_sqlite
from tests.demo.world_fixture import build_small, install

__all__ = ["database_url", "migrated_postgres", "migrated_sqlite"]

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("worker.py")
OPSPILOT = Path(sys.prefix) / "bin" / "opspilot"
# Short leases and sweeps, so a killed worker's run is free again within seconds; the rules are the same at 30 s.
FAST = {"OPSPILOT_COPILOT__LEASE_SECONDS": "2", "OPSPILOT_COPILOT__SWEEP_SECONDS": "1"}


class Process:
    """A child process whose stdout lines the test reads as they come."""

    def __init__(self, child: asyncio.subprocess.Process, name: str) -> None:
        self.child = child
        self.name = name
        self.lines: list[str] = []

    async def line(self, prefix: str, *, within: float = 120) -> str:
        """The next line of stdout starting with ``prefix``; fails if the process exits first."""
        assert self.child.stdout is not None
        async with asyncio.timeout(within):
            while True:
                raw = await self.child.stdout.readline()
                if not raw:
                    raise AssertionError(f"{self.name} exited ({await self.child.wait()}) before {prefix!r}")
                line = raw.decode().strip()
                self.lines.append(line)
                if line.startswith(prefix):
                    return line

    async def kill(self) -> None:
        """SIGKILL: no clean-up, no lease released, no transaction finished."""
        if self.child.returncode is None:
            self.child.kill()
        await self.child.wait()


Spawn = Callable[..., Awaitable[Process]]


@pytest.fixture(scope="module")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small(tmp_path_factory.mktemp("crash-world"))


@pytest.fixture
def world(built_world: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo world installed in this test's data folder, with OpsPilot's tables at ``database_url``."""
    install(built_world)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """``await spawn(*argv, env=...)``: a worker (``tests/crash/worker.py`` arguments, or ``opspilot ...`` when the
    first argument is ``opspilot``), killed at the end of the test if still alive."""
    started: list[Process] = []

    async def start(*argv: str, env: dict[str, str] | None = None) -> Process:
        command = (
            [str(OPSPILOT), *argv[1:]] if argv[0] == "opspilot" else [sys.executable, str(WORKER), *argv]
        )
        child = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            env={**os.environ, **FAST, "PYTHONPATH": str(ROOT), **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
        )
        process = Process(child, " ".join(argv[:2]))
        started.append(process)
        return process

    yield start
    for process in started:
        await process.kill()
