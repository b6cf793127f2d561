"""``console_url``: where absolute links point, set from the environment, opspilot.toml, or what Reflex serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from core_client.errors import ConfigurationError
from core_client.links import incident_link
from core_client.settings import load_settings

VARIABLES = ("OPSPILOT_CONSOLE_URL", "REFLEX_DEPLOY_URL", "REFLEX_FRONTEND_PORT", "OPSPILOT_CONFIG")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.chdir(tmp_path)  # no opspilot.toml of the repo's


def test_without_any_setting_it_is_reflexs_default_address() -> None:
    assert load_settings().console_url == "http://localhost:3000"


def test_the_port_reflex_settled_on_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # `reflex run --frontend-port 3005` (or Reflex moving off a busy 3000) exports this to its backend workers.
    monkeypatch.setenv("REFLEX_FRONTEND_PORT", "3005")
    assert load_settings().console_url == "http://localhost:3005"


def test_reflexs_deploy_url_wins_over_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEX_FRONTEND_PORT", "3005")
    monkeypatch.setenv("REFLEX_DEPLOY_URL", "https://ops.example.com/")
    assert load_settings().console_url == "https://ops.example.com"


def test_opspilot_toml_wins_over_what_reflex_knows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REFLEX_FRONTEND_PORT", "3005")
    (tmp_path / "opspilot.toml").write_text('console_url = "https://console.internal:8443/ops/"\n')
    settings = load_settings()
    assert settings.console_url == "https://console.internal:8443/ops"
    assert (
        incident_link("INC-7").absolute(settings.console_url)
        == "https://console.internal:8443/ops/incidents/INC-7"
    )


def test_the_environment_wins_over_opspilot_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "opspilot.toml").write_text('console_url = "https://from-the-file.example.com"\n')
    monkeypatch.setenv("OPSPILOT_CONSOLE_URL", "https://from-the-env.example.com")
    assert load_settings().console_url == "https://from-the-env.example.com"


@pytest.mark.parametrize("value", ["ops.example.com", "ftp://ops.example.com", "http://"])
def test_an_address_that_is_not_absolute_http_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("OPSPILOT_CONSOLE_URL", value)
    with pytest.raises(ConfigurationError, match=r"OPSPILOT_CONSOLE_URL.*absolute http"):
        load_settings()
