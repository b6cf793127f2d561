"""``opspilot demo`` through the real command line app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from console.cli import app
from core_client.settings import load_settings


def test_list_build_cache_and_unknown_scenario() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["demo", "--list"])
    assert listed.exit_code == 0 and "payflow-outage" in listed.output
    built = runner.invoke(app, ["demo", "--scenario", "payflow-outage", "--seed", "2", "--scale", "0.01"])
    assert built.exit_code == 0, built.output
    assert "built world payflow-outage-s2-x0p01" in built.output
    cached = runner.invoke(app, ["demo", "--scenario", "payflow-outage", "--seed", "2", "--scale", "0.01"])
    assert cached.exit_code == 0 and "was cached" in cached.output
    pointer = json.loads((load_settings().data_dir / "demo" / "active").read_text())
    assert pointer["scenario"] == "payflow-outage" and pointer["seed"] == 2
    unknown = runner.invoke(app, ["demo", "--scenario", "nope"])
    assert unknown.exit_code != 0
