"""The database connection: SQLite in the data folder by default, PostgreSQL through ``DATABASE_URL``."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from core_client.settings import Settings
from core_client.store.migrations import migrate

# Concurrent writers on SQLite wait for the lock this long instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def engine_url(url: str) -> str:
    """``url`` with the driver OpsPilot uses: psycopg 3 for PostgreSQL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite, creates the file's folder and turns on WAL and a busy timeout."""
    resolved = engine_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(resolved, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        resolved,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """An engine and its session factory. Sessions keep their objects readable after commit."""

    def __init__(self, url: str) -> None:
        self.url = engine_url(url)
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # A connection of its own for data_version(), opened on first use; SQLite counts commits made by
        # connections other than the one asking, so it must not be one of the pool's.
        self._watch: sqlite3.Connection | None = None
        database = make_url(self.url).database
        self._sqlite_file = (
            database if self.backend == "sqlite" and database and database != ":memory:" else None
        )
        self._watch_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, upgrade: bool = False) -> Database:
        """The database settings point at; with ``upgrade``, migrated to the latest schema first."""
        url = settings.resolved_database_url
        if upgrade:
            migrate(url)
        return cls(url)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def data_version(self) -> int | None:
        """A number that changes whenever any other connection (of this process or another) commits to the
        database: SQLite's ``PRAGMA data_version``, a read of the shared WAL index and no query. A caller that
        cached rows re-reads them only when it moved. ``None`` where there is no such counter (PostgreSQL, an
        in-memory SQLite): the caller must re-read every time."""
        if self._sqlite_file is None:
            return None
        with self._watch_lock:
            if self._watch is None:
                self._watch = sqlite3.connect(
                    self._sqlite_file, check_same_thread=False, isolation_level=None
                )
            version: int = self._watch.execute("PRAGMA data_version").fetchone()[0]
        return version

    def dispose(self) -> None:
        """Close every pooled connection (and the one data_version() keeps)."""
        with self._watch_lock:
            if self._watch is not None:
                self._watch.close()
                self._watch = None
        self.engine.dispose()
