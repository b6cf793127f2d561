"""Who acts: a person with a role, or the Copilot on behalf of a person. The audit's "who" is always one of these."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel


class Role(StrEnum):
    """Roles in increasing power: a viewer reads; a responder also acts; an approver also approves; admin all."""

    VIEWER = "viewer"
    RESPONDER = "responder"
    APPROVER = "approver"
    ADMIN = "admin"


Channel = Literal["console", "cli", "mcp", "copilot", "system"]


class Actor(BaseModel):
    """The user behind a call, and whether the Copilot makes it for them."""

    user: str
    role: Role
    via: Channel = "console"
    copilot: bool = False

    @classmethod
    def copilot_for(cls, user: str, role: Role) -> Actor:
        return cls(user=user, role=role, via="copilot", copilot=True)

    @property
    def display(self) -> str:
        """How the audit names this actor: ``alice`` or ``copilot for alice``."""
        return f"copilot for {self.user}" if self.copilot else self.user
