"""The console as production runs it: ``reflex run --env prod`` with ``REFLEX_REDIS_URL`` and ``DATABASE_URL``.

Production means a built frontend served with the backend on one port, several backend workers, Reflex's state in
Redis and OpsPilot's data in PostgreSQL. The server runs in a folder of its own (links to the app's code, its own
``.web``), so it neither shares a build with the development harness of the other browser tests nor touches the
repository's. Users are added with ``opspilot users add``, as an operator would (the first admin on the empty
database, then the others with the admin's API token).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REDIS_TEST_URL, REPO_ROOT, port_open, require
from tests.e2e.conftest import PASSWORD, SIGN_IN_TIMEOUT_MS, VIEWPORT, screenshot, sign_in
from tests.e2e.panel import ask, open_panel, propose_ticket, states, wait_done

pytestmark = pytest.mark.browser

# Building the frontend for production (bun install from its cache, then Vite) before the server answers.
START_TIMEOUT_SECONDS = 420
USERS = {"approver": "abby", "responder": "rick"}
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class ProductionConsole:
    """A running ``reflex run --env prod``: its address and the services behind it."""

    url: str
    database_url: str
    redis_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _app_folder(folder: Path) -> Path:
    """A folder that runs the repository's app: links to its code, copies of what Reflex writes to."""
    for name in ("rxconfig.py", "console", "assets", ".gitignore"):
        (folder / name).symlink_to(REPO_ROOT / name)
    shutil.copytree(REPO_ROOT / "reflex.lock", folder / "reflex.lock")
    (folder / "opspilot.toml").write_text("")
    return folder


def _wait_until_serving(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"reflex run --env prod exited with {server.returncode}:\n{log.read_text()[-4000:]}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=30).close()
            return
        except urllib.error.HTTPError:
            return  # 503 is an answer: the backend is up, a provider is not
        except OSError:
            time.sleep(1)
    pytest.fail(
        f"reflex run --env prod did not answer in {START_TIMEOUT_SECONDS} s:\n{log.read_text()[-4000:]}"
    )


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[ProductionConsole]:
    """The console under ``reflex run --env prod``, on a fresh PostgreSQL database and the test Redis."""
    require(port_open("127.0.0.1", 6379), "Redis is not running on 127.0.0.1:6379")
    folder = _app_folder(tmp_path_factory.mktemp("production"))
    port = _free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPSORCH_", "OPSPILOT_", "REFLEX_")) and name != "ANTHROPIC_API_KEY"
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        OPSPILOT_DATA_DIR=str(folder / "data"),
        OPSPILOT_CONFIG=str(folder / "opspilot.toml"),
        DATABASE_URL=postgres_url,
        REDIS_URL=REDIS_TEST_URL,
        REFLEX_REDIS_URL=REDIS_TEST_URL,
    )
    # The first admin is the one user added without a token (the database is empty); the others with theirs.
    founder = subprocess.run(
        [BIN / "opspilot", "users", "add", "ada", "--role", "admin", "--no-password", "--json"],
        env=env,
        cwd=folder,
        check=True,
        capture_output=True,
    )
    admin_token = json.loads(founder.stdout)["token"]
    for role, username in USERS.items():
        subprocess.run(
            [BIN / "opspilot", "users", "add", username, "--role", role, "--password-stdin"],
            input=f"{PASSWORD}\n".encode(),
            env={**env, "OPSPILOT_TOKEN": admin_token},
            cwd=folder,
            check=True,
            capture_output=True,
        )
    log = folder / "reflex.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [BIN / "reflex", "run", "--env", "prod", "--frontend-port", str(port)],
            cwd=folder,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(url, server, log)
        yield ProductionConsole(url, postgres_url, REDIS_TEST_URL)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def tab_as(browser: Any, production: ProductionConsole) -> Iterator[Callable[[str], Any]]:
    """``tab_as(role)``: a fresh tab on the production console, signed in through its form."""
    contexts: list[Any] = []

    def open_as(role: str) -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=production.url)
        contexts.append(context)
        tab = context.new_page()
        tab.goto("/login", timeout=SIGN_IN_TIMEOUT_MS)
        sign_in(tab, USERS[role])
        return tab

    yield open_as
    for context in contexts:
        context.close()


def test_several_workers_serve_with_state_in_redis_and_data_in_postgres(
    production: ProductionConsole, tab_as: Callable[[str], Any]
) -> None:
    import redis

    rick = tab_as("responder")
    rick.goto("/incidents")
    rick.get_by_test_id("incident-row").first.wait_for(timeout=SIGN_IN_TIMEOUT_MS)
    assert rick.get_by_test_id("incident-row").count() == 25
    screenshot(rick, "production-incidents")

    # A responder's proposed ticket waits for an approver, who approves it from the inbox in another session
    # (likely another worker): the run waiting in rick's worker must hear of it and finish.
    open_panel(rick)
    answer = ask(rick)
    assert states(answer)[-1] == "DONE"
    follow_up = propose_ticket(rick, answer)
    abby = tab_as("approver")
    abby.goto("/approvals")
    abby.get_by_test_id("pending-request").first.wait_for()
    abby.get_by_test_id("inbox-approve").first.click()
    wait_done(follow_up)
    assert "NEEDS_APPROVAL" in states(follow_up)

    state_keys = list(redis.Redis.from_url(production.redis_url).scan_iter(match="*incidents_state*"))
    assert state_keys, "Reflex kept no page state in Redis"
    engine = create_engine(production.database_url)
    try:
        with engine.connect() as conn:
            users = conn.execute(text("SELECT username FROM users ORDER BY username")).scalars().all()
            sessions = conn.execute(text("SELECT count(*) FROM console_sessions")).scalar_one()
            done = conn.execute(text("SELECT count(*) FROM runs WHERE state = 'DONE'")).scalar_one()
    finally:
        engine.dispose()
    assert (users, sessions, done) == (["abby", "ada", "rick"], 2, 2)
