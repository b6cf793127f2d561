"""The ``files`` provider: logs read from a folder of log files on disk, and a service catalog from one file.

Configure with ``OPSORCH_LOG_PROVIDER=files`` and ``OPSORCH_LOG_CONFIG='{"path": "/var/log/app", "format":
"<Date> <Time> <Level> <Component>: <Content>"}'`` (see :class:`~adapters.files.config.FilesConfig`), and
``OPSORCH_SERVICE_PROVIDER=files`` with ``OPSORCH_SERVICE_CONFIG='{"catalog": "services.yaml"}'`` (see
:mod:`adapters.files.catalog`).
"""

from __future__ import annotations

from adapters.files.catalog import CatalogConfig, FilesServiceProvider
from adapters.files.config import FilesConfig
from adapters.files.provider import FilesLogProvider
from core_client.registry import ProviderContext


def build_log_provider(ctx: ProviderContext) -> FilesLogProvider:
    """The log provider over the configured folder; a bad format or time zone is a ``ConfigurationError``."""
    return FilesLogProvider(ctx.parse_config(FilesConfig), name=ctx.name)


def build_service_provider(ctx: ProviderContext) -> FilesServiceProvider:
    """The service catalog read from the configured file."""
    return FilesServiceProvider(ctx.parse_config(CatalogConfig))


PROVIDERS = {"log": build_log_provider, "service": build_service_provider}

__all__ = ["PROVIDERS", "CatalogConfig", "FilesConfig", "FilesLogProvider", "FilesServiceProvider"]
