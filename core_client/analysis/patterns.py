"""Log patterns of any provider's entries: counts, times, severities and services per template, and the patterns
new or grown after a time.

Lines are grouped by :class:`~core_client.analysis.mining.PatternMiner` (one configuration for every log source,
variables named by core_client/analysis/variables.py), mined in time order so the result does not depend on the
order a provider returns lines in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core_client.analysis.mining import MinerConfig, PatternMiner
from core_client.schemas import LogEntry, LogPattern, PatternChange, PatternComparison

__all__ = ["MinerConfig", "PatternMiner", "compare_patterns", "mine_patterns", "pattern_id"]


def pattern_id(template: str) -> str:
    """A short id derived from the template, so the same template has the same id in every run."""
    return "p_" + hashlib.sha256(template.encode()).hexdigest()[:12]


@dataclass
class _Tally:
    count: int = 0
    before: int = 0
    first: LogEntry | None = None
    last: LogEntry | None = None
    by_severity: dict[str, int] = field(default_factory=dict)
    services: set[str] = field(default_factory=set)

    def add(self, entry: LogEntry, *, before: bool) -> None:
        self.count += 1
        self.before += before
        if self.first is None:
            self.first = entry
        self.last = entry
        severity = entry.severity or "unknown"
        self.by_severity[severity] = self.by_severity.get(severity, 0) + 1
        if entry.service:
            self.services.add(entry.service)


def _chronological(entries: Iterable[LogEntry]) -> list[LogEntry]:
    # Mining in time order (not in the provider's newest-first order) makes the result independent of it.
    return sorted(entries, key=lambda e: (e.timestamp, e.id))


def _mine(
    ordered: list[LogEntry], config: MinerConfig | None, since: datetime | None
) -> list[tuple[str, _Tally, _Tally]]:
    """Each template with the tally of all its lines, and of its lines from ``since`` on (all of them without)."""
    miner = PatternMiner(config)
    for entry in ordered:
        miner.add(entry.message)
    mined = miner.patterns()
    tallies = [_Tally() for _ in mined.templates]
    after = [_Tally() for _ in mined.templates]
    for entry, pattern in zip(ordered, mined.of_line, strict=True):
        before = since is not None and entry.timestamp < since
        tallies[pattern].add(entry, before=before)
        if not before:
            after[pattern].add(entry, before=False)
    return list(zip(mined.templates, tallies, after, strict=True))


def _pattern(template: str, tally: _Tally) -> LogPattern:
    assert tally.first is not None and tally.last is not None
    return LogPattern(
        id=pattern_id(template),
        template=template,
        count=tally.count,
        first_seen=tally.first.timestamp,
        last_seen=tally.last.timestamp,
        example=tally.last.message,
        example_id=tally.last.id,
        by_severity=dict(sorted(tally.by_severity.items())),
        services=sorted(tally.services),
    )


def mine_patterns(
    entries: Iterable[LogEntry], *, limit: int | None = None, config: MinerConfig | None = None
) -> list[LogPattern]:
    """Group ``entries`` (from any log provider) into patterns, most frequent first (ties by template).

    The example of each pattern is its newest line.
    """
    mined = _mine(_chronological(entries), config, None)
    patterns = sorted((_pattern(t, tally) for t, tally, _ in mined), key=lambda p: (-p.count, p.template))
    return patterns if limit is None else patterns[:limit]


def compare_patterns(
    entries: Iterable[LogEntry],
    since: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    growth_threshold: float = 2.0,
    min_count: int = 3,
    limit: int = 20,
    frequent_limit: int = 5,
    config: MinerConfig | None = None,
) -> PatternComparison:
    """The patterns new (no line before ``since``) or grown (hourly rate after / before >= ``growth_threshold``),
    and the ``frequent_limit`` most frequent patterns from ``since`` on, whatever their change (counted, with their
    severities and newest line, over the lines from ``since`` on alone).

    ``start`` and ``end`` bound the two windows (default: the oldest and newest line). A pattern needs at
    least ``min_count`` lines after ``since`` to be reported. New patterns come first, by count after; then
    grown ones by growth; at most ``limit`` changes (``truncated`` says when more qualified).
    """
    ordered = _chronological(entries)
    if start is None:
        start = min(ordered[0].timestamp, since) if ordered else since
    if end is None:
        end = max(ordered[-1].timestamp, since) if ordered else since
    ordered = [e for e in ordered if start <= e.timestamp <= end]
    hours_before = max((since - start).total_seconds(), 1.0) / 3600
    hours_after = max((end - since).total_seconds(), 1.0) / 3600
    mined = _mine(ordered, config, since)
    lines_before = sum(t.before for _, t, _ in mined)
    frequent = sorted(
        (_pattern(template, after) for template, _, after in mined if after.count),
        key=lambda p: (-p.count, p.template),
    )

    changes: list[PatternChange] = []
    for template, tally, _ in mined:
        after = tally.count - tally.before
        if after < min_count:
            continue
        rate_before = tally.before / hours_before
        rate_after = after / hours_after
        growth = rate_after / rate_before if tally.before else None
        if growth is not None and growth < growth_threshold:
            continue
        changes.append(
            PatternChange(
                **_pattern(template, tally).model_dump(),
                change="new" if tally.before == 0 else "grown",
                count_before=tally.before,
                count_after=after,
                rate_before=round(rate_before, 3),
                rate_after=round(rate_after, 3),
                growth=None if growth is None else round(growth, 2),
            )
        )
    changes.sort(
        key=lambda c: (
            c.change != "new",
            -c.count_after if c.change == "new" else -(c.growth or 0.0),
            c.template,
        )
    )
    return PatternComparison(
        since=since,
        start=start,
        end=end,
        lines_before=lines_before,
        lines_after=len(ordered) - lines_before,
        patterns=len(mined),
        changes=changes[:limit],
        truncated=len(changes) > limit,
        frequent=frequent[:frequent_limit],
    )
