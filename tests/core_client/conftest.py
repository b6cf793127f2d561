"""Fixtures for core_client's store tests: each test runs on a fresh SQLite file and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from core_client.approvals import ApprovalBook
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import FixedClock
from core_client.errors import NotFound
from core_client.gate import MutationGate
from core_client.policy import Policy
from core_client.schemas import (
    CreateIncidentInput,
    Incident,
    IncidentQuery,
    Page,
    ProviderHealth,
    TimelineAppendInput,
    TimelineEntry,
    UpdateIncidentInput,
)
from core_client.settings import Settings, load_settings
from core_client.store import Database, migrate

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; each test gets a copy (a migration per test is slow)."""
    path = tmp_path_factory.mktemp("store") / "template.db"
    url = f"sqlite:///{path}"
    migrate(url)
    Database(url).dispose()
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str) -> str:
    """The session's PostgreSQL database, migrated once."""
    migrate(postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database with its tables emptied."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("migrated_postgres")
    database = Database(url)
    tables = ", ".join(table.name for table in SQLModel.metadata.sorted_tables)
    with database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    database.dispose()
    return url


@pytest.fixture
def policy() -> Policy:
    """The policy tests run under; override it in a test module to try other rules."""
    return Policy()


@pytest.fixture
def settings(database_url: str, policy: Policy) -> Settings:
    return load_settings(database_url=database_url, policy=policy)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database.from_settings(settings)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def book(database: Database, clock: FixedClock, settings: Settings) -> ApprovalBook:
    return ApprovalBook(database, clock=clock, settings=settings)


class FakeIncidents:
    """An in-memory incident provider that counts every create and can be told to fail or to dawdle."""

    def __init__(self) -> None:
        self.created: list[tuple[CreateIncidentInput, str | None]] = []
        self.fail_with: Exception | None = None
        self.delay = 0.0

    async def health(self) -> ProviderHealth:
        return ProviderHealth(capability="incident", provider="fake", status="ok")

    async def query(self, query: IncidentQuery, *, cursor: str | None = None) -> Page[Incident]:
        if self.fail_with:
            raise self.fail_with
        return Page[Incident](items=[Incident(id=f"INC-{i}") for i, _ in enumerate(self.created, 1)])

    async def get(self, incident_id: str) -> Incident:
        raise NotFound(f"no incident {incident_id}")

    async def create(self, data: CreateIncidentInput, *, idempotency_key: str | None = None) -> Incident:
        await asyncio.sleep(self.delay)
        if self.fail_with:
            error, self.fail_with = self.fail_with, None
            raise error
        self.created.append((data, idempotency_key))
        return Incident(id=f"INC-{len(self.created)}", title=data.title, status=data.status)

    async def update(
        self, incident_id: str, changes: UpdateIncidentInput, *, idempotency_key: str | None = None
    ) -> Incident:
        return Incident(id=incident_id, **changes.model_dump(exclude_none=True))

    async def timeline(self, incident_id: str, *, cursor: str | None = None) -> Page[TimelineEntry]:
        return Page[TimelineEntry]()

    async def append_timeline(
        self, incident_id: str, entry: TimelineAppendInput, *, idempotency_key: str | None = None
    ) -> TimelineEntry:
        return TimelineEntry(id="t1", incident_id=incident_id, at=entry.at or NOW, body=entry.body)


@pytest.fixture
def incidents() -> FakeIncidents:
    return FakeIncidents()


CoreFactory = Callable[..., CoreClient]


@pytest.fixture
def build_core(book: ApprovalBook, settings: Settings) -> CoreFactory:
    """Builds a CoreClient over in-test providers (``{Capability: instance}``), gated by ``book``."""

    def build(providers: dict[Capability, Any], *, timeout: float = 5) -> CoreClient:
        loaded = {
            cap: LoadedProvider(capability=cap, name="fake", instance=instance, timeout=timeout)
            for cap, instance in providers.items()
        }
        return CoreClient(loaded, gate=MutationGate(book), clock=FixedClock(NOW), settings=settings)

    return build


@pytest.fixture
def core(incidents: FakeIncidents, build_core: CoreFactory) -> CoreClient:
    return build_core({Capability.INCIDENT: incidents})
