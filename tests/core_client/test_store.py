"""The store's schema and connection, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from core_client.audit import AuditTrail
from core_client.clock import FixedClock
from core_client.identity import Actor, Role
from core_client.settings import load_settings
from core_client.store import Database, migrate


def test_migration_creates_exactly_the_models_schema(database: Database) -> None:
    with database.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == []
    tables = set(inspect(database.engine).get_table_names())
    assert {
        "users",
        "api_tokens",
        "console_sessions",
        "approval_requests",
        "grants",
        "audit_events",
    } <= tables


def test_migrating_twice_changes_nothing(database_url: str, database: Database) -> None:
    migrate(database_url)
    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_times_read_back_as_the_same_aware_utc_instant(database: Database) -> None:
    # 12:00 at UTC+2 is 10:00 UTC: stored and read back as that instant, with its zone.
    clock = FixedClock(datetime(2026, 11, 21, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    trail = AuditTrail(database, clock=clock)
    trail.record("executed", actor=Actor(user="alice", role=Role.RESPONDER), tool="create_incident")
    (event,) = trail.list().items
    assert event.at == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert event.at.tzinfo is not None
    assert event.at.utcoffset() == timedelta(0)


def test_default_database_is_a_sqlite_file_in_the_data_folder() -> None:
    settings = load_settings()
    database = Database.from_settings(settings, upgrade=True)
    try:
        assert database.backend == "sqlite"
        assert (settings.data_dir / "opspilot.db").is_file()
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        database.dispose()
