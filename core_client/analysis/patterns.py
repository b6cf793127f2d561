"""Log patterns: group lines into Drain templates, and find the patterns new or grown after a time.

One configuration serves every log source. Variables are masked generically before Drain sees a line: dates written out, URLs,
UUIDs, IPv6 and MAC addresses, IPv4 addresses with an optional port, absolute paths, hex literals, then any
run of characters holding a digit between delimiters (``:=,()[]{}<>"';|`` and spaces), so ``LOGIN(uid=0)``
keeps its words and loses its number. A token left with nothing but masks and punctuation is one variable.
Drain (drain3's prefix tree) then compares a line with a template counting a masked variable of the line as a
match for a variable of the template: two lines that differ only in their variables are the same event.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from drain3.drain import Drain, LogCluster

from core_client.schemas import LogEntry, LogPattern, PatternChange, PatternComparison

VARIABLE = "<*>"

_DELIMITERS = r"\s:=,()\[\]{}<>\"';|"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
# Each mask with a literal every match contains: the regex runs only on lines holding it (much faster than
# one alternation, which defeats the regex engine's literal scan).
_MASKS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cue, re.compile(pattern))
    for cue, pattern in (
        (
            ":",
            rf"\b(?:{_WEEKDAY},?\s+)?{_MONTH}\s+\d{{1,2}},?\s+(?:\d{{4}}\s+)?\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:\s+\d{{4}})?\b",
        ),  # date
        ("://", r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s\"'<>]+"),  # URL
        ("-", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),  # UUID
        (":", r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}(?![\w:])"),  # IPv6, MAC
        (".", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?(?![\w.])"),  # IPv4[:port]
        ("/", r"(?<![\w/])(?:/[\w.\-@~+%]+){2,}/?"),  # absolute path
        ("0x", r"(?<!\w)0x[0-9a-fA-F]+"),  # hex literal
    )
)
# Then any run between delimiters that holds a digit: numbers, durations, ids, the parts of host:port.
_RUN = re.compile(rf"[^{_DELIMITERS}]+")
_DIGIT = re.compile(r"\d")


def _mask_run(match: re.Match[str]) -> str:
    return VARIABLE if _DIGIT.search(match.group()) else match.group()


_ONLY_VARIABLES = re.compile(r"^(?:[^\w\s]*<\*>)+[^\w\s]*$")


def mask_message(message: str) -> list[str]:
    """The tokens Drain sees for ``message``: whitespace-separated, with every variable part as ``<*>``."""
    masked = message
    for cue, mask in _MASKS:
        if cue in masked:
            masked = mask.sub(VARIABLE, masked)
    tokens = _RUN.sub(_mask_run, masked).split()
    return [VARIABLE if _ONLY_VARIABLES.match(token) else token for token in tokens]


class _VariableAwareDrain(Drain):
    """Drain whose similarity counts a masked variable of the line as matching a variable of the template."""

    def get_seq_distance(
        self, seq1: Sequence[str], seq2: Sequence[str], include_params: bool
    ) -> tuple[float, int]:
        if not seq1:
            return 1.0, 0
        similar = 0
        params = 0
        for template_token, token in zip(seq1, seq2, strict=True):
            if template_token == VARIABLE:
                params += 1
                if include_params or token == VARIABLE:
                    similar += 1
            elif template_token == token:
                similar += 1
        return similar / len(seq1), params


@dataclass(frozen=True)
class MinerConfig:
    """Drain's parameters; the defaults are the single configuration measured on Loghub."""

    similarity: float = 0.78
    depth: int = 5
    max_children: int = 100


class PatternMiner:
    """An incremental Drain miner: feed it messages, get back the id of the template each one joined."""

    def __init__(self, config: MinerConfig | None = None) -> None:
        cfg = config or MinerConfig()
        self._drain = _VariableAwareDrain(
            sim_th=cfg.similarity, depth=cfg.depth, max_children=cfg.max_children, param_str=VARIABLE
        )

    def add(self, message: str) -> int:
        """Add one message; the id of its template (stable for this miner's lifetime)."""
        cluster: LogCluster
        cluster, _ = self._drain.add_log_message(" ".join(mask_message(message)))
        return int(cluster.cluster_id)

    def template(self, pattern: int) -> str:
        """The current template of a pattern id returned by :meth:`add`."""
        return str(self._drain.id_to_cluster[pattern].get_template())


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
) -> list[tuple[str, _Tally]]:
    miner = PatternMiner(config)
    tallies: dict[int, _Tally] = {}
    for entry in ordered:
        key = miner.add(entry.message)
        tallies.setdefault(key, _Tally()).add(entry, before=since is not None and entry.timestamp < since)
    return [(miner.template(key), tally) for key, tally in tallies.items()]


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
    patterns = sorted((_pattern(t, tally) for t, tally in mined), key=lambda p: (-p.count, p.template))
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
    config: MinerConfig | None = None,
) -> PatternComparison:
    """The patterns new (no line before ``since``) or grown (hourly rate after / before >= ``growth_threshold``).

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
    lines_before = sum(t.before for _, t in mined)

    changes: list[PatternChange] = []
    for template, tally in mined:
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
    )
