"""Where the OpsOrch Core is and how to authenticate, per capability, with one HTTP client shared by all."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from core_client.errors import ConfigurationError
from core_client.registry import ProviderContext
from core_client.remote.api import CoreApi
from core_client.remote.catalog import CoreCatalog
from core_client.remote.paging import DEFAULT_MAX_ITEMS

_SHARED_KEY = "core_client.remote"


class RemoteConfig(BaseModel):
    """``OPSORCH_<CAP>_CONFIG`` for the ``opsorch`` provider; both keys default to the global settings."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    token: SecretStr | None = None
    # How many items a query reads at most to put them in a stable order (see core_client.remote.paging).
    max_items: int = Field(default=DEFAULT_MAX_ITEMS, ge=1, le=100_000)


class Endpoint(BaseModel):
    """A resolved OpsOrch Core endpoint for one capability."""

    url: str
    token: SecretStr | None
    timeout: float
    max_items: int = DEFAULT_MAX_ITEMS


def endpoint(ctx: ProviderContext) -> Endpoint:
    """The capability's endpoint: its config keys over ``OPSORCH_CORE_URL`` / ``OPSORCH_CORE_TOKEN``."""
    config = ctx.parse_config(RemoteConfig)
    config_source = ctx.config_source or f"{ctx.capability.env_prefix}_CONFIG"
    url = config.url or ctx.settings.core_url
    if not url:
        raise ConfigurationError(
            f"provider {ctx.name!r} for {ctx.capability.value} needs the OpsOrch Core's address: set "
            f"OPSORCH_CORE_URL, or key 'url' in {config_source}",
            source=ctx.name,
        )
    if not url.startswith(("http://", "https://")):
        where = f"key 'url' in {config_source}" if config.url else "OPSORCH_CORE_URL"
        raise ConfigurationError(
            f"{where}: expected an http:// or https:// URL, got {url!r}", source=ctx.name
        )
    choice = ctx.settings.providers.get(ctx.capability)
    return Endpoint(
        url=url,
        token=config.token or ctx.settings.core_token,
        timeout=choice.timeout if choice else 10.0,
        max_items=config.max_items,
    )


def shared_api(ctx: ProviderContext, where: Endpoint) -> CoreApi:
    """The one :class:`CoreApi` for this URL and token among the providers of one CoreClient."""
    token = where.token.get_secret_value() if where.token else ""
    # Keyed by a digest so the token itself sits in no dictionary key.
    key = (_SHARED_KEY, where.url.rstrip("/"), hashlib.sha256(token.encode()).hexdigest())
    clients = ctx.shared.setdefault(_SHARED_KEY, {})
    if key not in clients:
        clients[key] = CoreApi(where.url, token=where.token)
    api: CoreApi = clients[key]
    return api


def shared_catalog(ctx: ProviderContext, api: CoreApi) -> CoreCatalog:
    """The one :class:`CoreCatalog` of ``api`` among the providers of one CoreClient."""
    catalogs: dict[int, CoreCatalog] = ctx.shared.setdefault(f"{_SHARED_KEY}.catalog", {})
    if id(api) not in catalogs:
        catalogs[id(api)] = CoreCatalog(api)
    return catalogs[id(api)]
