"""The ``files`` provider: logs read from a folder of log files on disk.

Configure with ``OPSORCH_LOG_PROVIDER=files`` and ``OPSORCH_LOG_CONFIG='{"path": "/var/log/app", "format":
"<Date> <Time> <Level> <Component>: <Content>"}'`` (see :class:`~adapters.files.config.FilesConfig`).
"""

from __future__ import annotations

from adapters.files.config import FilesConfig
from adapters.files.provider import FilesLogProvider
from core_client.registry import ProviderContext


def build_log_provider(ctx: ProviderContext) -> FilesLogProvider:
    """The log provider over the configured folder; a bad format or time zone is a ``ConfigurationError``."""
    return FilesLogProvider(ctx.parse_config(FilesConfig), name=ctx.name)


PROVIDERS = {"log": build_log_provider}

__all__ = ["PROVIDERS", "FilesConfig", "FilesLogProvider"]
