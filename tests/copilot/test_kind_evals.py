"""Question-kind evals for change-verdict, log-summary and history (tests/evals/kinds): each question is read as its
kind, its verdict says what is true in the scenario's world, and its citations hold. The development cases and the
held-out phrasings written after the rules were frozen both run here; a miss prints the question and verdict."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import typer

from adapters.demo.scenario import load_library
from console.commands.eval import demo_worlds, kind_cases
from copilot.evals import EvalReport, run_evals
from copilot.planners.offline import OfflineInvestigator
from core_client.settings import Settings
from tests.copilot.test_evals import SCALE, isolated

__all__ = ["isolated"]

KIND_CASES = Path(__file__).parents[1] / "evals" / "kinds"
DEVELOPMENT = KIND_CASES / "change_logs_history.yaml"
HELD_OUT = KIND_CASES / "held_out_change_logs_history.yaml"


def offline_report(settings: Settings, path: Path) -> EvalReport:
    """The offline investigator alone (the baselines answer root-cause questions only) over ``path``'s cases."""
    cases = kind_cases(load_library(), path)
    return asyncio.run(
        run_evals(
            cases,
            settings=settings,
            open_world=demo_worlds(settings, SCALE, None),
            planners=[OfflineInvestigator(settings)],
            scale=SCALE,
            seeds=1,
        )
    )


def misses(report: EvalReport) -> list[str]:
    return [
        f"{s.scenario}: asked {s.question_kind}, read {s.answered_kind}, verdict right {s.verdict_right}, "
        f"citations valid {s.citations_valid}"
        for s in report.scores
        if not s.fully_right
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", [DEVELOPMENT, HELD_OUT], ids=["development", "held-out"])
def test_change_log_and_history_questions_get_the_right_kind_and_a_true_verdict(
    isolated: Settings, path: Path
) -> None:
    report = offline_report(isolated, path)
    assert len(report.scores) >= 10
    assert report.percent_fully_right("offline") >= 90.0, misses(report)


def test_a_kind_case_file_that_is_not_a_list_of_cases_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "cases.yaml"
    broken.write_text(
        "- scenario: orders-pool-exhaustion\n  question: What did orders-api log?\n  kind: gossip\n"
    )
    with pytest.raises(typer.BadParameter, match=r"cases\.yaml"):
        kind_cases(load_library(), broken)
