"""The offline investigator: deterministic, no network, every reading through OpsPilot's MCP tools."""

from __future__ import annotations

from copilot.planners.offline.investigator import OfflineInvestigator

__all__ = ["OfflineInvestigator"]
