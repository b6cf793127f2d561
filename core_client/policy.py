"""Who may run which tool where: ``auto``, ``requires_approval`` or ``denied``, per tool and environment.

Defaults (DESIGN.md "Approvals and grants"): read-only tools run automatically; tools annotated destructive,
and tools from other MCP servers that carry no annotation, require approval by an approver or an admin. An
``auto`` rule for a foreign tool that carries no annotation is the operator vouching that it only reads (see
:meth:`Policy.vouched_read_only`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, Field

from core_client.identity import Role

Mode = Literal["auto", "requires_approval", "denied"]

# OpsPilot's own notice to approvers that a request waits (core_client/notices.py): ``auto`` unless a written rule
# for this tool says otherwise (``mode = "denied"`` switches the notices off).
APPROVER_NOTICE = "notify_approvers"
ToolKind = Literal["read_only", "destructive", "unannotated"]


class PolicyRule(BaseModel):
    """One line of policy. ``tool`` and ``environment`` accept ``*``, and ``tool`` a pattern such as
    ``opsorch.*`` (every tool of the foreign MCP server ``opsorch``); the most specific matching rule wins: an
    exact tool name over a pattern over ``*``, then an exact environment over ``*``."""

    tool: str = "*"
    environment: str = "*"
    mode: Mode = "requires_approval"
    approver_roles: list[Role] = Field(default_factory=lambda: [Role.APPROVER, Role.ADMIN])
    two_person: bool = False

    def matches(self, tool: str, environment: str) -> bool:
        return fnmatchcase(tool, self.tool) and self.environment in ("*", environment)

    @property
    def specificity(self) -> int:
        exact = not any(mark in self.tool for mark in "*?[")
        tool = 4 if exact else 0 if self.tool == "*" else 2
        return tool + (self.environment != "*")


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

    def vouched_read_only(self, tool: str) -> bool:
        """Whether a written rule says ``auto`` for ``tool`` in the default environment: for a foreign tool with
        no annotation, the operator's word that it only reads (a rule, not the default, must say so)."""
        matching = [rule for rule in self.rules if rule.matches(tool, self.default_environment)]
        return bool(matching) and max(matching, key=lambda r: r.specificity).mode == "auto"

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
