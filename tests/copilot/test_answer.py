"""The Answer's fields for question kinds (kind, verdict, path, timeline) and evidence labels: new answers carry
them, answers and evidence stored before they existed stay readable, and the citation check covers them."""

from __future__ import annotations

from datetime import UTC, datetime

from copilot.answer import Answer, Claim, Evidence, EvidenceKind, Hop, Moment, QuestionKind, first_sentence
from copilot.citations import validate_answer

ONSET = datetime(2025, 6, 11, 13, 37, tzinfo=UTC)


def evidence(kind: EvidenceKind, ref: str, **extra: str) -> Evidence:
    return Evidence(id=f"{kind.value}:{ref}", kind=kind, ref=ref, excerpt=ref, tool_call_id="s1c1", **extra)


def test_an_answer_stored_before_question_kinds_reads_with_its_first_sentence_as_verdict() -> None:
    stored = {
        "summary": "orders-api is the likely root cause: its pool is exhausted. checkout-api fails because of it.",
        "claims": [{"text": "pool pinned", "evidence_ids": ["anomaly:orders-api:db_pool_in_use"]}],
        "root_cause": {"service": "orders-api", "fault_kind": "connection_pool_exhaustion"},
        "confidence": 0.8,
    }
    answer = Answer.model_validate(stored)
    assert answer.kind is None
    assert answer.verdict == "orders-api is the likely root cause: its pool is exhausted."
    assert answer.path == [] and answer.timeline == []
    assert Answer.model_validate(answer.model_dump(mode="json")) == answer


def test_a_new_answer_keeps_its_kind_verdict_path_and_timeline_through_json() -> None:
    answer = Answer(
        kind=QuestionKind.HEALTH,
        verdict="No, payflow is down: 78% of calls fail (normally 0.4%).",
        summary="No, payflow is down.",
        path=[Hop(service="payflow", onset=ONSET, evidence_ids=["anomaly:payflow:error_rate"])],
        timeline=[Moment(at=ONSET, kind="onset", label="payflow errors begin")],
    )
    again = Answer.model_validate_json(answer.model_dump_json())
    assert again == answer and again.kind == "health"


def test_first_sentence_stops_at_the_first_full_stop_followed_by_space() -> None:
    assert first_sentence("Yes. It is 1.5 s slower.") == "Yes."
    assert first_sentence("One sentence only") == "One sentence only"
    assert first_sentence("") == ""


def test_evidence_without_a_label_gets_one_from_its_kind_and_ref() -> None:
    old = Evidence.model_validate(
        {"id": "deployment:dep-1", "kind": "deployment", "ref": "dep-1", "excerpt": "x", "tool_call_id": "c"}
    )
    assert old.label == "deployment dep-1"
    given = evidence(EvidenceKind.ANOMALY, "orders-api:error_rate", label="orders-api error_rate")
    assert given.label == "orders-api error_rate"


def test_path_and_timeline_keep_only_evidence_a_call_returned_and_say_what_was_dropped() -> None:
    real = evidence(EvidenceKind.ANOMALY, "orders-api:error_rate")
    answer = Answer(
        summary="s",
        claims=[Claim(text="errors", evidence_ids=[real.id])],
        path=[Hop(service="orders-api", evidence_ids=[real.id, "anomaly:made-up"])],
        timeline=[Moment(at=ONSET, kind="onset", label="x", evidence_ids=["log:nope"])],
    )
    report = validate_answer(answer, [real])
    assert report.answer.path[0].evidence_ids == [real.id]
    assert report.answer.timeline[0].evidence_ids == []
    assert not report.ok
    assert [n.split(":")[0] for n in report.notes] == ["path evidence dropped", "timeline evidence dropped"]
    clean = answer.model_copy(
        update={"path": [Hop(service="orders-api", evidence_ids=[real.id])], "timeline": []}
    )
    assert validate_answer(clean, [real]).ok
