"""Where worlds live, which one is active, and opening one safely.

Worlds are cached under ``<data_dir>/demo/worlds/<scenario>-s<seed>-x<scale>.db``; ``<data_dir>/demo/active``
names the world the providers serve. A file that fails ``PRAGMA quick_check`` or lacks its completion row is
deleted and rebuilt, never served.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from adapters.demo.build import FORMAT_VERSION, Progress, WorldSpec, build_world
from adapters.demo.scenario import load_library
from core_client.clock import FixedClock
from core_client.errors import ProviderUnavailable
from core_client.settings import Settings

DEFAULT_SCENARIO = "orders-pool-exhaustion"
SOURCE = "demo"
T = TypeVar("T")


def demo_dir(settings: Settings) -> Path:
    return settings.data_dir / "demo"


def world_path(settings: Settings, spec: WorldSpec) -> Path:
    return demo_dir(settings) / "worlds" / f"{spec.key}.db"


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a finished, uncorrupted world of this format."""
    if not path.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return False
            row = conn.execute("SELECT value FROM world_meta WHERE key = 'complete'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return row is not None and json.loads(row[0]).get("format") == FORMAT_VERSION


@dataclass(frozen=True)
class Prepared:
    path: Path
    spec: WorldSpec
    built: bool
    seconds: float


def prepare_world(
    settings: Settings,
    spec: WorldSpec,
    *,
    scenarios_dir: Path | None = None,
    progress: Progress | None = None,
    activate: bool = True,
) -> Prepared:
    """Build ``spec`` unless a complete copy is cached, and (by default) make it the active world."""
    path = world_path(settings, spec)
    built, seconds = False, 0.0
    if not is_complete(path):
        path.unlink(missing_ok=True)
        library = load_library(scenarios_dir or settings.scenarios)
        seconds = build_world(spec, library, path, progress)
        built = True
    if activate:
        pointer = demo_dir(settings) / "active"
        staged = pointer.with_suffix(".tmp")
        staged.write_text(
            json.dumps({"path": path.name, "seed": spec.seed, "scenario": spec.scenario, "scale": spec.scale})
        )
        os.replace(staged, pointer)
    return Prepared(path, spec, built, seconds)


def active_spec(settings: Settings) -> WorldSpec:
    """The active world's spec, or the default world from settings when none is active yet."""
    pointer = demo_dir(settings) / "active"
    if pointer.is_file():
        try:
            data = json.loads(pointer.read_text())
            return WorldSpec(int(data["seed"]), str(data["scenario"]), float(data["scale"]))
        except (ValueError, KeyError, TypeError):
            pass
    demo = settings.demo
    return WorldSpec(demo.seed, demo.scenario or DEFAULT_SCENARIO, demo.scale)


class World:
    """One opened world: a writable connection used from worker threads one call at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._lock = threading.Lock()
        meta = dict(self._conn.execute("SELECT key, value FROM world_meta").fetchall())
        self.now = datetime.fromisoformat(meta["world_now"].replace("Z", "+00:00"))
        self.clock = FixedClock(self.now)
        self.meta = meta

    @property
    def now_ms(self) -> int:
        return int(self.now.timestamp() * 1000)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` with the connection on a worker thread; SQLite failures become ``ProviderUnavailable``."""

        def job() -> T:
            with self._lock:
                try:
                    return work(self._conn)
                except sqlite3.Error as exc:
                    raise ProviderUnavailable(f"demo world database: {exc}", source=SOURCE) from exc

        return await asyncio.to_thread(job)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Like :meth:`run`, inside one transaction."""

        def tx(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self.run(tx)

    def close(self) -> None:
        self._conn.close()


def open_active_world(settings: Settings) -> World:
    """The active world, built first if it is missing or damaged."""
    spec = active_spec(settings)
    prepared = prepare_world(settings, spec)
    return World(prepared.path)


def remembered(conn: sqlite3.Connection, key: str | None, operation: str) -> Any | None:
    """The stored result of an earlier ``operation`` with this idempotency key."""
    if not key:
        return None
    row = conn.execute(
        "SELECT result FROM idempotency WHERE key = ? AND operation = ?", (key, operation)
    ).fetchone()
    return json.loads(row[0]) if row else None


def remember(conn: sqlite3.Connection, key: str | None, operation: str, result: dict[str, Any]) -> None:
    if key:
        conn.execute("INSERT INTO idempotency VALUES (?, ?, ?)", (key, operation, json.dumps(result)))
