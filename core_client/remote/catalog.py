"""Reading OpsPilot's service fields (aliases, dependencies, owner team, tier) out of an OpsOrch service document.

OpsOrch's Service has only id, name, url, tags and metadata: its demo data keeps the dependency graph in
metadata (as service ids), and the owner and tier in tags or metadata. This is the one place that knows those keys.
"""

from __future__ import annotations

import re
from typing import Any

from core_client.schemas import Service
from core_client.schemas.services import tier_number

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
