"""OpsPilot's convention for ordering and time-bounding an incident query through its free ``metadata`` object.

The OpsOrch ``IncidentQuery`` has no sort and no time range, and must round-trip unchanged, so both travel in
``IncidentQuery.metadata`` under camelCase keys:

- ``metadata["sort"]``: one of ``newest`` (created, newest first: every provider's default), ``oldest``,
  ``severity`` (sev1 first, newest first within a severity) or ``updated`` (last updated first).
- ``metadata["createdFrom"]`` / ``metadata["createdTo"]``: ISO-8601 UTC times; an incident is kept when
  ``createdFrom <= createdAt < createdTo`` (half-open, like the console's windows). Either may be absent.

A provider that ignores ``metadata`` still answers, in its own order and unbounded in time. So nobody claims an
order a provider did not apply: a provider honoring this convention says so with a class attribute
``honors_incident_order = True``, and :func:`honors_incident_order` reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from pydantic import ValidationError

from core_client.errors import BadQuery
from core_client.schemas import Incident, JsonObject, StrictCamelModel, UtcDatetime

SORT = "sort"
CREATED_FROM = "createdFrom"
CREATED_TO = "createdTo"
INCIDENT_SORTS = ("newest", "oldest", "severity", "updated")
HONORS_ATTRIBUTE = "honors_incident_order"
# Severity words as ranks beside sev1..sevN (1 = most severe).
WORD_SEVERITIES = {"critical": 1, "high": 2, "error": 2, "major": 2, "medium": 3, "warning": 3, "minor": 3}
WORD_SEVERITIES |= {"low": 4, "info": 5}

IncidentSort = Literal["newest", "oldest", "severity", "updated"]


class IncidentOrder(StrictCamelModel):
    """The sort and creation-time range an incident query asks for in its metadata."""

    sort: IncidentSort = "newest"
    created_from: UtcDatetime | None = None
    created_to: UtcDatetime | None = None

    def arrange(self, incidents: Iterable[Incident]) -> list[Incident]:
        """``incidents`` within the creation-time range, in this sort: what a provider that reads a whole
        result (rather than sorting in its store) applies. Ties fall back to newest, then to the id."""
        kept = [
            incident
            for incident in incidents
            if (
                self.created_from is None
                or (incident.created_at and incident.created_at >= self.created_from)
            )
            and (self.created_to is None or (incident.created_at and incident.created_at < self.created_to))
        ]
        newest = sorted(kept, key=lambda i: (i.created_at is None, -_seconds(i.created_at), i.id))
        if self.sort == "oldest":
            return sorted(newest, key=lambda i: (i.created_at is None, _seconds(i.created_at)))
        if self.sort == "updated":
            return sorted(newest, key=lambda i: -_seconds(i.updated_at or i.created_at))
        if self.sort == "severity":
            return sorted(newest, key=lambda i: severity_rank(i.severity))
        return newest

    def metadata(self) -> JsonObject:
        """The order as the metadata entries of a query (only those that are set)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def of(cls, metadata: JsonObject, *, source: str) -> IncidentOrder:
        """The order in a query's metadata; other metadata keys are left to others, bad values are a BadQuery."""
        known = {key: metadata[key] for key in (SORT, CREATED_FROM, CREATED_TO) if key in metadata}
        try:
            return cls.model_validate(known)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise BadQuery(f"bad incident order in query metadata: {problems}", source=source) from None


def _seconds(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else float("-inf")


def severity_rank(severity: str) -> int:
    """Most severe first: ``sev1``/``p1``/``critical`` before ``sev2``/``p2``/``high``..., unknown ones last."""
    text = severity.strip().lower()
    match = re.fullmatch(r"(?:sev|p)[-_ ]?(\d+)", text)
    if match:
        return int(match.group(1))
    return WORD_SEVERITIES.get(text, 99)


def incident_order_metadata(
    sort: str, created_from: datetime | None = None, created_to: datetime | None = None
) -> JsonObject:
    """Metadata entries asking for ``sort`` and a creation-time range (``sort`` must be one of INCIDENT_SORTS)."""
    return IncidentOrder.of(
        {SORT: sort, CREATED_FROM: created_from, CREATED_TO: created_to}, source="opspilot"
    ).metadata()


def honors_incident_order(provider: object) -> bool:
    """Whether a provider instance declares that it applies this convention's sort and range."""
    return getattr(provider, HONORS_ATTRIBUTE, False) is True
