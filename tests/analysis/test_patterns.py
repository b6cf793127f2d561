"""Log patterns: held-out accuracy on real Loghub logs, robustness to how variables are written, and new/grown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import fmean

import pytest

from adapters.files.loghub import PUBLISHED_DRAIN_GA, load_sample
from core_client.analysis.accuracy import ParsingScore
from core_client.analysis.evaluation import (
    SHAPES,
    TUNING_GRID,
    LabelledSample,
    leave_one_out,
    rewrite_variables,
    score,
    score_grid,
)
from core_client.analysis.mining import MinerConfig, PatternMiner
from core_client.analysis.patterns import compare_patterns, mine_patterns
from core_client.schemas import LogEntry
from tests.conftest import SHARED_DATA, require

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def samples() -> list[LabelledSample]:
    folder = SHARED_DATA / "loghub"
    require(folder.is_dir(), f"Loghub samples not found at {folder} (set OPSPILOT_SHARED_DATA)")
    return [load_sample(folder, system) for system in PUBLISHED_DRAIN_GA]


def test_held_out_accuracy_over_the_loghub_folds(samples: list[LabelledSample]) -> None:
    """Each system is scored with the configuration chosen on the other seven: nothing is tuned on it."""
    folds = leave_one_out(score_grid(samples))
    held_out = {fold.held_out: fold.score for fold in folds}
    assert fmean(s.ga for s in held_out.values()) >= 0.92, held_out
    assert fmean(s.pa for s in held_out.values()) >= 0.85, held_out
    assert fmean(s.fta for s in held_out.values()) >= 0.75, held_out
    for system, published in PUBLISHED_DRAIN_GA.items():
        assert held_out[system].ga >= published - 0.02, (system, held_out[system], published)


def test_a_fold_chooses_on_the_other_systems_only() -> None:
    def ga(value: float) -> ParsingScore:
        return ParsingScore(ga=value, fga=value, pa=value, fta=value, found=1, true=1)

    tuned_for_a, general = MinerConfig(similarity=0.7), MinerConfig(similarity=0.9)
    scores = {
        tuned_for_a: {"a": ga(1.0), "b": ga(0.5), "c": ga(0.5)},
        general: {"a": ga(0.6), "b": ga(0.9), "c": ga(0.95)},
    }
    folds = {fold.held_out: fold for fold in leave_one_out(scores)}
    assert folds["a"].chosen == general and folds["a"].score.ga == 0.6
    assert folds["b"].chosen == general and folds["b"].chosen_on_others_ga == pytest.approx(0.775)
    # A tie goes to the configuration listed first.
    assert (
        leave_one_out({tuned_for_a: scores[tuned_for_a], general: scores[tuned_for_a]})[0].chosen
        == tuned_for_a
    )
    with pytest.raises(ValueError, match="at least two systems"):
        leave_one_out({general: {"a": ga(1.0)}})
    assert len(TUNING_GRID) == len(set(TUNING_GRID)) and MinerConfig() in TUNING_GRID


@pytest.mark.parametrize("shape", SHAPES)
def test_variables_written_in_another_shape_group_as_well(samples: list[LabelledSample], shape: str) -> None:
    """Every true variable rewritten as a digitless host, host:port, IPv6, URL, path or UUID: GA holds."""
    for sample in samples:
        variant, rewritten = rewrite_variables(sample, shape)  # type: ignore[arg-type]
        assert rewritten > len(sample.contents) / 3
        assert variant.contents != sample.contents
        drop = score(MinerConfig(), sample).ga - score(MinerConfig(), variant).ga
        assert drop <= 0.02, (sample.system, shape, drop)


def _patterns(*messages: str) -> list[str]:
    miner = PatternMiner()
    for message in messages:
        miner.add(message)
    mined = miner.patterns()
    return [mined.templates[pattern] for pattern in mined.of_line]


def test_variables_cannot_outvote_a_differing_literal() -> None:
    lines = [f"10.0.0.{i} 10.0.1.{i} 10.0.2.{i} port {i} connected" for i in range(5)]
    lines += [f"10.0.0.{i} 10.0.1.{i} 10.0.2.{i} port {i} disconnected" for i in range(5)]
    assert set(_patterns(*lines)) == {
        "<ip> <ip> <ip> port <num> connected",
        "<ip> <ip> <ip> port <num> disconnected",
    }


def test_a_value_first_does_not_split_an_event() -> None:
    programs = ["chrome.exe", "firefox.exe", "slack.exe", "outlook.exe", "teams.exe"]
    hosts = ["proxy.example.com", "gw.corp.internal", "edge-a.example.co.uk"]
    lines = [f"{p} - {h}:{5000 + i} open through proxy {h}:{5000 + i} HTTPS" for i, (p, h) in
             enumerate((p, h) for p in programs for h in hosts)]  # fmt: skip
    lines += [f"{h}:{8000 + i} accepted a connection from {h}" for i, h in enumerate(hosts * 2)]
    assert set(_patterns(*lines)) == {
        "<*> - <host>:<port> open through proxy <host>:<port> HTTPS",
        "<host>:<port> accepted a connection from <host>",
    }


def test_a_word_with_many_values_is_a_variable_a_few_values_are_states() -> None:
    users = ["alice", "bob", "carol", "dave", "erin", "frank"]
    lines = [f"session opened for user {u} by sshd" for u in users for _ in range(3)]
    lines += [f"Location icon should now be in state {s}" for s in ("Active", "Inactive") * 10]
    assert set(_patterns(*lines)) == {
        "session opened for user <*> by sshd",
        "Location icon should now be in state Active",
        "Location icon should now be in state Inactive",
    }


def test_the_first_line_of_an_event_joins_it_once_its_variable_shows() -> None:
    first = "Invalid user webmaster from 173.234.31.186"
    rest = [
        f"Invalid user {u} from 10.1.{i}.{i}" for i, u in enumerate(["admin", "test", "oracle", "git", "pi"])
    ]
    assert set(_patterns(first, *rest)) == {"Invalid user <*> from <ip>"}


def test_templates_name_what_the_masks_know_and_spell_what_never_varies() -> None:
    lines = [
        f"Failed password for root from 5.36.{i}.76 port {42393 + i} ssh2 after {i + 1}.5s, {i}MB sent"
        for i in range(4)
    ]
    assert (
        _patterns(*lines)[0]
        == "Failed password for root from <ip> port <num> ssh2 after <duration>, <size> sent"
    )
    ids = [
        f"request 2f1c9a7e-0c4b-4f8e-9d2a-{i:012x} for /srv/data/{i}.db on [fe80::{i + 1}]" for i in range(3)
    ]
    assert _patterns(*ids)[0] == "request <uuid> for <path> on [<ip>]"


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


GET = "GET <path> <num> in <duration>"
RETRY = "retrying upstream call attempt <num>"
POOL = "connection pool exhausted after <duration>"


def test_mine_patterns_counts_times_severities_services_and_ignores_input_order() -> None:
    entries = _traffic()
    patterns = mine_patterns(entries)
    assert patterns == mine_patterns(list(reversed(entries)))
    by_template = {p.template: p for p in patterns}
    assert set(by_template) == {GET, RETRY, POOL}
    get = by_template[GET]
    assert get.count == 90 and patterns[0].id == get.id
    assert get.first_seen == T0 and get.last_seen == T0 + timedelta(minutes=89)
    assert get.example == "GET /orders/89 200 in 15ms"
    pool = by_template[POOL]
    assert pool.by_severity == {"error": 10} and pool.services == ["db"]
    newest_pool_line = next(e for e in entries if e.message == "connection pool exhausted after 87ms")
    assert pool.id.startswith("p_") and pool.example_id == newest_pool_line.id


def test_compare_patterns_ranks_new_before_grown_and_leaves_steady_ones_out() -> None:
    comparison = compare_patterns(_traffic(), T0 + timedelta(minutes=60))
    assert [(c.template, c.change) for c in comparison.changes] == [(POOL, "new"), (RETRY, "grown")]
    new, grown = comparison.changes
    assert new.count_before == 0 and new.count_after == 10 and new.growth is None
    assert grown.count_before == 3 and grown.count_after == 30
    # 3 lines in 60 minutes before, 30 in 29.5 minutes after: the hourly rate grew about 20 times.
    assert grown.rate_before == 3.0 and 19 < (grown.growth or 0) < 21
    assert comparison.lines_before == 63 and comparison.lines_after == 70 and comparison.patterns == 3
    assert comparison.to_json()["changes"][0]["countAfter"] == 10


def test_compare_patterns_counts_the_most_frequent_patterns_after_since_whatever_their_change() -> None:
    comparison = compare_patterns(_traffic(), T0 + timedelta(minutes=60), frequent_limit=2)
    # Steady GET lines are left out of the changes but are the most frequent after `since`: 30 of them.
    assert [(p.template, p.count) for p in comparison.frequent] == [(GET, 30), (RETRY, 30)]
    assert comparison.frequent[0].first_seen == T0 + timedelta(minutes=60)
    assert comparison.frequent[1].by_severity == {"warn": 30}
    assert sum(p.count for p in compare_patterns(_traffic(), T0 + timedelta(minutes=60)).frequent) == 70


def test_compare_patterns_respects_limit_and_minimum_count() -> None:
    comparison = compare_patterns(_traffic(), T0 + timedelta(minutes=60), limit=1)
    assert len(comparison.changes) == 1 and comparison.truncated
    assert compare_patterns(_traffic(), T0 + timedelta(minutes=60), min_count=11).changes[0].change == "grown"


def test_loghub_sample_reads_true_events_and_templates(loghub_dir: Path) -> None:
    sample = load_sample(loghub_dir, "OpenSSH")
    assert len(sample.contents) == len(sample.events) == len(sample.templates) == 2000
    assert sample.templates[1] == "Invalid user <*> from <*>" and sample.contents[1].startswith(
        "Invalid user"
    )
