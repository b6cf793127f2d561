"""The compact analysis tools: anomalies instead of raw points, pattern changes instead of raw lines."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

from core_client.client import CoreClient


def register(server: MCPServer, core: CoreClient, budget: int, annotations: ToolAnnotations) -> None:
    """Add ``detect_metric_anomalies`` and ``compare_log_patterns`` to ``server``."""
