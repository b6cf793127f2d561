"""The files provider's service catalog: one YAML or JSON file, read again when it changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import ConfigurationError
from core_client.schemas import QueryScope, ServiceQuery
from core_client.settings import load_settings

CATALOG = """
services:
  - {name: storefront, dependencies: [ledger-api], team: web, tier: 1, description: the web shop}
  - {name: ledger-api, team: payments, tags: {kind: api}}
  - {name: edge-node-1, tags: {kind: host}, metadata: {host: edge-node-1.internal}}
"""


def catalog_client(monkeypatch: pytest.MonkeyPatch, path: Path) -> CoreClient:
    monkeypatch.setenv("OPSORCH_SERVICE_PROVIDER", "files")
    monkeypatch.setenv("OPSORCH_SERVICE_CONFIG", json.dumps({"catalog": str(path)}))
    settings = load_settings()
    settings.providers = {Capability.SERVICE: settings.providers[Capability.SERVICE]}
    return CoreClient.from_settings(settings)


async def test_the_catalog_serves_services_with_their_dependencies_and_owners(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(CATALOG)
    core = catalog_client(monkeypatch, path)
    page = await core.services.query(ServiceQuery())
    by_name = {s.name: s for s in page.items}
    assert sorted(by_name) == ["edge-node-1", "ledger-api", "storefront"]
    storefront = by_name["storefront"]
    assert (storefront.id, storefront.dependencies, storefront.owner_team, storefront.tier) == (
        "storefront",
        ["ledger-api"],
        "web",
        1,
    )
    assert storefront.metadata["description"] == "the web shop"
    assert by_name["edge-node-1"].tags == {"kind": "host"}
    hosts = await core.services.query(ServiceQuery(tags={"kind": "host"}))
    assert [s.name for s in hosts.items] == ["edge-node-1"]
    teams = await core.services.query(ServiceQuery(scope=QueryScope(team="payments")))
    assert [s.name for s in teams.items] == ["ledger-api"]
    health = await core.health()
    assert health.providers[0].message == f"3 services in {path}"

    # Edited in place: read again.
    path.write_text(CATALOG + "  - {name: batch-jobs}\n")
    os.utime(path, ns=(1, 10**18))
    assert len((await core.services.query(ServiceQuery())).items) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services: [{name: a}, {name: a}]", "names a more than once"),
        ("services: [{name: a, owner: x}]", "service #1: owner: Extra inputs are not permitted"),
        ("services: {name: a}", "must hold a list of services"),
        ("services: [", "is not valid"),
    ],
)
async def test_a_broken_catalog_says_which_entry_and_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "services.yaml"
    path.write_text(text)
    core = catalog_client(monkeypatch, path)
    with pytest.raises(ConfigurationError, match=message):
        await core.services.query(ServiceQuery())
    assert (await core.health()).providers[0].status == "down"


async def test_a_missing_catalog_is_down_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    core = catalog_client(monkeypatch, tmp_path / "nowhere.yaml")
    [health] = (await core.health()).providers
    assert health.status == "down" and "nowhere.yaml cannot be read" in health.message
