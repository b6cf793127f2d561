"""No credential of a SaaS provider leaks: not into a log record (httpx's included), an error, its to_dict(), a health
report, nor a row of the audit trail or of the approvals, whatever reads, approved writes and failures happen.

Every provider is configured with a distinctive secret and driven against its loopback fake through a CoreClient
whose mutation gate is the real one (grants from the approval book, audit rows in the settings' database).
"""

from __future__ import annotations

import base64
import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from saas_fakes.elasticsearch_fake import ElasticsearchFake, error_reply
from saas_fakes.jira import JiraFake
from saas_fakes.loghub_corpus import BASE, load_corpus
from saas_fakes.loki_fake import LokiFake, text_reply
from saas_fakes.pagerduty import PagerDutyFake, error
from saas_fakes.server import LoopbackServer
from saas_fakes.slack import SlackFake

from core_client.approvals import ApprovalBook
from core_client.capabilities import Capability
from core_client.client import CoreClient, LoadedProvider
from core_client.clock import SystemClock
from core_client.errors import ConfigurationError, OpsPilotError
from core_client.gate import MutationGate
from core_client.identity import Actor, Role
from core_client.mutations import CreateIncidentArgs, CreateTicketArgs, SendMessageArgs
from core_client.registry import load_provider
from core_client.schemas import (
    CreateIncidentInput,
    CreateTicketInput,
    IncidentQuery,
    LogQuery,
    Message,
    TicketQuery,
)
from core_client.settings import load_settings

PAGERDUTY_KEY = "pd-SECRET-u7Rk2Qz9"
JIRA_EMAIL = "bot@acme.test"
JIRA_TOKEN = "jira-SECRET-ATATT3xQ"
SLACK_TOKEN = "xoxb-SECRET-5501-aZ"
LOKI_TOKEN = "loki-SECRET-Gw8Jd3"
ES_KEY = "es-SECRET-VnVhQ2ZHY0JD"
SECRETS = [PAGERDUTY_KEY, JIRA_TOKEN, SLACK_TOKEN, LOKI_TOKEN, ES_KEY]
COPILOT = Actor.copilot_for("alice", Role.RESPONDER)
APPROVER = Actor(user="bob", role=Role.APPROVER)
WINDOW = LogQuery(start=BASE, end=BASE.replace(day=13), limit=20)
FAKES = ("pagerduty", "jira", "slack", "loki", "elasticsearch")
AUTHORIZATION = {
    "pagerduty": f"Token token={PAGERDUTY_KEY}",
    "jira": "Basic " + base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode(),
    "slack": f"Bearer {SLACK_TOKEN}",
    "loki": f"Bearer {LOKI_TOKEN}",
    "elasticsearch": f"ApiKey {ES_KEY}",
}


def forms(secret: str) -> list[str]:
    """A secret as it could leak: itself, and inside a Basic credential."""
    encoded = [base64.b64encode(f"{user}:{secret}".encode()).decode() for user in (JIRA_EMAIL, "")]
    return [secret, *encoded]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, LoopbackServer]]:
    started = {name: LoopbackServer(lambda ex: None).start() for name in FAKES}  # type: ignore[arg-type,return-value]
    yield started
    for server in started.values():
        server.stop()


@pytest.fixture
def fakes(servers: dict[str, LoopbackServer], loghub_dir: Path) -> dict[str, Any]:
    corpus = load_corpus(loghub_dir)
    made: dict[str, Any] = {
        "pagerduty": PagerDutyFake.seeded(PAGERDUTY_KEY),
        "jira": JiraFake.seeded(JIRA_EMAIL, JIRA_TOKEN),
        "slack": SlackFake(SLACK_TOKEN),
        "loki": LokiFake.seeded(corpus, tenant="acme", token=LOKI_TOKEN),
        "elasticsearch": ElasticsearchFake.seeded(corpus, api_key=ES_KEY),
    }
    for name, fake in made.items():
        servers[name].reset(fake.handle)
        servers[name].contract = None
    return made


