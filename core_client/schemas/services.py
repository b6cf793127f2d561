"""Services, teams, members, on-call and runbooks."""

from __future__ import annotations

from pydantic import Field

from core_client.schemas.base import CamelModel, JsonObject, QueryScope, StrictCamelModel, UtcDatetime


class Service(CamelModel):
    """A service in the catalog. ``dependencies`` names the services this one calls."""

    id: str
    name: str
    url: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)
    # OpsPilot extensions; OpsOrch keeps these in tags or metadata, which remote providers read them from.
    dependencies: list[str] = Field(default_factory=list)
    owner_team: str | None = None
    tier: int | None = None


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
