"""The files provider's service catalog: services, who calls whom and who owns what, from one YAML or JSON file.

For teams whose catalog lives in a repository (a ``services.yaml`` next to the code) rather than in a SaaS:
``OPSORCH_SERVICE_PROVIDER=files``, ``OPSORCH_SERVICE_CONFIG='{"catalog": "/etc/opspilot/services.yaml"}'``.

The file holds a list of services (or ``{"services": [...]}``), each a mapping with ``name`` (required), ``id``
(default: the name), ``dependencies`` (the services it calls), ``team``, ``tier``, ``description``, ``url``,
``tags`` and ``metadata`` (anything else, e.g. ``kind: host`` or ``host``). The file is read again when it changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core_client.errors import ConfigurationError, ProviderUnavailable
from core_client.schemas import Page, ProviderHealth, Service, ServiceQuery, offset_page

SOURCE = "files"


class CatalogConfig(BaseModel):
    """``OPSORCH_SERVICE_CONFIG`` for ``files``: where the catalog file is."""

    model_config = ConfigDict(extra="forbid")

    catalog: Path


class CatalogEntry(BaseModel):
    """One service as the file writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    id: str | None = None
    dependencies: list[str] = Field(default_factory=list)
    team: str | None = None
    tier: int | None = None
    description: str = ""
    url: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def service(self) -> Service:
        tags = {**self.tags, **({"team": self.team} if self.team else {})}
        metadata = {
            **self.metadata,
            "dependencies": self.dependencies,
            **({"description": self.description} if self.description else {}),
        }
        return Service(
            id=self.id or self.name,
            name=self.name,
            url=self.url,
            tags=tags,
            metadata=metadata,
            dependencies=self.dependencies,
            owner_team=self.team,
            tier=self.tier,
        )


class FilesServiceProvider:
    """Serves the ``service`` capability from a catalog file."""

    def __init__(self, config: CatalogConfig) -> None:
        self.path = config.catalog
        self._read_at: tuple[int, int] | None = None
        self._services: list[Service] = []

    def _load(self) -> list[Service]:
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise ProviderUnavailable(
                f"catalog {self.path} cannot be read: {exc.strerror}", source=SOURCE
            ) from None
        version = (stat.st_mtime_ns, stat.st_size)
        if version != self._read_at:
            self._services = _parse(self.path)
            self._read_at = version
        return self._services

    async def query(self, query: ServiceQuery, *, cursor: str | None = None) -> Page[Service]:
        """The services matching the query (ids or names, a name, tags, the scope's service and team), by name."""
        wanted_ids = set(query.ids)
        found = [
            service
            for service in self._load()
            if (not wanted_ids or service.id in wanted_ids or service.name in wanted_ids)
            and (query.name is None or query.name.lower() in service.name.lower())
            and all(service.tags.get(k) == v for k, v in query.tags.items())
            and (not query.scope.service or query.scope.service in (service.name, service.id))
            and (not query.scope.team or service.owner_team == query.scope.team)
        ]
        return offset_page(
            sorted(found, key=lambda s: s.name), cursor=cursor, limit=query.limit, source=SOURCE
        )

    async def health(self) -> ProviderHealth:
        try:
            count = len(self._load())
        except (ProviderUnavailable, ConfigurationError) as exc:
            return ProviderHealth(capability="service", provider=SOURCE, status="down", message=exc.message)
        return ProviderHealth(
            capability="service",
            provider=SOURCE,
            status="ok" if count else "degraded",
            message=f"{count} services in {self.path}",
        )


def _parse(path: Path) -> list[Service]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(
            f"catalog {path} is not valid {path.suffix or 'YAML'}: {exc}", source=SOURCE
        ) from None
    rows = data.get("services") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ConfigurationError(f"catalog {path} must hold a list of services", source=SOURCE)
    services: list[Service] = []
    for number, row in enumerate(rows, start=1):
        try:
            services.append(CatalogEntry.model_validate(row).service())
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigurationError(f"catalog {path}, service #{number}: {problem}", source=SOURCE) from None
    names = [s.name for s in services]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigurationError(f"catalog {path} names {', '.join(twice)} more than once", source=SOURCE)
    return services