def configure(monkeypatch: pytest.MonkeyPatch, servers: dict[str, LoopbackServer], log: str) -> None:
    url = {name: server.url for name, server in servers.items()}
    choices: dict[str, tuple[str, dict[str, Any]]] = {
        "incident": (
            "pagerduty",
            {"api_key": PAGERDUTY_KEY, "base_url": url["pagerduty"], "from_email": "ops@acme.test"},
        ),
        "ticket": (
            "jira",
            {"site": url["jira"], "email": JIRA_EMAIL, "api_token": JIRA_TOKEN, "project": "OPS"},
        ),
        "messaging": ("slack", {"bot_token": SLACK_TOKEN, "base_url": url["slack"]}),
        "log": (
            (log, {"url": url["loki"], "tenant": "acme", "bearer_token": LOKI_TOKEN})
            if log == "loki"
            else (log, {"url": url["elasticsearch"], "api_key": ES_KEY})
        ),
    }
    for cap, (name, config) in choices.items():
        monkeypatch.setenv(f"OPSORCH_{cap.upper()}_PROVIDER", name)
        monkeypatch.setenv(f"OPSORCH_{cap.upper()}_CONFIG", json.dumps(config))


def build_core(monkeypatch: pytest.MonkeyPatch, servers: dict[str, LoopbackServer], log: str) -> CoreClient:
    """A CoreClient over the four capabilities, with the real gate over the settings' (SQLite) database."""
    configure(monkeypatch, servers, log)
    settings = load_settings()
    clock = SystemClock()
    shared: dict[str, Any] = {}
    loaded = {}
    for cap in (Capability.INCIDENT, Capability.TICKET, Capability.MESSAGING, Capability.LOG):
        choice = settings.providers[cap]
        instance = load_provider(cap, choice, settings=settings, clock=clock, shared=shared)
        loaded[cap] = LoadedProvider(
            capability=cap, name=choice.name, instance=instance, timeout=choice.timeout
        )
    return CoreClient(
        loaded, gate=MutationGate.from_settings(settings, clock=clock), clock=clock, settings=settings
    )


class Evidence:
    """Everything a secret could leak into: errors, and the texts the test collects."""

    def __init__(self) -> None:
        self.errors: list[OpsPilotError] = []
        self.texts: list[str] = []

    async def attempt(self, call: Awaitable[Any]) -> Any:
        try:
            result = await call
        except OpsPilotError as exc:
            self.errors.append(exc)
            return None
        self.texts.append(result.model_dump_json() if hasattr(result, "model_dump_json") else repr(result))
        return result

    def error_texts(self) -> list[str]:
        texts = []
        for exc in self.errors:
            texts += [
                str(exc),
                repr(exc),
                json.dumps(exc.to_dict()),
                "".join(traceback.format_exception(exc)),
            ]
        return texts


def grant_for(book: ApprovalBook, tool: str, arguments: Any) -> str:
    request = book.request(tool, arguments, requester=COPILOT, evidence=[], risk="low", environment=None)
    book.approve(request.id, approver=APPROVER)
    return book.grant_id_for(request.id, COPILOT).id


async def drive_writes(core: CoreClient, servers: dict[str, LoopbackServer], evidence: Evidence) -> None:
    """Each write: refused credentials, then a server error (the grant is released after each failure), until
    it succeeds."""
    book = core.gate.approvals
    incident = CreateIncidentInput(title="Checkout 502s", service="checkout")
    ticket = CreateTicketInput(title="Investigate checkout 502s", description="since **10:02**")
    message = Message(channel="#incidents", body="Checkout is down")
    writes: list[tuple[str, str, Callable[[str], Awaitable[Any]]]] = [
        (
            "pagerduty",
            grant_for(book, "create_incident", CreateIncidentArgs(incident=incident)),
            lambda g: core.incidents.create(incident, actor=COPILOT, grant=g),
        ),
        (
            "jira",
            grant_for(book, "create_ticket", CreateTicketArgs(ticket=ticket)),
            lambda g: core.tickets.create(ticket, actor=COPILOT, grant=g),
        ),
        (
            "slack",
            grant_for(book, "send_message", SendMessageArgs(message=message)),
            lambda g: core.messaging.send(message, actor=COPILOT, grant=g),
        ),
    ]
    for name, grant, write in writes:
        for status in (401, 500):
            servers[name].fail_next(status, {"error": "failed"})
            if await evidence.attempt(write(grant)) is not None:
                break  # the failure hit a read before the write, and the read was retried
        else:
            assert await evidence.attempt(write(grant)) is not None, f"{name}: {evidence.errors[-1]}"


