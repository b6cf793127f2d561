"""The capabilities a provider can serve, named as in OpsOrch Core (``OPSORCH_<CAP>_PROVIDER``)."""

from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    INCIDENT = "incident"
    ALERT = "alert"
    LOG = "log"
    METRIC = "metric"
    TICKET = "ticket"
    SERVICE = "service"
    TEAM = "team"
    DEPLOYMENT = "deployment"
    MESSAGING = "messaging"

    @property
    def env_prefix(self) -> str:
        """The prefix of this capability's environment variables, e.g. ``OPSORCH_METRIC``."""
        return f"OPSORCH_{self.value.upper()}"
