"""Scenario files: validation with file and line, the shipped library, user folders, seeded plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.demo.plan import resolve
from adapters.demo.scenario import FAULT_KINDS, Decoy, ScenarioFileError, load_library, packaged_scenarios_dir


def test_shipped_library_covers_every_fault_kind_with_two_fault_scenarios() -> None:
    library = load_library()
    assert len(library.names()) >= 12
    kinds = {f.kind for s in library.scenarios.values() for f in s.faults}
    assert kinds == set(FAULT_KINDS)
    assert sum(1 for s in library.scenarios.values() if len(s.faults) == 2) >= 2


def _copy(tmp_path: Path, name: str, edit: tuple[str, str] | None = None) -> Path:
    text = (packaged_scenarios_dir() / f"{name}.yaml").read_text()
    if edit:
        assert edit[0] in text
        text = text.replace(edit[0], edit[1])
    folder = tmp_path / "mine"
    folder.mkdir(exist_ok=True)
    target = folder / f"{name}.yaml"
    target.write_text(text)
    return target


def test_a_bad_value_is_reported_with_file_line_and_reason(tmp_path: Path) -> None:
    path = _copy(tmp_path, "payflow-outage", ("kind: dependency_outage", "kind: dependency_meltdown"))
    with pytest.raises(ScenarioFileError) as caught:
        load_library(path.parent)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "dependency_meltdown" in text)
    assert caught.value.path == path
    assert caught.value.line == line
    assert "dependency_meltdown" in caught.value.reason and f"{path}:{line}" in str(caught.value)


def test_broken_yaml_and_a_missing_key_are_reported(tmp_path: Path) -> None:
    path = _copy(tmp_path, "search-traffic-spike", ("question: Why is search returning errors?\n", ""))
    with pytest.raises(ScenarioFileError) as caught:
        load_library(path.parent)
    assert caught.value.line == 1 and "'question' is a required property" in caught.value.reason
    path.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioFileError) as caught:
        load_library(path.parent)
    assert caught.value.line == 2 and "invalid YAML" in caught.value.reason


def test_scenarios_load_from_a_user_folder_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _copy(tmp_path, "payflow-outage", ("name: payflow-outage", "name: my-payflow"))
    path.rename(path.with_name("my-payflow.yaml"))
    assert "my-payflow" in load_library(path.parent).names()
    monkeypatch.setenv("OPSPILOT_SCENARIOS", str(path.parent))
    library = load_library()
    assert "my-payflow" in library.names() and "payflow-outage" in library.names()


def test_a_seed_moves_onsets_within_the_jitter_and_nothing_else() -> None:
    scenario = load_library().get("orders-pool-exhaustion")
    plans = [resolve(scenario, seed) for seed in (1, 2, 3)]
    onsets = [p.onsets[0] for p in plans]
    assert len(set(onsets)) > 1
    assert all(-45 * 60 - 6 * 60 <= o <= -45 * 60 + 6 * 60 for o in onsets)
    assert resolve(scenario, 1).onsets == onsets[:1]
    assert {p.incident.title for p in plans if p.incident} == {"Checkout error rate above 5%"}


@pytest.mark.parametrize(
    ("edit", "line_of", "reason"),
    [
        (
            ("name: payflow-outage", "name: !!python/object/apply:os.system [echo]"),
            "!!python",
            "invalid YAML",
        ),
        (("title: ", "title: \x07"), "title:", "invalid YAML"),
        (("onset: -25m", "onset: .nan"), "onset:", "not a finite number"),
    ],
)
def test_hostile_or_broken_yaml_gets_one_line_with_file_and_line(
    tmp_path: Path, edit: tuple[str, str], line_of: str, reason: str
) -> None:
    path = _copy(tmp_path, "payflow-outage", edit)
    with pytest.raises(ScenarioFileError) as caught:
        load_library(path.parent)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if line_of in text)
    assert caught.value.line == line, caught.value
    assert reason in caught.value.reason and "\n" not in str(caught.value)


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = _copy(tmp_path, "payflow-outage")
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"title: Caf\xe9 down"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ScenarioFileError) as caught:
        load_library(path.parent)
    assert caught.value.line == 3 and "not UTF-8" in caught.value.reason


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("disk {0} full", "must be a name"),
        ("disk {pct:>5} full", "no format spec"),
        ("disk {pct full", "brace"),
        ("disk {obj.attr} full", "must be a name"),
    ],
)
def test_a_log_template_that_cannot_fill_is_refused_where_it_stands(
    tmp_path: Path, message: str, problem: str
) -> None:
    original = "disk free space {pct}MB below watermark on node rabbit@order-events-0"
    path = _copy(tmp_path, "orders-deploy-and-queue-disk", (original, message))
    with pytest.raises(ScenarioFileError) as caught:
        load_library(path.parent)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if message in text)
    assert caught.value.line == line and problem in caught.value.reason


def test_an_effect_on_a_metric_the_service_does_not_report_is_an_error(tmp_path: Path) -> None:
    # order-events is a queue: it has no database pool, so this effect would silently vanish.
    path = _copy(
        tmp_path,
        "orders-deploy-and-queue-disk",
        ("{metric: disk_used_percent, shape: ramp", "{metric: db_pool_in_use, shape: ramp"),
    )
    with pytest.raises(ScenarioFileError) as caught:
        load_library(path.parent)
    assert "order-events does not report 'db_pool_in_use'" in caught.value.reason


def test_config_changes_and_feature_flags_are_decoys_recorded_as_deployments() -> None:
    scenario = load_library().get("payflow-outage")
    decoys = [
        Decoy(kind="config_change", service="search-api", at="-30m", jitter="1m"),
        Decoy(kind="feature_flag", service="catalog-api", at="-20m", jitter="1m"),
    ]
    plan = resolve(scenario.model_copy(update={"decoys": decoys}), 1)
    changes = {(d.service, d.change) for d in plan.deploys}
    assert {("search-api", "config"), ("catalog-api", "flag")} <= changes