async def drive_reads(
    core: CoreClient, servers: dict[str, LoopbackServer], log: str, evidence: Evidence
) -> None:
    """Reads that succeed, are refused (401, 403), and fail for good (500 until the retries run out)."""
    refusals = {
        "pagerduty": error(401, "Unauthorized", 2006).body,
        "jira": {"errorMessages": ["Client must be authenticated"], "errors": {}},
        "loki": text_reply(401, "Unauthorized").body,
        "elasticsearch": error_reply(401, "security_exception", "unable to authenticate").body,
    }
    reads: dict[str, Callable[[], Awaitable[Any]]] = {
        "pagerduty": lambda: core.incidents.query(IncidentQuery(limit=5)),
        "jira": lambda: core.tickets.query(TicketQuery(limit=5)),
        log: lambda: core.logs.query(WINDOW),
    }
    for name, read in reads.items():
        assert await evidence.attempt(read()) is not None
        for status in (401, 403):
            servers[name].fail_next(status, refusals[name])
            await evidence.attempt(read())
        servers[name].fail_next(500, refusals[name], times=4)
        await evidence.attempt(read())
    page = await core.logs.query(WINDOW)
    await evidence.attempt(core.logs.context(page.items[0].id, before=2, after=2))
    await evidence.attempt(core.health())
    servers[log].fail_next(401, refusals[log])
    await evidence.attempt(core.health())


@pytest.mark.parametrize("log", ["loki", "elasticsearch"])
async def test_no_secret_reaches_logs_errors_health_or_the_audit_trail(
    monkeypatch: pytest.MonkeyPatch,
    servers: dict[str, LoopbackServer],
    fakes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    log: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "adapters", "core_client"):
        caplog.set_level(logging.DEBUG, logger=name)
    core = build_core(monkeypatch, servers, log)
    evidence = Evidence()
    try:
        await drive_reads(core, servers, log, evidence)
        await drive_writes(core, servers, evidence)
    finally:
        await core.aclose()

    book = core.gate.approvals
    audit = book.audit.list(limit=1000).items
    requests = book.list(limit=1000).items
    assert {e.action for e in audit} >= {"failed", "executed"} and len(requests) == 3
    assert len(evidence.errors) >= 12
    assert any(r.name == "httpx" for r in caplog.records), "httpx's request log was captured"
    texts = [
        caplog.text,
        *evidence.texts,
        *evidence.error_texts(),
        *(e.model_dump_json() for e in audit),
        *(r.model_dump_json() for r in requests),
    ]
    for record in caplog.records:
        texts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    blob = "\n".join(texts)
    leaked = [secret for secret in SECRETS for form in forms(secret) if form in blob]
    assert leaked == [], f"secrets leaked: {leaked}"
    # Each credential was sent, and only to its own provider.
    for name in ("pagerduty", "jira", "slack", log):
        assert {ex.headers.get("authorization") for ex in servers[name].exchanges} == {AUTHORIZATION[name]}


def test_configuration_errors_do_not_echo_secrets(
    monkeypatch: pytest.MonkeyPatch, servers: dict[str, LoopbackServer]
) -> None:
    broken = {
        "loki": {"url": "not-a-url", "bearer_token": LOKI_TOKEN, "tenant_id": LOKI_TOKEN},
        "elasticsearch": {
            "url": "http://es:9200",
            "api_key": ES_KEY,
            "basic_auth": {"username": "e", "password": ES_KEY},
        },
        "pagerduty": {"api_key": PAGERDUTY_KEY, "base_url": "ftp://pd", "token": PAGERDUTY_KEY},
        "jira": {
            "site": "https://x",
            "email": JIRA_EMAIL,
            "api_token": JIRA_TOKEN,
            "project": "lower",
            "apiToken": JIRA_TOKEN,
        },
        "slack": {"bot_token": SLACK_TOKEN, "base_url": "slack.com", "token": SLACK_TOKEN},
    }
    capability = {
        "loki": "log",
        "elasticsearch": "log",
        "pagerduty": "incident",
        "jira": "ticket",
        "slack": "messaging",
    }
    messages = []
    for name, config in broken.items():
        cap = capability[name]
        monkeypatch.setenv(f"OPSORCH_{cap.upper()}_PROVIDER", name)
        monkeypatch.setenv(f"OPSORCH_{cap.upper()}_CONFIG", json.dumps(config))
        settings = load_settings()
        with pytest.raises(ConfigurationError) as caught:
            load_provider(
                Capability(cap),
                settings.providers[Capability(cap)],
                settings=settings,
                clock=SystemClock(),
                shared={},
            )
        messages += [str(caught.value), json.dumps(caught.value.to_dict())]
    blob = "\n".join(messages)
    assert "OPSORCH_LOG_CONFIG" in blob and "url" in blob
    assert [secret for secret in SECRETS if secret in blob] == []
