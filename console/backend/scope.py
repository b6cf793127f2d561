"""The global scope every page shares: service, team, environment and a time range, read from and written to the URL.

URL parameters: ``service``, ``team``, ``env``, and either ``range`` (a preset: ``1h``, ``6h``, ``24h``, ``7d``,
relative to the clock's now) or ``from`` and ``to`` (absolute ISO-8601 UTC, as in every OpsPilot link). Other
parameters of the page (a filter, a search) pass through untouched. Bad values are dropped, never fatal: a
mangled link still opens the page, and a time range it could not use is explained (``Scope.problem``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode

from pydantic import BaseModel

from core_client.client import CoreClient
from core_client.errors import BadQuery, OpsPilotError
from core_client.links import format_time, parse_time
from core_client.schemas import QueryScope
from core_client.service_directory import ServiceDirectory

PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
DEFAULT_RANGE = "24h"
SCOPE_PARAMS = ("service", "team", "env", "range", "from", "to")
# What pickers (the scope bar's and the lists' filters) send for "any": Radix selects cannot hold an empty value.
ANY = "any"


class Scope(BaseModel):
    """What the scope bar says: a QueryScope plus a preset or an absolute window."""

    service: str = ""
    team: str = ""
    environment: str = ""
    # A preset name, or "" when ``start`` and ``end`` are absolute.
    range: str = DEFAULT_RANGE
    start: datetime | None = None
    end: datetime | None = None
    # Whether the URL chose the time range; without a choice the range is the default, which charts and logs use
    # but lists of incidents do not (they span all time).
    chosen: bool = False
    # Why the URL's time range could not be used ("" when it could, or named none).
    problem: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Scope:
        """The scope a URL's query parameters describe; unreadable parts fall back to the defaults."""
        scope = cls(
            service=params.get("service", "").strip(),
            team=params.get("team", "").strip(),
            environment=params.get("env", "").strip(),
        )
        start, end = _time(params.get("from")), _time(params.get("to"))
        if start and end and start < end:
            return scope.model_copy(update={"range": "", "start": start, "end": end, "chosen": True})
        preset = params.get("range", "")
        shown = scope.model_copy(update={"range": preset, "chosen": True}) if preset in PRESETS else scope
        problem = _range_problem(params)
        if problem:
            problem = f"{problem}: showing the {shown.label().lower()} instead."
        return shown.model_copy(update={"problem": problem})

    def to_params(self) -> dict[str, str]:
        """The URL parameters for this scope (defaults left out, so plain links stay short).

        A chosen range is kept even when it is the default: it narrows lists that otherwise span all time.
        """
        params = {"service": self.service, "team": self.team, "env": self.environment}
        if self.range:
            params["range"] = self.range if self.chosen or self.range != DEFAULT_RANGE else ""
        elif self.start and self.end:
            params["from"], params["to"] = format_time(self.start), format_time(self.end)
        return {name: value for name, value in params.items() if value}

    def query_scope(self) -> QueryScope:
        """The part every provider query takes."""
        return QueryScope(
            service=self.service or None, team=self.team or None, environment=self.environment or None
        )

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The time range as absolute times; a preset ends at ``now`` (the world's clock)."""
        if not self.range and self.start and self.end:
            return self.start, self.end
        return now - PRESETS.get(self.range, PRESETS[DEFAULT_RANGE]), now

    def label(self) -> str:
        """``Last 24h``, or the absolute window in UTC."""
        if self.range:
            return f"Last {self.range}"
        if self.start and self.end:
            return f"{_short(self.start)} → {_short(self.end)} UTC"
        return f"Last {DEFAULT_RANGE}"


def _range_problem(params: Mapping[str, str]) -> str:
    """What is wrong with the time range a URL gives (``""`` when nothing is, or it gives none)."""
    given = {name: params[name] for name in ("from", "to") if params.get(name)}
    for name, text in given.items():
        if _time(text) is None:
            return f"The link's “{name}” is not a time ({text!r}; times are ISO-8601 UTC, as 2026-11-01T14:00:00Z)"
    if len(given) == 1:
        return f"The link gives only “{next(iter(given))}” of its time range"
    if given:
        start, end = parse_time(given["from"]), parse_time(given["to"])
        return (
            f"The link's time range ends before it starts ({_short(start)} → {_short(end)} UTC)"
            if end < start
            else f"The link's time range is empty (it starts and ends at {_short(start)} UTC)"
        )
    preset = params.get("range", "")
    if preset and preset not in PRESETS:
        return f"The link's time range {preset!r} is not one of {', '.join(PRESETS)}"
    return ""


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except BadQuery:
        return None


def _short(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def url_with(path: str, params: Mapping[str, str], changes: Mapping[str, str | None]) -> str:
    """``path`` with ``params`` updated by ``changes`` (``None`` or ``""`` removes one), in a stable order."""
    merged = {**params, **changes}
    kept = [(name, value) for name, value in sorted(merged.items()) if value]
    return f"{path}?{urlencode(kept, quote_via=quote, safe=':,')}" if kept else path


def scope_changes(scope: Scope) -> dict[str, str | None]:
    """Every scope parameter, set to this scope's value or removed."""
    params = scope.to_params()
    return {name: params.get(name) for name in SCOPE_PARAMS}


class ScopeOption(BaseModel):
    value: str
    label: str


class ScopeOptions(BaseModel):
    """What the scope bar's pickers offer; a provider that cannot answer leaves its list empty."""

    # A service's value is its canonical reference (the catalog id, what records reference); it reads as its name.
    services: list[ScopeOption] = []
    teams: list[ScopeOption] = []
    environments: list[str] = []
    error: str = ""


async def scope_options(core: CoreClient) -> ScopeOptions:
    """The services, teams and environments of the catalog, loaded concurrently."""
    services_result, teams_result = await asyncio.gather(
        core.services.all(), core.teams.query(), return_exceptions=True
    )
    options = ScopeOptions()
    problems = []
    if isinstance(services_result, OpsPilotError):
        problems.append(str(services_result))
    elif isinstance(services_result, BaseException):
        raise services_result
    else:
        options.services = [
            ScopeOption(value=service.id, label=service.name or service.id)
            for service in ServiceDirectory(services_result).services
        ]
        environments: set[str] = set()
        for service in services_result:
            listed = service.metadata.get("environments")
            if isinstance(listed, list):
                environments.update(str(env) for env in listed)
            for key in ("environment", "env"):  # OpsOrch's catalogs say "env"
                if service.tags.get(key):
                    environments.add(service.tags[key])
        options.environments = sorted(environments)
    if isinstance(teams_result, OpsPilotError):
        problems.append(str(teams_result))
    elif isinstance(teams_result, BaseException):
        raise teams_result
    else:
        options.teams = [
            ScopeOption(value=team.id, label=team.name or team.id) for team in teams_result.items
        ]
    options.error = "; ".join(problems)
    return options
