"""Bearer tokens without OAuth: no metadata naming an authorization server that does not exist, 401s that say how
to get a token, and a standard client (the MCP Inspector) connecting over HTTP with the token it was given."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from core_client.users import UserDirectory
from tests.conftest import require, require_binary
from tests.mcp.test_http import initialize, mcp_url  # noqa: F401  (mcp_url is a fixture)
from tests.mcp.test_inspector import INSPECTOR


def test_no_oauth_metadata_is_advertised(mcp_url: str) -> None:  # noqa: F811
    base = mcp_url.removesuffix("/mcp")
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        assert httpx.get(base + path, timeout=30).status_code == 404
    challenge = initialize(mcp_url).headers["www-authenticate"]
    # RFC 9728: resource_metadata would send clients looking for an authorization server.
    assert challenge.startswith("Bearer") and "resource_metadata" not in challenge


def test_a_401_says_how_to_get_a_token(mcp_url: str) -> None:  # noqa: F811
    for headers in ({}, {"Authorization": "Bearer opspilot_000000000000_guess"}):
        response = initialize(mcp_url, **headers)
        assert response.status_code == 401
        said = response.json()
        assert said["error"] == "invalid_token"
        assert "opspilot users token" in said["error_description"]
        assert "opspilot users token" in response.headers["www-authenticate"]


def test_the_inspector_connects_over_http_with_a_bearer_token(
    mcp_url: str,  # noqa: F811
    people: UserDirectory,
    tmp_path: Path,
) -> None:
    require_binary("node")
    require(INSPECTOR.exists(), f"the MCP Inspector is not installed at {INSPECTOR} (make inspector)")
    token = people.issue_token("alice", "inspector")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [
            str(INSPECTOR),
            "--cli",
            mcp_url,
            "--transport",
            "http",
            "--header",
            f"Authorization: Bearer {token}",
            "--method",
            "tools/list",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tools = {tool["name"] for tool in json.loads(done.stdout)["tools"]}
    assert {"query_incidents", "get_service"} <= tools
