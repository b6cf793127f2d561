"""The slack provider through CoreClient, against a loopback Slack Web API."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from saas_fakes.server import LoopbackServer
from saas_fakes.slack import SlackFake

from core_client.client import CoreClient
from core_client.clock import SystemClock
from core_client.errors import BadQuery, NotFound, OpsPilotError, ProviderUnavailable
from core_client.gate import MutationGate
from core_client.identity import Actor, Role
from core_client.notices import notify_approvers
from core_client.policy import APPROVER_NOTICE
from core_client.schemas import Message, MessageBlock

from .conftest import GRANT_ID

TOKEN = "xoxb-secret-1234-abcd"


@pytest.fixture
def fake() -> SlackFake:
    return SlackFake(TOKEN)


@pytest.fixture
def server(loopback: LoopbackServer, fake: SlackFake) -> Iterator[LoopbackServer]:
    loopback.reset(fake.handle)
    loopback.contract = None
    yield loopback
    assert not loopback.violations, "\n".join(loopback.violations)


@pytest.fixture
def core(make_core: Callable[..., CoreClient], server: LoopbackServer) -> CoreClient:
    config = {"bot_token": TOKEN, "base_url": server.url, "workspace_url": "https://acme.slack.com"}
    return make_core("slack", config, "messaging")


async def test_send_builds_blocks_and_threads(core: CoreClient, fake: SlackFake, actor: Actor) -> None:
    message = Message(
        channel="#incidents",
        body="Checkout is down",
        thread_ref="1740800000.000100",
        blocks=[
            MessageBlock(type="header", text="SEV1: checkout"),
            MessageBlock(
                type="section", text="*502s* since 10:02", fields=["*Service*\ncheckout", "*Owner*\npayments"]
            ),
            MessageBlock(type="divider"),
        ],
    )
    result = await core.messaging.send(message, actor=actor)
    posted = fake.posted[0]
    assert posted["blocks"] == [
        {"type": "header", "text": {"type": "plain_text", "text": "SEV1: checkout", "emoji": True}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*502s* since 10:02"},
            "fields": [
                {"type": "mrkdwn", "text": "*Service*\ncheckout"},
                {"type": "mrkdwn", "text": "*Owner*\npayments"},
            ],
        },
        {"type": "divider"},
    ]
    assert posted["text"] == "Checkout is down" and posted["thread_ts"] == "1740800000.000100"
    assert posted["metadata"]["event_payload"] == {"grant": GRANT_ID}
    assert (result.id, result.channel) == ("1740800001.000100", "C0INCIDENT")
    assert result.url == "https://acme.slack.com/archives/C0INCIDENT/p1740800001000100"
    assert result.sent_at == datetime.fromtimestamp(1740800001.0001, tz=UTC)


async def test_ok_false_errors_are_typed(
    make_core: Callable[..., CoreClient], core: CoreClient, server: LoopbackServer, actor: Actor
) -> None:
    with pytest.raises(NotFound, match="channel_not_found"):
        await core.messaging.send(Message(channel="#nowhere", body="x"), actor=actor)
    with pytest.raises(BadQuery, match="a header needs"):
        await core.messaging.send(
            Message(channel="#incidents", body="x", blocks=[MessageBlock(type="header")]), actor=actor
        )
    wrong = make_core("slack", {"bot_token": "xoxb-wrong", "base_url": server.url}, "messaging")
    with pytest.raises(ProviderUnavailable, match="credentials refused \\(invalid_auth\\)"):
        await wrong.messaging.send(Message(channel="#incidents", body="x"), actor=actor)
    report = await wrong.health()
    assert report.providers[0].status == "down" and "invalid_auth" in report.providers[0].message


@pytest.mark.parametrize("status", [401, 403])
async def test_http_auth_failures(
    core: CoreClient, server: LoopbackServer, actor: Actor, status: int
) -> None:
    server.fail_next(status, {"ok": False, "error": "not_authed"})
    with pytest.raises(ProviderUnavailable, match=f"credentials refused \\({status}\\)"):
        await core.messaging.send(Message(channel="#incidents", body="x"), actor=actor)


async def test_a_rate_limited_post_is_not_retried_and_says_when_to_retry(
    core: CoreClient, server: LoopbackServer, fake: SlackFake, actor: Actor
) -> None:
    server.fail_next(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"})
    with pytest.raises(ProviderUnavailable, match="retry after 30 s"):
        await core.messaging.send(Message(channel="#incidents", body="x"), actor=actor)
    server.fail_next(500)
    with pytest.raises(ProviderUnavailable, match="500"):
        await core.messaging.send(Message(channel="#incidents", body="x"), actor=actor)
    assert len(server.requests_to("POST", "/chat.postMessage")) == 2 and fake.posted == []


async def test_health_retries_reads_and_uses_auth_test(core: CoreClient, server: LoopbackServer) -> None:
    server.fail_next(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"})
    server.fail_next(502)
    report = await core.health()
    assert report.status == "ok" and "Acme" in report.providers[0].message
    assert [e.status for e in server.requests_to("POST", "/auth.test")] == [429, 502, 200]


async def test_the_token_is_never_logged_nor_in_an_error(
    core: CoreClient, server: LoopbackServer, actor: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[OpsPilotError] = []
    for status in (401, 429, 500):
        server.fail_next(status, {"ok": False, "error": "x"})
        try:
            await core.messaging.send(Message(channel="#incidents", body="x"), actor=actor)
        except OpsPilotError as exc:
            seen.append(exc)
    assert len(seen) == 3
    texts = (
        [str(e) for e in seen]
        + [r.getMessage() for r in caplog.records]
        + [str(r.args) for r in caplog.records]
    )
    assert all(TOKEN not in t for t in texts)


async def test_approvers_hear_of_a_request_in_slack_once_and_a_failed_notice_is_audited(
    make_core: Callable[..., CoreClient],
    server: LoopbackServer,
    fake: SlackFake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPSPILOT_APPROVER_CHANNEL", "#incidents")
    core = make_core("slack", {"bot_token": TOKEN, "base_url": server.url}, "messaging")
    # The real gate (policy, audit) instead of the stand-in that approves everything.
    core.gate = MutationGate.from_settings(core.settings, clock=SystemClock())
    message = {"message": {"channel": "#incidents", "body": "orders-api <!here> recovering"}}
    asker = Actor.copilot_for("rita", Role.RESPONDER)
    filed = core.gate.approvals.file(
        "send_message", message, requester=asker, evidence=[], risk="low", environment=None
    )

    sent = await notify_approvers(core, filed.request)

    assert sent is not None and sent.channel == "C0INCIDENT"
    [posted] = fake.posted
    url = f"{core.settings.console_url}/approvals/{filed.request.id}"
    # chat.postMessage with the title and the link as its text: no blocks, nothing of the message itself.
    assert posted == {"channel": "#incidents", "text": f"Approval needed: Post a message to #incidents {url}"}
    assert [e.action for e in core.gate.audit.list(tool=APPROVER_NOTICE).items] == ["executed"]

    monkeypatch.setattr(core.settings, "approver_channel", "#nowhere")
    assert await notify_approvers(core, filed.request) is None  # Slack said channel_not_found
    assert [e.action for e in core.gate.audit.list(tool=APPROVER_NOTICE).items] == ["failed", "executed"]
