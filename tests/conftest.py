"""Shared test policy: quick by default; real servers where this machine has them.

A test that needs a server (PostgreSQL, Redis, Prometheus, Chromium...) calls :func:`require` with whether the
server is there. Absent, it skips with the reason, except under ``OPSPILOT_REQUIRE_SERVICES=1`` (set by
``.ci/run``), where it fails: CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.cli_users import CliUser

REQUIRE_SERVICES = os.environ.get("OPSPILOT_REQUIRE_SERVICES") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "OPSPILOT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("OPSPILOT_TEST_REDIS", "redis://127.0.0.1:6379/15")
REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("OPSPILOT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def require(available: bool, reason: str) -> None:
    """Skip (or, under OPSPILOT_REQUIRE_SERVICES=1, fail) unless ``available``."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_binary(name: str) -> str:
    """The path of an executable the test needs (``prometheus``, ``chromium``...), or skip/fail."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    require(path is not None, f"{name} is not installed (make test installs it when run as root)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session, dropped afterwards."""
    require(port_open("127.0.0.1", 5432), "PostgreSQL is not running on 127.0.0.1:5432")
    from tests.support.postgres import scratch_database

    with scratch_database(POSTGRES_ADMIN_URL, "opspilot_test") as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    """The real Redis on 127.0.0.1:6379 (database 15, for tests)."""
    require(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    return REDIS_TEST_URL


@pytest.fixture
def loghub_dir() -> Path:
    """The Loghub samples in ../shared/data/loghub."""
    path = SHARED_DATA / "loghub"
    require(path.is_dir(), f"Loghub samples not found at {path} (set OPSPILOT_SHARED_DATA)")
    return path


@pytest.fixture
def specs_dir() -> Path:
    """The vendors' OpenAPI descriptions in ../shared/data/specs."""
    path = SHARED_DATA / "specs"
    require(path.is_dir(), f"OpenAPI specs not found at {path} (set OPSPILOT_SHARED_DATA)")
    return path


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test gets its own data folder and ignores the developer's opspilot.toml and provider variables."""
    isolate_settings(monkeypatch, tmp_path)


def isolate_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings of OpsPilot's own in ``tmp_path`` only (for a fixture wider than one test, which
    :func:`_isolated_settings` does not reach): no developer's opspilot.toml, provider variables or CLI token."""
    for variable in list(os.environ):
        if variable.startswith(("OPSORCH_", "OPSPILOT_")) and variable not in (
            "OPSPILOT_REQUIRE_SERVICES",
            "OPSPILOT_SHARED_DATA",
            "OPSPILOT_TEST_POSTGRES",
            "OPSPILOT_TEST_REDIS",
        ):
            monkeypatch.delenv(variable, raising=False)
    for variable in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("OPSPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPSPILOT_CONFIG", str(tmp_path / "opspilot.toml"))
    # Never the developer's own CLI token file: the CLI acts only as the holder of the token it is given.
    monkeypatch.setenv("OPSPILOT_TOKEN_FILE", str(tmp_path / "cli-token"))
    (tmp_path / "opspilot.toml").write_text("")


@pytest.fixture
def cli_user() -> Callable[..., CliUser]:
    """``cli_user(name, role="responder", password=None)``: store a user, issue their API token, and get a
    :class:`tests.support.cli_users.CliUser` whose ``invoke(*args)`` runs ``opspilot`` as them (``env()`` for a
    subprocess)."""
    from tests.support.cli_users import add_cli_user

    return add_cli_user
