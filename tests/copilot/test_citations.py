"""The citation check: only claims and actions resting on evidence this run returned reach a person."""

from __future__ import annotations

from datetime import UTC, datetime

from copilot.answer import Answer, Claim, Evidence, EvidenceKind, ProposedAction, RootCause
from copilot.citations import repair_prompt, validate_answer
from core_client.links import deployment_link, logs_link

ONSET = datetime(2026, 11, 21, 9, 42, tzinfo=UTC)

EVIDENCE = [
    Evidence(
        id="deployment:dep-17",
        kind=EvidenceKind.DEPLOYMENT,
        ref="dep-17",
        excerpt="payments-api v2.4.1 deployed 09:38",
        tool_call_id="call-1",
        link=deployment_link("dep-17").build(),
    ),
    Evidence(
        id="log:9f2c",
        kind=EvidenceKind.LOG,
        ref="9f2c",
        excerpt="ERROR pool exhausted (50/50 connections in use)",
        tool_call_id="call-2",
        link=logs_link(service="payments-api", start=ONSET, highlight="9f2c").build(),
    ),
    Evidence(
        id="runbook:payments-api",
        kind=EvidenceKind.RUNBOOK,
        ref="payments-api",
        excerpt="If the pool is exhausted, roll back the last deploy.",
        tool_call_id="call-3",
    ),
]


def answer(*claims: Claim, actions: list[ProposedAction] | None = None) -> Answer:
    return Answer(
        summary="payments-api exhausted its connection pool after deploy dep-17",
        claims=list(claims),
        root_cause=RootCause(service="payments-api", fault_kind="bad_deploy"),
        confidence=0.8,
        proposed_actions=actions or [],
        missing=["database metrics: no provider"],
    )


def test_an_answer_whose_every_claim_cites_returned_evidence_passes_untouched() -> None:
    original = answer(
        Claim(text="dep-17 shipped four minutes before onset", evidence_ids=["deployment:dep-17"]),
        Claim(text="the pool ran dry", evidence_ids=["log:9f2c", "runbook:payments-api"]),
        actions=[
            ProposedAction(
                tool="opspilot.create_ticket",
                arguments={"ticket": {"title": "Roll back dep-17"}},
                reason="follow-up carrying the evidence",
                evidence_ids=["deployment:dep-17", "log:9f2c"],
            )
        ],
    )
    report = validate_answer(original, EVIDENCE)
    assert report.ok
    assert report.answer == original
    assert report.rejected == [] and report.notes == []


def test_claims_without_evidence_or_citing_unreturned_ids_are_dropped_with_a_note() -> None:
    report = validate_answer(
        answer(
            Claim(text="dep-17 shipped before onset", evidence_ids=["deployment:dep-17"]),
            Claim(text="the database was slow", evidence_ids=[]),
            Claim(text="a config change caused it", evidence_ids=["log:9f2c", "deployment:dep-99"]),
        ),
        EVIDENCE,
    )
    assert [claim.text for claim in report.answer.claims] == ["dep-17 shipped before onset"]
    reasons = {item.text: item.reason for item in report.rejected}
    assert reasons["the database was slow"] == "it cites no evidence"
    assert "deployment:dep-99" in reasons["a config change caused it"]
    assert report.notes == [
        'claim dropped: "the database was slow" (it cites no evidence)',
        "claim dropped: \"a config change caused it\" (no tool call of this run returned evidence 'deployment:dep-99')",
    ]
    assert report.answer.root_cause is not None, "a supported claim still stands"
    assert report.answer.missing == ["database metrics: no provider"]
    assert not report.ok


def test_proposed_actions_follow_the_same_rule() -> None:
    report = validate_answer(
        answer(
            Claim(text="the pool ran dry", evidence_ids=["log:9f2c"]),
            actions=[
                ProposedAction(
                    tool="opspilot.append_timeline_note",
                    arguments={"incident_id": "INC-7", "note": {"body": "pool exhausted"}},
                    reason="record the finding",
                    evidence_ids=["log:9f2c"],
                ),
                ProposedAction(
                    tool="opspilot.page_oncall",
                    arguments={"page": {"service": "payments-api"}},
                    reason="wake the database team",
                    evidence_ids=["alert:made-up"],
                ),
                ProposedAction(
                    tool="opspilot.create_ticket",
                    arguments={"ticket": {"title": "investigate"}},
                    reason="because the logs said so",
                ),
            ],
        ),
        EVIDENCE,
    )
    assert [action.tool for action in report.answer.proposed_actions] == ["opspilot.append_timeline_note"]
    dropped = [item for item in report.rejected if item.kind == "action"]
    assert [item.text for item in dropped] == [
        "opspilot.page_oncall: wake the database team",
        "opspilot.create_ticket: because the logs said so",
    ]
    assert all(note.startswith("action dropped: ") for note in report.notes)


def test_evidence_with_a_malformed_link_cannot_be_cited() -> None:
    broken = EVIDENCE[0].model_copy(update={"link": "/deployments/dep-17/extra/segments"})
    report = validate_answer(
        answer(
            Claim(text="dep-17 shipped before onset", evidence_ids=["deployment:dep-17"]),
            Claim(text="the pool ran dry", evidence_ids=["log:9f2c"]),
        ),
        [broken, *EVIDENCE[1:]],
    )
    assert [claim.text for claim in report.answer.claims] == ["the pool ran dry"]
    assert "malformed link" in report.rejected[0].reason
    assert "not an OpsPilot link" in report.rejected[0].reason


def test_when_no_claim_stands_the_root_cause_is_withdrawn() -> None:
    report = validate_answer(
        answer(Claim(text="it was the deploy", evidence_ids=["deployment:dep-1"])), EVIDENCE
    )
    assert report.answer.claims == []
    assert report.answer.root_cause is None
    assert report.answer.confidence == 0.0
    assert report.notes[-1] == (
        "root cause withdrawn: no claim with valid evidence supports bad_deploy in payments-api"
    )


def test_the_repair_prompt_names_each_problem_and_the_ids_that_exist() -> None:
    report = validate_answer(
        answer(
            Claim(text="the pool ran dry", evidence_ids=["log:9f2c"]),
            Claim(text="the cache was cold", evidence_ids=["log:invented"]),
        ),
        EVIDENCE,
    )
    prompt = repair_prompt(report)
    assert '"the cache was cold" cites log:invented' in prompt
    assert "no tool call of this run returned evidence 'log:invented'" in prompt
    assert "deployment:dep-17, log:9f2c, runbook:payments-api" in prompt
    assert "Send the complete answer again" in prompt
    assert "No tool call" in repair_prompt(validate_answer(answer(Claim(text="x")), []))
