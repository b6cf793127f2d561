"""The ``pagerduty`` provider's configuration, and the one API client its capabilities share."""

from __future__ import annotations

import hashlib
import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from adapters.pagerduty.api import PagerDutyApi
from core_client.errors import ConfigurationError
from core_client.registry import ProviderContext

API_KEY_ENV = "PAGERDUTY_API_KEY"
_SHARED_KEY = "adapters.pagerduty"


class PagerDutyConfig(BaseModel):
    """``OPSORCH_<CAP>_CONFIG`` for ``pagerduty``; the key may come from ``$PAGERDUTY_API_KEY`` instead."""

    model_config = ConfigDict(extra="forbid")

    api_key: SecretStr | None = None
    base_url: str = "https://api.pagerduty.com"
    from_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    # Severity -> PagerDuty priority id; when set, writes send the priority and reads map it back exactly.
    priority_ids: dict[str, str] = Field(default_factory=dict)
    # The service an incident is opened on when its input names none, and paging a team uses.
    default_service_id: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("priority_ids")
    @classmethod
    def _known_severities(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {"sev1", "sev2", "sev3", "sev4"})
        if unknown:
            raise ValueError(f"keys must be sev1..sev4, got {', '.join(unknown)}")
        return value


def shared_api(ctx: ProviderContext) -> tuple[PagerDutyApi, PagerDutyConfig]:
    """The configuration, and one API client per base URL and key among one CoreClient's providers."""
    config = ctx.parse_config(PagerDutyConfig)
    key = config.api_key or (SecretStr(os.environ[API_KEY_ENV]) if os.environ.get(API_KEY_ENV) else None)
    if key is None:
        raise ConfigurationError(
            f"provider 'pagerduty' needs an API key: set key 'api_key' in "
            f"{ctx.config_source or ctx.capability.env_prefix + '_CONFIG'} or ${API_KEY_ENV}",
            source="pagerduty",
        )
    choice = ctx.settings.providers.get(ctx.capability)
    timeout = choice.timeout if choice else 10.0
    # Keyed by a digest so the key itself sits in no dictionary key.
    digest = hashlib.sha256(key.get_secret_value().encode()).hexdigest()
    clients = ctx.shared.setdefault(_SHARED_KEY, {})
    ident = (config.base_url, digest, config.from_email)
    if ident not in clients:
        clients[ident] = PagerDutyApi(
            config.base_url, api_key=key, from_email=config.from_email, timeout=timeout
        )
    api: PagerDutyApi = clients[ident]
    return api, config
