"""Reading OpsPilot's service fields (dependencies, owner team, tier) out of an OpsOrch service document.

OpsOrch's Service has only id, name, url, tags and metadata: its demo data keeps the dependency graph in
metadata, and the owner and tier in tags or metadata. This is the one place that knows those keys.
"""

from __future__ import annotations

import re
from typing import Any

from core_client.schemas import Service

DEPENDENCY_KEYS = ("dependencies", "dependsOn", "depends_on", "upstreams", "calls")
OWNER_KEYS = ("team", "owner", "ownerTeam", "owner_team")
TIER_KEYS = ("tier",)


def service_from_core(document: dict[str, Any]) -> Service:
    """A :class:`Service` with ``dependencies``, ``owner_team`` and ``tier`` filled from tags or metadata.

    Typed fields the document already carries win; the document still round-trips through ``to_json()``
    unchanged, because derived values are not marked as set.
    """
    service = Service.from_json(document)
    tags: dict[str, Any] = dict(service.tags)
    metadata: dict[str, Any] = dict(service.metadata)
    derived: dict[str, Any] = {}
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
    """Dependencies as a list of names, from a list or a comma-separated string."""
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


def _tier(value: Any) -> int | None:
    """``1``, ``"1"``, ``"tier1"``, ``"tier-1"`` or ``"T1"`` as 1; anything else as unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(?:tier|t)?[-_ ]?(\d+)\s*", value, flags=re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None
