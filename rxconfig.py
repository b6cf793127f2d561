"""Reflex configuration. The database URL comes from OpsPilot's settings (``DATABASE_URL`` or the SQLite default).

``make run`` installs bun from the npm registry into the virtualenv's ``bin`` (Reflex's own bun download needs
the internet). That folder is on PATH in an activated virtualenv; naming it here too lets ``.venv/bin/reflex run``
work without activating. Production: ``reflex run --env prod`` with ``REFLEX_REDIS_URL`` (Reflex's state
manager) and ``DATABASE_URL``; it starts ``backend_workers`` workers (one per core unless set; Reflex reads
``GRANIAN_WORKERS``, so an explicit one wins).
"""

import os
import sys
from pathlib import Path

import reflex as rx

from core_client.settings import load_settings

settings = load_settings()
os.environ.setdefault("GRANIAN_WORKERS", str(settings.backend_workers))
venv_bun = Path(sys.prefix) / "bin" / "bun"

config = rx.Config(
    app_name="console",
    db_url=settings.resolved_database_url,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.TailwindV4Plugin(),
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(appearance="inherit", accent_color="indigo", gray_color="slate", radius="medium")
        ),
    ],
    **({"bun_path": venv_bun} if venv_bun.is_file() else {}),
)
