"""Services, teams, members, on-call and runbooks."""

from __future__ import annotations

import re

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, QueryScope, StrictCamelModel, UtcDatetime


class Service(CamelModel):
    """A service in the catalog: ``id`` (its stable handle), ``name`` (what people call it) and ``aliases``.

    Other objects may reference a service by any of these (an OpsOrch Core's incidents use the id, a person the
    name): :class:`core_client.service_directory.ServiceDirectory` resolves them all to one service.
    ``dependencies`` references the services this one calls, the same way.
    """

    id: str
    name: str
    url: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)
    # OpsPilot extensions; OpsOrch keeps these in tags or metadata, which remote providers read them from.
    aliases: list[str] = Field(default_factory=list)
    dependencies: list[str] = Field(default_factory=list)
    owner_team: str | None = None
    # A number (1 = most critical) or a catalog's own word ("backend", "edge"), kept as given.
    tier: int | str | None = None

    @property
    def references(self) -> list[str]:
        """Every string that names this service: id, name, then aliases, once each."""
        return list(dict.fromkeys(ref for ref in (self.id, self.name, *self.aliases) if ref))

    @property
    def tier_rank(self) -> int | None:
        """The tier as a number when it is one (``1``, ``"1"``, ``"tier-1"``), for ranking; else None."""
        return tier_number(self.tier)

    @property
    def tier_label(self) -> str:
        """The tier as people read it: ``tier 1``, or the catalog's own word (``backend``); empty when unknown."""
        rank = self.tier_rank
        if rank is not None:
            return f"tier {rank}"
        return str(self.tier).strip() if self.tier is not None else ""


def tier_number(value: object) -> int | None:
    """``1``, ``"1"``, ``"tier1"``, ``"tier-1"`` or ``"T1"`` as 1; anything else (``"backend"``) as None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(?:tier|t)?[-_ ]?(\d+)\s*", value, flags=re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


class ServiceQuery(StrictCamelModel):
    ids: list[str] = Field(default_factory=list)
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    limit: int | None = None
    scope: QueryScope = Field(default_factory=QueryScope)
    metadata: JsonObject = Field(default_factory=dict)


class Team(CamelModel):
    id: str
    name: str = ""
    parent: str = ""
    url: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)


class TeamQuery(StrictCamelModel):
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    limit: int | None = None
    scope: QueryScope = Field(default_factory=QueryScope)
    metadata: JsonObject = Field(default_factory=dict)


class TeamMember(CamelModel):
    id: str
    name: str = ""
    email: str = ""
    handle: str = ""
    role: str = ""
    metadata: JsonObject = Field(default_factory=dict)


class OnCallShift(CamelModel):
    """Who is on call for a team, at which escalation level, from when until when."""

    team_id: str
    member: TeamMember
    escalation_level: int = 1
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    schedule: str = ""


class Runbook(CamelModel):
    """What to do when a service misbehaves, as markdown."""

    service: str
    title: str = ""
    body: str = ""
    url: str = ""
    updated_at: UtcDatetime | None = None


class PageOnCallInput(StrictCamelModel):
    """Page whoever is on call for a service or a team."""

    service: str | None = None
    team: str | None = None
    summary: str
    severity: str = "sev2"
    details: str = ""
    incident_id: str | None = None


class PageResult(CamelModel):
    id: str
    paged: list[TeamMember] = Field(default_factory=list)
    url: str = ""
    metadata: JsonObject = Field(default_factory=dict)
