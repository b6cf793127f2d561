"""Scenario files: validation with file and line, the shipped library, user folders, seeded plans."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.demo.plan import resolve
from adapters.demo.scenario import FAULT_KINDS, ScenarioFileError, load_library, packaged_scenarios_dir


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
