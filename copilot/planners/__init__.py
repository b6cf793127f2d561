"""The planners, and the choice among them that settings make (``copilot.planner``: auto, offline or claude).

Each planner is imported only when chosen: the offline investigator needs no network library, and Claude's
needs no scenario machinery.
"""

from __future__ import annotations

from copilot.planning import Planner
from core_client.errors import ConfigurationError
from core_client.settings import Settings


def choose_planner(settings: Settings) -> Planner:
    """The planner settings ask for: ``offline``; ``claude`` (which needs ``ANTHROPIC_API_KEY``); or ``auto``,
    Claude when a key is present and the offline investigator otherwise."""
    choice = settings.copilot.planner
    if choice == "claude" and settings.anthropic_api_key is None:
        raise ConfigurationError(
            "OPSPILOT_COPILOT__PLANNER=claude needs ANTHROPIC_API_KEY; set it, or choose the offline planner",
            source="settings",
        )
    if choice == "claude" or (choice == "auto" and settings.anthropic_api_key is not None):
        from copilot.planners.claude import ClaudePlanner

        return ClaudePlanner(settings)
    from copilot.planners.offline import OfflineInvestigator

    return OfflineInvestigator(settings)
