"""Log patterns: grouping accuracy on real Loghub logs with one configuration, and new/grown patterns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.files.loghub import PUBLISHED_DRAIN_GA, load_sample
from core_client.analysis.accuracy import grouping_accuracy
from core_client.analysis.patterns import PatternMiner, compare_patterns, mask_message, mine_patterns
from core_client.schemas import LogEntry

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_one_configuration_groups_every_loghub_system_as_well_as_published_drain(loghub_dir: Path) -> None:
    scores = {}
    for system in PUBLISHED_DRAIN_GA:
        sample = load_sample(loghub_dir, system)
        miner = PatternMiner()
        scores[system] = grouping_accuracy([miner.add(c) for c in sample.contents], sample.events)
    average = sum(scores.values()) / len(scores)
    assert average >= 0.88, scores
    for system, published in PUBLISHED_DRAIN_GA.items():
        assert scores[system] >= published - 0.05, (system, scores[system], published)


def test_grouping_accuracy_counts_a_line_right_only_when_its_group_is_exactly_its_event() -> None:
    assert grouping_accuracy(["a", "a", "b"], ["x", "x", "y"]) == 1.0
    # "a" merges two events: its three lines are wrong; "b" is exactly event z.
    assert grouping_accuracy(["a", "a", "a", "b"], ["x", "x", "y", "z"]) == 0.25


def test_masking_keeps_words_and_hides_variables() -> None:
    assert mask_message("session opened for user root by LOGIN(uid=0)") == [
        "session", "opened", "for", "user", "root", "by", "LOGIN(uid=<*>)",
    ]  # fmt: skip
    assert mask_message("connect to 10.0.0.1:5432 took 35ms at /var/lib/pg/data") == [
        "connect", "to", "<*>", "took", "<*>", "at", "<*>",
    ]  # fmt: skip


def _entry(minutes: float, message: str, *, service: str = "api", severity: str = "info") -> LogEntry:
    return LogEntry(
        timestamp=T0 + timedelta(minutes=minutes), message=message, service=service, severity=severity
    )


def _traffic() -> list[LogEntry]:
    entries = []
    for i in range(60):
        entries.append(_entry(i, f"GET /orders/{i} 200 in {10 + i % 7}ms"))
        if i % 20 == 0:
            entries.append(_entry(i, f"retrying upstream call attempt {i % 3}", severity="warn"))
    for i in range(60, 90):
        entries.append(_entry(i, f"GET /orders/{i} 200 in {10 + i % 7}ms"))
        entries.append(_entry(i + 0.5, f"retrying upstream call attempt {i % 3}", severity="warn"))
        if i % 3 == 0:
            entries.append(
                _entry(i + 0.2, f"connection pool exhausted after {i}ms", service="db", severity="error")
            )
    return entries


def test_mine_patterns_counts_times_severities_services_and_ignores_input_order() -> None:
    entries = _traffic()
    patterns = mine_patterns(entries)
    assert patterns == mine_patterns(list(reversed(entries)))
    by_template = {p.template: p for p in patterns}
    assert set(by_template) == {
        "GET <*> <*> in <*>",
        "retrying upstream call attempt <*>",
        "connection pool exhausted after <*>",
    }
    get = by_template["GET <*> <*> in <*>"]
    assert get.count == 90 and patterns[0].id == get.id
    assert get.first_seen == T0 and get.last_seen == T0 + timedelta(minutes=89)
    assert get.example == "GET /orders/89 200 in 15ms"
    pool = by_template["connection pool exhausted after <*>"]
    assert pool.by_severity == {"error": 10} and pool.services == ["db"]
    newest_pool_line = next(e for e in entries if e.message == "connection pool exhausted after 87ms")
    assert pool.id.startswith("p_") and pool.example_id == newest_pool_line.id


def test_compare_patterns_ranks_new_before_grown_and_leaves_steady_ones_out() -> None:
    comparison = compare_patterns(_traffic(), T0 + timedelta(minutes=60))
    assert [(c.template, c.change) for c in comparison.changes] == [
        ("connection pool exhausted after <*>", "new"),
        ("retrying upstream call attempt <*>", "grown"),
    ]
    new, grown = comparison.changes
    assert new.count_before == 0 and new.count_after == 10 and new.growth is None
    assert grown.count_before == 3 and grown.count_after == 30
    # 3 lines in 60 minutes before, 30 in 29.5 minutes after: the hourly rate grew about 20 times.
    assert grown.rate_before == 3.0 and 19 < (grown.growth or 0) < 21
    assert comparison.lines_before == 63 and comparison.lines_after == 70 and comparison.patterns == 3
    assert comparison.to_json()["changes"][0]["countAfter"] == 10


def test_compare_patterns_respects_limit_and_minimum_count() -> None:
    comparison = compare_patterns(_traffic(), T0 + timedelta(minutes=60), limit=1)
    assert len(comparison.changes) == 1 and comparison.truncated
    assert compare_patterns(_traffic(), T0 + timedelta(minutes=60), min_count=11).changes[0].change == "grown"
