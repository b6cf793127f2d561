"""The OpsPilot console: the Reflex app (``app_name = "console"`` in rxconfig.py).

Pages live in ``console/pages`` and register themselves with the ``console_page`` decorator; the backend gains
``/health`` through ``api_transformer``. The theme is configured in rxconfig.py (``RadixThemesPlugin``).
"""

import reflex as rx

import console.pages  # noqa: F401  (registers every page)
from console.backend.health import health_api

app = rx.App(api_transformer=health_api())
