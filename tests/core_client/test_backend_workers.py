"""Production backend workers are sized to the machine's cores unless an operator says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core_client.errors import ConfigurationError
from core_client.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_backend_workers_default_to_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSPILOT_BACKEND_WORKERS", raising=False)
    assert load_settings().backend_workers == (os.cpu_count() or 1)


def test_backend_workers_setting_and_its_bad_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSPILOT_BACKEND_WORKERS", "3")
    assert load_settings().backend_workers == 3
    monkeypatch.setenv("OPSPILOT_BACKEND_WORKERS", "0")
    with pytest.raises(ConfigurationError, match="backend_workers"):
        load_settings()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, str(os.cpu_count() or 1)),
        ({"OPSPILOT_BACKEND_WORKERS": "3"}, "3"),
        ({"GRANIAN_WORKERS": "5"}, "5"),
    ],
)
def test_reflex_is_told_the_worker_count(environment: dict[str, str], expected: str) -> None:
    """What Reflex's production server reads (GRANIAN_WORKERS) once the console's configuration is loaded."""
    env = {k: v for k, v in os.environ.items() if k not in ("GRANIAN_WORKERS", "OPSPILOT_BACKEND_WORKERS")}
    script = "import os, rxconfig; print(os.environ['GRANIAN_WORKERS'])"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
