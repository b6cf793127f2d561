"""Markdown and links from data: no HTML, only http(s) and the console's own paths.

The browser's URL rule is the JavaScript function the component hands react-markdown, run here in Node over the
same hostile URLs as the Python rule; the component's compiled props show the raw-HTML plugin is not there. The
Chromium test (tests/e2e) renders hostile text through the pages themselves.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from console.backend.display import safe_href
from console.components.markdown import _URL_RULE, markdown_body
from tests.conftest import require

SAFE = [
    "https://runbooks.example.com/checkout#db",
    "http://grafana.internal:3000/d/abc",
    "/incidents/INC-1",
    "/logs?q=timeout&service=checkout",
]
HOSTILE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "javascript&#58;alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "//evil.example/steal",
    "/\\evil.example/steal",
    "file:///etc/passwd",
    "mailto:someone@example.com",
    "relative/path",
]


@pytest.mark.parametrize("url", SAFE)
def test_http_and_own_paths_stay_links(url: str) -> None:
    assert safe_href(url) == url


@pytest.mark.parametrize("url", HOSTILE)
def test_any_other_link_is_dropped(url: str) -> None:
    assert safe_href(url) == ""


def test_the_browser_rule_agrees_with_the_python_rule() -> None:
    node = shutil.which("node")
    require(node is not None, "node is not installed")
    script = (
        f"const rule = {_URL_RULE._js_expr};\n"
        f"const urls = {json.dumps(SAFE + HOSTILE)};\n"
        "console.log(JSON.stringify(urls.map((url) => [rule(url, 'href'), rule(url, 'src')])));"
    )
    out = subprocess.run([str(node), "-e", script], capture_output=True, text=True, timeout=30, check=True)
    results = json.loads(out.stdout)
    assert [href for href, _ in results] == SAFE + [None] * len(HOSTILE)
    # Images load nothing, whatever their address: no src at all.
    assert {src for _, src in results} == {None}


def test_the_component_renders_no_raw_html_and_applies_the_rule() -> None:
    code = str(markdown_body("<script>alert(1)</script>"))
    assert "rehypeRaw" not in code and "rehype-raw" not in code
    assert "urlTransform" in code and _URL_RULE._js_expr in code
