"""The OpsPilot console: the Reflex app (``app_name = "console"`` in rxconfig.py).

Pages live in ``console/pages`` and register themselves with the ``console_page`` decorator; the backend gains
``/health``, the sign-in routes (``/auth/...``) and the MCP server at ``/mcp`` through ``api_transformer``. The Copilot starts with the backend (its
sweep resumes runs a dead worker left and expires overdue approvals without anyone opening a page). The theme is
configured in rxconfig.py (``RadixThemesPlugin``).
"""

import reflex as rx
from reflex.config import get_config

import console.pages  # noqa: F401  (registers every page)
from console import runtime
from console.address import adopt_reflex_address
from console.backend.health import health_api
from console.backend.sign_in import sign_in_routes
from console.collector import size_for_the_console
from core_client.mcp.http import McpEndpoint

# MCP clients reach the same tools at the backend's /mcp with a user's API token; its app starts with the backend.
mcp_endpoint = McpEndpoint(runtime.core, base_url=get_config().api_url)
backend = health_api()
backend.router.routes.extend([*sign_in_routes(), *mcp_endpoint.routes()])
# Toasts at the top: at the bottom right they would cover the Copilot panel's question box.
app = rx.App(api_transformer=backend, toaster=rx.toast.provider(position="top-center"))
# First, in each backend worker (not at import: `reflex run` may still move the port then): links (approvals,
# tickets, the Copilot's) point where Reflex serves the console, rxconfig's deploy_url included.
app.register_lifespan_task(adopt_reflex_address)
# A worker's heap is large and a Copilot run's objects short-lived: see console/collector.py.
app.register_lifespan_task(size_for_the_console)
app.register_lifespan_task(mcp_endpoint.lifespan)
app.register_lifespan_task(runtime.RUNTIME.serving)
