"""On-call rotations: each team hands over weekly (Mondays at its hand-off hour, UTC), primary then secondary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.demo.company import Person, TeamSpec

WEEK_MS = 7 * 86400 * 1000
# A Monday long before any world: week numbers count from here.
ROTATION_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def shift_bounds(team: TeamSpec, at_ms: int) -> tuple[int, int, int]:
    """(week number, start ms, end ms) of the shift covering ``at_ms``."""
    origin = int((ROTATION_EPOCH + timedelta(hours=team.handoff_hour)).timestamp() * 1000)
    week = (at_ms - origin) // WEEK_MS
    start = origin + week * WEEK_MS
    return week, start, start + WEEK_MS


def on_call(team: TeamSpec, at_ms: int) -> list[Person]:
    """Who is on call for ``team`` at ``at_ms``: primary first, then secondary."""
    week, _, _ = shift_bounds(team, at_ms)
    members = team.members
    return [members[week % len(members)], members[(week + 1) % len(members)]]
