"""Alembic environment: OpsPilot's tables, on the database OpsPilot's settings (or the caller) name."""

from __future__ import annotations

import importlib

from sqlmodel import SQLModel

import core_client.store  # noqa: F401  (registers core_client's tables on SQLModel.metadata)
from alembic import context
from core_client.settings import load_settings
from core_client.store.database import make_engine

try:
    # The Copilot keeps its tables in the same chain, once it has any.
    importlib.import_module("copilot.store")
except ModuleNotFoundError as exc:
    if exc.name not in ("copilot.store", "copilot"):
        raise

config = context.config
target_metadata = SQLModel.metadata


def database_url() -> str:
    """The URL ``migrate(url)`` passed, else the one from OpsPilot's settings."""
    url = config.attributes.get("url")
    return str(url) if url else load_settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
