"""Bring a database to the latest schema with OpsPilot's one Alembic chain (``alembic.ini`` at the repo root)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

import core_client
from alembic import command
from core_client.errors import ConfigurationError


def alembic_config(url: str) -> Config:
    """The Alembic configuration of the repository, pointed at ``url``."""
    ini = Path(core_client.__file__).resolve().parent.parent / "alembic.ini"
    if not ini.is_file():
        raise ConfigurationError(
            f"alembic.ini not found at {ini}: install OpsPilot from its source tree (pip install -e .)",
            source="store",
        )
    config = Config(str(ini))
    config.attributes["url"] = url
    return config


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the latest revision (creating every table on an empty one)."""
    command.upgrade(alembic_config(url), "head")
