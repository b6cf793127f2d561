"""Who may run which tool where: ``auto``, ``requires_approval`` or ``denied``, per tool and environment.

Defaults (DESIGN.md "Approvals and grants"): read-only tools run automatically; tools annotated destructive,
and tools from other MCP servers that carry no annotation, require approval by an approver or an admin.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core_client.identity import Role

Mode = Literal["auto", "requires_approval", "denied"]
ToolKind = Literal["read_only", "destructive", "unannotated"]


class PolicyRule(BaseModel):
    """One line of policy. ``tool`` and ``environment`` accept ``*``; the most specific matching rule wins."""

    tool: str = "*"
    environment: str = "*"
    mode: Mode = "requires_approval"
    approver_roles: list[Role] = Field(default_factory=lambda: [Role.APPROVER, Role.ADMIN])
    two_person: bool = False

    def matches(self, tool: str, environment: str) -> bool:
        return self.tool in ("*", tool) and self.environment in ("*", environment)

    @property
    def specificity(self) -> int:
        return (self.tool != "*") * 2 + (self.environment != "*")


class Decision(BaseModel):
    """What policy says about one call."""

    tool: str
    environment: str
    mode: Mode
    approver_roles: list[Role]
    two_person: bool

    def may_approve(self, role: Role) -> bool:
        return role in self.approver_roles


class Policy(BaseModel):
    """The rules from settings, consulted with the tool's kind for the default."""

    rules: list[PolicyRule] = Field(default_factory=list)
    default_environment: str = "prod"

    def decide(self, tool: str, *, kind: ToolKind, environment: str | None = None) -> Decision:
        """The rule that applies to ``tool`` in ``environment``, or the default for its kind."""
        env = environment or self.default_environment
        matching = [rule for rule in self.rules if rule.matches(tool, env)]
        if matching:
            rule = max(matching, key=lambda r: r.specificity)
        else:
            rule = PolicyRule(mode="auto" if kind == "read_only" else "requires_approval")
        return Decision(
            tool=tool,
            environment=env,
            mode=rule.mode,
            approver_roles=list(rule.approver_roles),
            two_person=rule.two_person,
        )
