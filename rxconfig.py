"""Reflex configuration. The database URL comes from OpsPilot's settings (``DATABASE_URL`` or the SQLite default)."""

import reflex as rx

from core_client.settings import load_settings

settings = load_settings()

config = rx.Config(
    app_name="console",
    db_url=settings.resolved_database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.SitemapPlugin(), rx.plugins.TailwindV4Plugin()],
)
