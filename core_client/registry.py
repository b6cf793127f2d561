"""Loads providers by name, so core_client never imports a specific adapter.

A provider package registers itself in the ``opspilot.providers`` entry-point group (see pyproject.toml). The
module it names exposes ``PROVIDERS``: a mapping from a capability's name (``"metric"``) to a factory that takes
a :class:`ProviderContext` and returns the provider. A factory validates its configuration with
:meth:`ProviderContext.parse_config`, so a bad key is reported against the variable it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core_client.capabilities import Capability
from core_client.clock import Clock
from core_client.errors import ConfigurationError
from core_client.protocols import (
    AlertProvider,
    DeploymentProvider,
    IncidentProvider,
    LogProvider,
    MessagingProvider,
    MetricProvider,
    ServiceProvider,
    TeamProvider,
    TicketProvider,
)
from core_client.settings import ProviderChoice, Settings

ENTRY_POINT_GROUP = "opspilot.providers"

PROTOCOLS: dict[Capability, type] = {
    Capability.INCIDENT: IncidentProvider,
    Capability.ALERT: AlertProvider,
    Capability.LOG: LogProvider,
    Capability.METRIC: MetricProvider,
    Capability.TICKET: TicketProvider,
    Capability.SERVICE: ServiceProvider,
    Capability.TEAM: TeamProvider,
    Capability.DEPLOYMENT: DeploymentProvider,
    Capability.MESSAGING: MessagingProvider,
}

ConfigT = TypeVar("ConfigT", bound=BaseModel)


@dataclass
class ProviderContext:
    """What a provider factory is given."""

    capability: Capability
    name: str
    config: dict[str, Any]
    config_source: str
    settings: Settings
    clock: Clock
    # Shared by the providers one CoreClient loads: lets a provider package open one world or one HTTP client
    # for all the capabilities it serves.
    shared: dict[str, Any] = field(default_factory=dict)

    def parse_config(self, model: type[ConfigT]) -> ConfigT:
        """The provider's configuration as ``model``; a missing or wrong key names where it came from."""
        try:
            return model.model_validate(self.config)
        except ValidationError as exc:
            problems = "; ".join(
                f"key {'.'.join(str(p) for p in err['loc']) or '(root)'!r}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigurationError(
                f"{self.config_source or 'configuration'} for provider {self.name!r}: {problems}",
                source=self.name,
            ) from None


ProviderFactory = Callable[[ProviderContext], Any]


@cache
def available_providers() -> dict[str, EntryPoint]:
    """Every provider name that can be chosen, with where it lives (read once per process)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def provider_module(name: str, *, variable: str = "provider") -> ModuleType:
    """The module registered under ``name``; an unknown name is a ``ConfigurationError`` naming ``variable``."""
    known = available_providers()
    if name not in known:
        raise ConfigurationError(
            f"{variable}: unknown provider {name!r}; available: {', '.join(sorted(known)) or 'none'}",
            source="settings",
        )
    return import_module(known[name].value)


def load_provider(
    capability: Capability,
    choice: ProviderChoice,
    *,
    settings: Settings,
    clock: Clock,
    shared: dict[str, Any],
) -> Any:
    """Build the provider ``choice`` names for ``capability`` and check it implements the protocol."""
    module = provider_module(choice.name, variable=choice.name_source or f"{capability.env_prefix}_PROVIDER")
    factories: Mapping[str, ProviderFactory] = getattr(module, "PROVIDERS", {})
    factory = factories.get(capability.value)
    if factory is None:
        raise ConfigurationError(
            f"{choice.name_source or capability.env_prefix + '_PROVIDER'}: provider {choice.name!r} does not serve "
            f"capability {capability.value!r}; it serves: {', '.join(sorted(factories)) or 'nothing'}",
            source="settings",
        )
    context = ProviderContext(
        capability=capability,
        name=choice.name,
        config=choice.config,
        config_source=choice.config_source,
        settings=settings,
        clock=clock,
        shared=shared,
    )
    provider = factory(context)
    protocol = PROTOCOLS[capability]
    if not isinstance(provider, protocol):
        raise ConfigurationError(
            f"provider {choice.name!r} for {capability.value!r} does not implement {protocol.__name__}",
            source=choice.name,
        )
    return provider
