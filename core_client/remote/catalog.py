"""Reading OpsPilot's service fields (aliases, dependencies, owner team, tier) out of an OpsOrch service document.

OpsOrch's Service has only id, name, url, tags and metadata: its demo data keeps the dependency graph in
metadata (as service ids), and the owner and tier in tags or metadata. This is the one place that knows those keys.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import Any

from pydantic import ValidationError

from core_client.errors import OpsPilotError
from core_client.remote.api import CoreApi
from core_client.schemas import Service
from core_client.schemas.services import tier_number
from core_client.service_directory import ServiceDirectory

ALIAS_KEYS = ("aliases", "alias", "aka")
DEPENDENCY_KEYS = ("dependencies", "dependsOn", "depends_on", "upstreams", "calls")
OWNER_KEYS = ("team", "owner", "ownerTeam", "owner_team")
TIER_KEYS = ("tier",)


def service_from_core(document: dict[str, Any]) -> Service:
    """A :class:`Service` with ``aliases``, ``dependencies``, ``owner_team`` and ``tier`` from tags or metadata.

    Typed fields the document already carries win; the document still round-trips through ``to_json()``
    unchanged, because derived values are not marked as set.
    """
    service = Service.from_json(document)
    tags: dict[str, Any] = dict(service.tags)
    metadata: dict[str, Any] = dict(service.metadata)
    derived: dict[str, Any] = {}
    if "aliases" not in service.model_fields_set:
        derived["aliases"] = _names(_first(ALIAS_KEYS, metadata, tags))
    if "dependencies" not in service.model_fields_set:
        derived["dependencies"] = _names(_first(DEPENDENCY_KEYS, metadata, tags))
    if "owner_team" not in service.model_fields_set:
        owner = _first(OWNER_KEYS, tags, metadata)
        derived["owner_team"] = str(owner) if owner not in (None, "") else None
    if "tier" not in service.model_fields_set:
        derived["tier"] = _tier(_first(TIER_KEYS, tags, metadata))
    for name, value in derived.items():
        # Plain attribute writes leave model_fields_set alone, so to_json() gives back the original document.
        object.__setattr__(service, name, value)
    return service


def _first(keys: tuple[str, ...], *sources: dict[str, Any]) -> Any:
    for source in sources:
        for key in keys:
            if source.get(key) not in (None, "", []):
                return source[key]
    return None


def _names(value: Any) -> list[str]:
    """References (ids or names) as a list, from a list or a comma-separated string."""
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = [part for part in re.split(r"[,\s]+", value) if part]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return []
    names: list[str] = []
    for item in items:
        # Some catalogs list dependencies as objects ({"name": ...} or {"id": ...}).
        name = (item.get("name") or item.get("id")) if isinstance(item, dict) else item
        if name not in (None, "") and str(name) not in names:
            names.append(str(name))
    return names


def _tier(value: Any) -> int | str | None:
    """A numeric tier (``1``, ``"tier-1"``) as its number; any other word (``"backend"``) kept as given."""
    if value is None or isinstance(value, bool):
        return None
    number = tier_number(value)
    if number is not None:
        return number
    text = str(value).strip()
    return text or None


class CoreCatalog:
    """The Core's service catalog as a :class:`ServiceDirectory`, read at most once per ``ttl`` seconds.

    An OpsOrch Core's providers match ``scope.service`` against the service's id (``svc-checkout``), while people,
    the console's service picker and the Copilot may say its name ("Checkout API"). Queries translate the scope
    through this before they are sent. A core that cannot list its services leaves references as they are.
    """

    def __init__(self, api: CoreApi, *, ttl: float = 60.0) -> None:
        self._api = api
        self._ttl = ttl
        self._directory: ServiceDirectory | None = None
        self._read_at = -math.inf
        self._lock = asyncio.Lock()

    async def directory(self, *, time_limit: float) -> ServiceDirectory:
        """The catalog, from memory when read less than ``ttl`` seconds ago."""
        async with self._lock:
            if self._directory is None or time.monotonic() - self._read_at > self._ttl:
                data = await self._api.read("POST", "/services/query", time_limit=time_limit, json={})
                rows = data if isinstance(data, list) else []
                services = []
                for row in rows:
                    try:
                        services.append(service_from_core(row))
                    except ValidationError:
                        continue  # one malformed entry must not hide the others' identities
                self._directory = ServiceDirectory(services)
                self._read_at = time.monotonic()
            return self._directory

    async def service_id(self, reference: str, *, time_limit: float) -> str:
        """The id the core knows the service ``reference`` (id, name or alias) by; ``reference`` when unknown."""
        try:
            directory = await self.directory(time_limit=time_limit)
        except OpsPilotError:
            return reference
        return directory.key(reference)
