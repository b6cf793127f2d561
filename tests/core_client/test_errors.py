"""Every typed error of core_client.errors, raised through CoreClient's public interface."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import (
    ApprovalRequired,
    BadQuery,
    CapabilityNotConfigured,
    ConfigurationError,
    Forbidden,
    NotFound,
    OpsPilotError,
    ProviderUnavailable,
    Unsupported,
)
from core_client.identity import Actor, Role
from core_client.schemas import CreateIncidentInput, IncidentQuery, LogEntry, LogQuery, Page, ProviderHealth
from core_client.settings import load_settings
from core_client.store import migrate


class BareLogs:
    """A log provider with queries only: no context, no histogram."""

    async def health(self) -> ProviderHealth:
        return ProviderHealth(capability="log", provider="fake", status="ok")

    async def query(self, query: LogQuery, *, cursor: str | None = None) -> Page[LogEntry]:
        await asyncio.sleep(10 if query.limit == 1 else 0)
        return Page[LogEntry]()


@pytest.mark.parametrize("error", [NotFound("no incident INC-9"), BadQuery("unknown status 'wat'")])
async def test_provider_typed_errors_pass_through_with_their_source(
    core: CoreClient, incidents: Any, error: OpsPilotError
) -> None:
    incidents.fail_with = error
    with pytest.raises(type(error)) as raised:
        await core.incidents.query(IncidentQuery())
    assert raised.value is error and raised.value.source == "fake"


async def test_untyped_provider_error_becomes_provider_unavailable(core: CoreClient, incidents: Any) -> None:
    incidents.fail_with = RuntimeError("socket closed")
    with pytest.raises(
        ProviderUnavailable, match=r"incidents\.query failed: RuntimeError: socket closed"
    ) as raised:
        await core.incidents.query()
    assert raised.value.source == "fake"


async def test_slow_provider_times_out_as_provider_unavailable(build_core: Any) -> None:
    core = build_core({Capability.LOG: BareLogs()}, timeout=0.05)
    with pytest.raises(ProviderUnavailable, match=r"no answer within 0\.05 s"):
        await core.logs.query(LogQuery(limit=1))


async def test_missing_capability_is_not_configured(core: CoreClient) -> None:
    with pytest.raises(
        CapabilityNotConfigured, match="no provider serves ticket; set OPSORCH_TICKET_PROVIDER"
    ):
        await core.tickets.query()


async def test_missing_optional_operation_is_unsupported(build_core: Any) -> None:
    core = build_core({Capability.LOG: BareLogs()})
    with pytest.raises(Unsupported, match="does not offer log context"):
        await core.logs.context("L1")


async def test_gate_errors_reach_the_caller(core: CoreClient) -> None:
    data = CreateIncidentInput(title="x")
    with pytest.raises(ApprovalRequired):
        await core.incidents.create(data, actor=Actor(user="alice", role=Role.RESPONDER))
    with pytest.raises(Forbidden):
        await core.incidents.create(data, actor=Actor(user="vivian", role=Role.VIEWER))


def test_missing_alembic_ini_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import core_client

    monkeypatch.setattr(core_client, "__file__", str(tmp_path / "core_client" / "__init__.py"))
    with pytest.raises(ConfigurationError, match=r"alembic\.ini not found"):
        migrate(load_settings().resolved_database_url)
