"""The Copilot's tools, all through MCP: OpsPilot's own server in memory, plus every configured foreign server.

Tools are namespaced ``<server>.<tool>`` (``opspilot.search_logs``, ``opsorch.query-incidents``). Servers are
discovered concurrently when a run starts, each under a deadline; one that fails to start or to list its tools
becomes a note, never a crash. Foreign servers are not always spec-perfect (the OpsOrch MCP server declares array
output schemas, which the MCP client refuses on handshake-era connections), so their replies pass through
:class:`TolerantTransport` first: a bad output schema is dropped and its tool kept; a tool that cannot be listed
at all is skipped with a note.

A call never raises for a tool's failure: it comes back as a :class:`ToolOutcome` with ``ok=False`` and the
error text. Reads are retried with backoff; mutations never. Every server has a circuit breaker (``mcp:<server>``,
tripped by calls that cannot reach it), and so has every provider behind our own server (``provider:<capability>``,
tripped by tool errors saying ProviderUnavailable): while a provider's circuit is open, its tools fail fast and the
other capabilities' tools keep working.

A toolbox lives as long as one run, and a source that fails it that way is not asked again in that run: a source
that gave no answer within its timeout (a call that hangs is not retried: that would cost the whole timeout again),
or whose circuit this run found open (the run does not send the probe that would close it later). So a hanging
provider costs a run its timeout once, however many calls the planner makes to it; the others keep answering. A foreign tool that is not read-only runs through CoreClient's mutation
gate, so it needs a person's grant exactly like one of ours, and the grant is spent only when the call succeeds.
The policy decides what a foreign tool is: an ``auto`` rule (or ``read_only = true`` on its server entry) vouches
that an unannotated tool only reads, so it is called like one; a ``denied`` one is not offered at all. A stdio
server gets ``env`` and the variables ``pass_env`` names; a line on its stdout that is not JSON-RPC (a log line)
is skipped with a note instead of ending the session.

Our own server is built once per actor by :class:`OwnServers` (a Copilot keeps one for all its runs); each run
connects to it in memory.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import IO, Any, cast

import anyio
import httpx2
from jsonschema import SchemaError
from jsonschema.validators import validator_for
from mcp import Client
from mcp.client import Transport
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp.types import CallToolResult, TextContent, Tool
from mcp_types import REQUEST_TIMEOUT, JSONRPCResponse, RequestParamsMeta
from mcp_types.methods import validate_server_result
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from pydantic import ValidationError

from copilot.planning import ToolOutcome, ToolRequest, ToolSpec
from copilot.resilience import CircuitBreakers, RetryPolicy, with_retries
from core_client.capabilities import Capability
from core_client.client import CoreClient
from core_client.errors import OpsPilotError, ProviderUnavailable
from core_client.identity import Actor
from core_client.mcp.results import ERROR_META_KEY, MAX_STRING_CHARS, clip, compact_json
from core_client.mcp.server import GRANT_META_KEY, build_server
from core_client.policy import ToolKind
from core_client.settings import McpServerSettings, Settings

OWN_SERVER = "opspilot"
# Where TolerantTransport carries structured content the client's result model cannot hold.
STRUCTURED_META_KEY = "opspilot/structured"
MAX_LIST_PAGES = 50
STDERR_TAIL_CHARS = 300

# The capability whose provider answers each of our own server's tools: its circuit is ``provider:<capability>``.
# Tools missing here (providers list, files, reports) reach no single provider and have no provider circuit.
TOOL_CAPABILITY: dict[str, Capability] = {
    "query_incidents": Capability.INCIDENT,
    "get_incident": Capability.INCIDENT,
    "get_incident_timeline": Capability.INCIDENT,
    "create_incident": Capability.INCIDENT,
    "update_incident": Capability.INCIDENT,
    "append_timeline_note": Capability.INCIDENT,
    "query_alerts": Capability.ALERT,
    "get_alert": Capability.ALERT,
    "search_logs": Capability.LOG,
    "get_log_context": Capability.LOG,
    "compare_log_patterns": Capability.LOG,
    "query_metrics": Capability.METRIC,
    "describe_metrics": Capability.METRIC,
    "detect_metric_anomalies": Capability.METRIC,
    "query_tickets": Capability.TICKET,
    "get_ticket": Capability.TICKET,
    "create_ticket": Capability.TICKET,
    "update_ticket": Capability.TICKET,
    "query_services": Capability.SERVICE,
    "get_service": Capability.SERVICE,
    "get_runbook": Capability.SERVICE,
    "query_teams": Capability.TEAM,
    "get_team": Capability.TEAM,
    "get_oncall": Capability.TEAM,
    "page_oncall": Capability.TEAM,
    "query_deployments": Capability.DEPLOYMENT,
    "get_deployment": Capability.DEPLOYMENT,
    "send_message": Capability.MESSAGING,
}


def provider_circuit(capability: Capability) -> str:
    """The circuit breaker key of the provider serving ``capability``: ``provider:log``."""
    return f"provider:{capability.value}"


log = logging.getLogger(__name__)


@dataclass
class _Server:
    """One MCP server of this toolbox: how to reach it and, once discovered, its live client and tools."""

    name: str
    client: Client
    own: bool
    era: ProtocolEra | None = None
    errlog: IO[str] | None = None
    live: Client | None = None
    specs: list[ToolSpec] = field(default_factory=list)
    lost: str | None = None


class _TransientToolError(Exception):
    """A call failed because its provider was unavailable: worth another try for a read, and a failure of that
    provider's circuit either way."""

    def __init__(self, result: CallToolResult) -> None:
        super().__init__(_text_of(result) or "provider unavailable")
        self.result = result
        body = _structured_of(result)
        self.timed_out = isinstance(body, dict) and body.get("timed_out") is True


class _MutationFailed(Exception):
    """A gated call came back as a tool error: the gate must release the grant, not spend it."""

    def __init__(self, result: CallToolResult) -> None:
        super().__init__(_text_of(result) or "the tool reported an error")
        self.result = result


class Toolbox:
    """Every tool a run may call, and the one way to call them. Open it with :meth:`Toolbox.open`."""

    def __init__(
        self,
        servers: dict[str, _Server],
        *,
        core: CoreClient,
        actor: Actor,
        budget: int,
        breakers: CircuitBreakers,
        retry: RetryPolicy,
        call_timeout: float,
    ) -> None:
        self._servers = servers
        self._core = core
        self._actor = actor
        self._budget = budget
        self._breakers = breakers
        self._retry = retry
        self._call_timeout = call_timeout
        self.specs: list[ToolSpec] = [spec for server in servers.values() for spec in server.specs]
        self._by_name = {spec.name: spec for spec in self.specs}
        # Circuit key -> why that source is not asked again in this run (see the module docstring).
        self._down: dict[str, str] = {}

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        core: CoreClient,
        actor: Actor,
        notes: list[str],
        *,
        breakers: CircuitBreakers | None = None,
        own: OwnServers | None = None,
        retry: RetryPolicy | None = None,
        discovery_timeout: float = 10.0,
        call_timeout: float = 60.0,
    ) -> AsyncIterator[Toolbox]:
        """Start and discover every server concurrently; close them all on exit.

        ``notes`` receives one line per server that could not be used, and per foreign tool tolerated or
        skipped. ``breakers`` default to :meth:`CircuitBreakers.from_settings` (closed again on exit): pass the
        process's own so that circuits outlive one run. ``own`` keeps our server built across runs (one is built
        for this run otherwise); it must be over ``core``.
        """
        own = own or OwnServers(core, keep=1)
        if own.core is not core:
            raise ValueError("the OwnServers passed to Toolbox.open serve another CoreClient")
        async with AsyncExitStack() as resources:
            if breakers is None:
                breakers = CircuitBreakers.from_settings(settings)
                resources.push_async_callback(breakers.aclose)
            own_server = _Server(
                name=OWN_SERVER,
                client=Client(own.server_for(actor), cache=None, read_timeout_seconds=discovery_timeout),
                own=True,
            )
            servers = [own_server] + [
                server
                for config in settings.copilot.mcp_servers
                if (server := _foreign_server(config, settings, notes, discovery_timeout, resources))
                is not None
            ]
            stop = anyio.Event()
            failure: Exception | None = None
            async with anyio.create_task_group() as group:
                settled = [anyio.Event() for _ in servers]
                for server, done in zip(servers, settled, strict=True):
                    group.start_soon(_hold, server, stop, done, discovery_timeout, notes, settings)
                for done in settled:
                    await done.wait()
                try:
                    yield cls(
                        {server.name: server for server in servers if server.live is not None},
                        core=core,
                        actor=actor,
                        budget=settings.mcp_result_budget,
                        breakers=breakers,
                        retry=retry or RetryPolicy(),
                        call_timeout=call_timeout,
                    )
                except Exception as error:  # raised below, so the task group does not wrap it in a group
                    failure = error
                finally:
                    stop.set()
            if failure is not None:
                raise failure

    def spec(self, name: str) -> ToolSpec | None:
        """The tool called ``name`` (namespaced), if this toolbox has it."""
        return self._by_name.get(name)

    def approval_name(self, name: str) -> str:
        """The tool name a grant must be issued for: OpsPilot's own tools by their bare name (the name our
        server's gate checks), foreign tools by their namespaced name (the name the toolbox's gate checks)."""
        spec = self._by_name.get(name)
        if spec is None:
            raise KeyError(f"no tool {name!r} in this toolbox")
        return spec.tool if spec.server == OWN_SERVER else spec.name

    async def call(self, request: ToolRequest, *, call_id: str, grant: str | None = None) -> ToolOutcome:
        """Make one call and say how it went; tool errors, timeouts and refusals come back as ``ok=False``."""
        started = time.perf_counter()
        spec = self._by_name.get(request.tool)
        try:
            if spec is None:
                raise LookupError(f"no tool {request.tool!r}; the tools are listed in ToolSpec.name")
            result = await self._call(spec, request.arguments, grant)
        except Exception as error:  # any failure is the outcome, never the caller's crash
            return ToolOutcome(
                call_id=call_id,
                tool=request.tool,
                arguments=request.arguments,
                ok=False,
                error=_describe(error),
                duration_ms=_elapsed_ms(started),
            )
        text = _bounded_text(_text_of(result), self._budget)
        ok = not result.is_error
        return ToolOutcome(
            call_id=call_id,
            tool=request.tool,
            arguments=request.arguments,
            ok=ok,
            text=text,
            structured=_bounded_structured(_structured_of(result), self._budget),
            error=None if ok else (text or "the tool reported an error without saying why"),
            duration_ms=_elapsed_ms(started),
        )

    async def _call(self, spec: ToolSpec, arguments: dict[str, Any], grant: str | None) -> CallToolResult:
        server = self._servers[spec.server]
        if server.own or spec.kind == "read_only":
            return await self._send(spec, server, arguments, grant)

        # A foreign tool that may change the world: our gate checks the grant, since its server cannot.
        async def act(key: str | None) -> CallToolResult:
            result = await self._send(spec, server, arguments, key)
            if result.is_error:
                raise _MutationFailed(result)
            return result

        try:
            return await self._core.gate.run(
                spec.name,
                arguments,
                actor=self._actor,
                grant=grant,
                environment=None,
                action=act,
                kind=spec.kind,
            )
        except _MutationFailed as failed:
            return failed.result

    async def _send(
        self, spec: ToolSpec, server: _Server, arguments: dict[str, Any], grant: str | None
    ) -> CallToolResult:
        if server.live is None or server.lost is not None:
            raise ConnectionError(f"MCP server {server.name} is gone: {server.lost or 'closed'}")
        client = server.live
        meta = cast(RequestParamsMeta, {GRANT_META_KEY: grant}) if grant else None
        read = spec.kind == "read_only"
        capability = TOOL_CAPABILITY.get(spec.tool) if server.own else None
        server_key = f"mcp:{server.name}"
        source_key = provider_circuit(capability) if capability is not None else server_key
        for key in dict.fromkeys((server_key, source_key)):
            if key in self._down:
                raise ProviderUnavailable(f"{self._down[key]}; not asked again in this run", source=key)

        async def attempt() -> CallToolResult:
            async with self._provider_guard(capability):
                async with self._breakers.guard(server_key):
                    result = await client.call_tool(
                        spec.tool, arguments, read_timeout_seconds=self._call_timeout, meta=meta
                    )
                if (read or capability is not None) and result.is_error and _provider_unavailable(result):
                    raise _TransientToolError(result)
            return result

        try:
            return await with_retries(
                attempt, policy=self._retry, retryable=_transient, what=spec.name, mutation=not read
            )
        except _TransientToolError as exhausted:
            if exhausted.timed_out:
                self._down.setdefault(source_key, f"{source_key} gave no answer within its timeout")
            return exhausted.result
        except ProviderUnavailable as refused:  # a circuit open: this run leaves that source alone
            if refused.source in (server_key, source_key):
                self._down.setdefault(refused.source, refused.message)
            raise
        except (TimeoutError, MCPError) as error:
            if isinstance(error, TimeoutError) or error.code == REQUEST_TIMEOUT:
                self._down.setdefault(
                    server_key, f"MCP server {server.name} gave no answer within {self._call_timeout:g} s"
                )
            raise

    def _provider_guard(self, capability: Capability | None) -> AbstractAsyncContextManager[None]:
        """The circuit of the provider behind a call: only its ProviderUnavailable answers count against it
        (a server that cannot be reached is the ``mcp:`` circuit's business)."""
        if capability is None:
            return nullcontext()
        return self._breakers.guard(
            provider_circuit(capability), counts=lambda error: isinstance(error, _TransientToolError)
        )


class OwnServers:
    """OpsPilot's own MCP server, built once per actor and reused by every run of that actor.

    Building the server (every tool and its schemas) costs far more than connecting to it in memory. A server
    acts as one actor (its mutations are made and audited as that actor), and a run's actor is the Copilot on
    behalf of the run's user and role, so one server per actor serves all of that user's runs, concurrently
    too. Past ``keep`` actors, the least recently used server is let go.
    """

    def __init__(self, core: CoreClient, *, keep: int = 64) -> None:
        if keep < 1:
            raise ValueError("OwnServers needs keep >= 1")
        self.core = core
        self._keep = keep
        self._servers: OrderedDict[tuple[str, str, str, bool], MCPServer] = OrderedDict()

    def server_for(self, actor: Actor) -> MCPServer:
        """Our server acting as ``actor``: built on first use, the same one afterwards."""
        key = (actor.user, actor.role.value, actor.via, actor.copilot)
        server = self._servers.get(key)
        if server is None:
            bound = actor.model_copy()
            server = build_server(self.core, actor=lambda _context: bound)
            self._servers[key] = server
            while len(self._servers) > self._keep:
                self._servers.popitem(last=False)
        else:
            self._servers.move_to_end(key)
        return server


@dataclass
class ProtocolEra:
    """The protocol version a connection negotiated; known once its handshake is done."""

    version: str | None = None

    @property
    def handshake(self) -> bool:
        """Whether this is a handshake-era connection (before 2026-07-28), whose schemas are stricter."""
        return self.version is None or self.version in HANDSHAKE_PROTOCOL_VERSIONS


class TolerantTransport:
    """A foreign server's transport whose replies are made acceptable to the MCP client before it parses them.

    The client validates a whole tools/list reply against the negotiated protocol, so one tool with an array
    output schema (legal from 2026-07-28, refused before) would hide every tool. Here, per tool: an output schema
    the protocol refuses, or that is not valid JSON Schema, is dropped and the tool kept; a tool the listing
    still cannot carry is skipped; each with a note. On a handshake-era connection a tools/call reply whose
    structured content is not an object (refused by the client) carries it under
    ``_meta["opspilot/structured"]`` instead, so the data is not lost.
    """

    def __init__(self, inner: Transport, *, server: str, era: ProtocolEra, notes: list[str]) -> None:
        self._inner = inner
        self._server = server
        self._era = era
        self._notes = notes

    async def __aenter__(self) -> tuple[Any, Any]:
        read, write = await self._inner.__aenter__()
        return _TolerantReader(read, self._tolerate), write

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._inner.__aexit__(*exc_info)

    def _tolerate(self, item: Any) -> Any:
        """The item as the client should see it, or :data:`SKIP` for a stdout line that is not JSON-RPC."""
        if isinstance(item, ValueError):
            # The stdio client hands up each line it cannot parse: a server's own log line on stdout, say.
            self._note(f"skipped a line on its stdout that is not JSON-RPC: {_unparsed_line(item)!r}")
            return SKIP
        if not isinstance(item, SessionMessage) or not isinstance(item.message, JSONRPCResponse):
            return item
        result = item.message.result
        if isinstance(result.get("tools"), list):
            fixed = {**result, "tools": self._listable(result)}
        elif "structuredContent" in result and not isinstance(result["structuredContent"], dict | None):
            if not self._era.handshake:
                return item
            meta = result.get("_meta")
            fixed = {key: value for key, value in result.items() if key != "structuredContent"}
            fixed["_meta"] = {
                **(meta if isinstance(meta, dict) else {}),
                STRUCTURED_META_KEY: result["structuredContent"],
            }
        else:
            return item
        return SessionMessage(
            message=item.message.model_copy(update={"result": fixed}), metadata=item.metadata
        )

    def _listable(self, result: dict[str, Any]) -> list[Any]:
        kept: list[Any] = []
        for index, tool in enumerate(result["tools"]):
            label = repr(tool.get("name")) if isinstance(tool, dict) else f"#{index}"
            if isinstance(tool, dict) and "outputSchema" in tool:
                problem = self._schema_problem(tool["outputSchema"])
                if problem is not None:
                    tool = {key: value for key, value in tool.items() if key != "outputSchema"}
                    self._note(f"tool {label} kept without its output schema ({problem})")
            problem = self._listing_problem(result, tool)
            if problem is not None:
                self._note(f"tool {label} skipped: {problem}")
                continue
            kept.append(tool)
        return kept

    def _schema_problem(self, schema: Any) -> str | None:
        if not isinstance(schema, dict):
            return "it is not a JSON object"
        if self._era.handshake and schema.get("type") != "object":
            return f"root type {schema.get('type')!r}; protocol {self._era.version} requires 'object'"
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as error:
            return f"not valid JSON Schema: {error.message}"
        return None

    def _listing_problem(self, result: dict[str, Any], tool: Any) -> str | None:
        """Why the client would refuse a listing holding this tool, or None (also when the reply's envelope,
        not the tool, is at fault: that failure is the whole server's)."""
        version = self._era.version or HANDSHAKE_PROTOCOL_VERSIONS[-1]
        try:
            validate_server_result("tools/list", version, {**result, "tools": [tool]})
        except ValidationError as error:
            for detail in error.errors():
                if detail["loc"][:1] == ("tools",):
                    where = ".".join(str(part) for part in detail["loc"][2:]) or "the tool"
                    return f"{where}: {detail['msg']}"
        except (KeyError, ValueError):
            return None  # a protocol version this SDK has no surface for: let the client judge
        return None

    def _note(self, text: str) -> None:
        self._notes.append(f"MCP server {self._server}: {text}")


SKIP = object()
"""What :meth:`TolerantTransport._tolerate` returns for an item the client must not see."""
UNPARSED_EXCERPT_CHARS = 120


def _unparsed_line(error: ValueError) -> str:
    """The start of the line a parse error is about (pydantic keeps it as the error's input)."""
    if isinstance(error, ValidationError):
        for detail in error.errors():
            if isinstance(detail.get("input"), str):
                return str(detail["input"])[:UNPARSED_EXCERPT_CHARS]
    return str(error)[:UNPARSED_EXCERPT_CHARS]


class _QuietParseFailures(logging.Filter):
    """Drops the stdio client's traceback for a line it cannot parse: the toolbox notes the line instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to parse JSONRPC message")


_QUIET_PARSE_FAILURES = _QuietParseFailures()


class _TolerantReader:
    """The read side of :class:`TolerantTransport`: every message passes through ``tolerate``."""

    def __init__(self, inner: Any, tolerate: Any) -> None:
        self._inner = inner
        self._tolerate = tolerate

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        while (item := self._tolerate(await self._inner.receive())) is SKIP:
            continue
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> _TolerantReader:
        return self

    async def __anext__(self) -> Any:
        while (item := self._tolerate(await self._inner.__anext__())) is SKIP:
            continue
        return item

    async def __aenter__(self) -> _TolerantReader:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        return await self._inner.__aexit__(*exc_info)


def _foreign_server(
    config: McpServerSettings,
    settings: Settings,
    notes: list[str],
    patience: float,
    resources: AsyncExitStack,
) -> _Server | None:
    if config.name == OWN_SERVER:
        notes.append(
            f"MCP server {config.name} unavailable: the name {OWN_SERVER!r} is OpsPilot's own server"
        )
        return None
    era = ProtocolEra()
    errlog: IO[str] | None = None
    inner: Transport
    if config.command:
        # Adding the same filter object twice keeps one: this is idempotent.
        logging.getLogger("mcp.client.stdio").addFilter(_QUIET_PARSE_FAILURES)
        # The server's stderr goes to a file, so its complaints can explain a failure instead of cluttering ours.
        errlog = resources.enter_context(
            tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115 (the stack closes it)
        )
        parameters = StdioServerParameters(
            command=config.command[0],
            args=config.command[1:],
            env=child_environment(config, settings) or None,
        )
        inner = stdio_client(parameters, errlog=errlog)
    else:
        assert config.url is not None  # McpServerSettings guarantees a command or a URL
        token = config.token.get_secret_value() if config.token is not None else None
        inner = _http_transport(config.url, token, patience)
    transport = TolerantTransport(inner, server=config.name, era=era, notes=notes)
    client = Client(transport, cache=None, read_timeout_seconds=patience)
    return _Server(name=config.name, client=client, own=False, era=era, errlog=errlog)


# Settings a stdio server may be handed by name in ``pass_env``, from OpsPilot's own resolved settings (which may
# have come from opspilot.toml rather than the environment).
_SETTINGS_VARIABLES: dict[str, Callable[[Settings], str | None]] = {
    "OPSORCH_CORE_URL": lambda settings: settings.core_url,
    "OPSORCH_CORE_TOKEN": lambda settings: (
        settings.core_token.get_secret_value() if settings.core_token is not None else None
    ),
}


def child_environment(config: McpServerSettings, settings: Settings) -> dict[str, str]:
    """What a stdio server's process gets over the SDK's minimal environment: the variables ``pass_env`` names
    (``*`` patterns allowed) from ours, then its own ``env``, which wins."""
    passed: dict[str, str] = {}
    for pattern in config.pass_env:
        for name, value in os.environ.items():
            if fnmatchcase(name, pattern):
                passed[name] = value
        for name, read in _SETTINGS_VARIABLES.items():
            setting = read(settings)
            if fnmatchcase(name, pattern) and setting:
                passed.setdefault(name, setting)
    return {**passed, **config.env}


@asynccontextmanager
async def _http_transport(url: str, token: str | None, patience: float) -> AsyncIterator[tuple[Any, Any]]:
    """Streamable HTTP with a bearer token on every request; ``patience`` bounds connecting and writing."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeouts = httpx2.Timeout(patience, read=300.0)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeouts) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


async def _hold(
    server: _Server,
    stop: anyio.Event,
    settled: anyio.Event,
    patience: float,
    notes: list[str],
    settings: Settings,
) -> None:
    """Connect to ``server``, list its tools and keep the connection open until ``stop``.

    Discovery runs under a deadline, lifted once the tools are listed; any failure becomes a note.
    """
    failure: str | None = None
    with anyio.CancelScope() as scope:
        scope.deadline = anyio.current_time() + patience
        try:
            async with server.client as client:
                if server.era is not None:
                    server.era.version = client.protocol_version
                server.specs = _offered(server, await _discover(server, client), settings, notes)
                scope.deadline = math.inf
                server.live = client
                settled.set()
                await stop.wait()
        except Exception as error:  # one server's failure must not touch the others
            failure = _describe(error)
    if scope.cancelled_caught and not stop.is_set():
        failure = f"no answer within {patience:g} s"
    if failure is not None and not stop.is_set():
        failure += _stderr_tail(server.errlog)
        if server.live is None:
            notes.append(f"MCP server {server.name} unavailable: {failure}")
        else:
            server.lost = failure
            notes.append(f"MCP server {server.name} lost: {failure}")
        log.warning("MCP server %s: %s", server.name, failure)
    settled.set()


async def _discover(server: _Server, client: Client) -> list[ToolSpec]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return [
        ToolSpec(
            name=f"{server.name}.{tool.name}",
            server=server.name,
            tool=tool.name,
            description=tool.description or tool.title or "",
            input_schema=dict(tool.input_schema),
            kind=_kind(tool, own=server.own),
        )
        for tool in tools
    ]


def _offered(server: _Server, specs: list[ToolSpec], settings: Settings, notes: list[str]) -> list[ToolSpec]:
    """A foreign server's tools as the operator's settings make them: read-only where the policy vouches for an
    unannotated tool, mapped to the capabilities its entry names, and without the tools the policy denies."""
    if server.own:
        return specs
    policy = settings.policy
    config = next((c for c in settings.copilot.mcp_servers if c.name == server.name), None)
    mapped = {tool: capability for capability, tool in (config.capabilities if config else {}).items()}
    offered: list[ToolSpec] = []
    for spec in specs:
        if policy.decide(spec.name, kind=spec.kind).mode == "denied":
            notes.append(f"MCP server {server.name}: tool {spec.tool!r} not offered (the policy denies it)")
            continue
        update: dict[str, Any] = {"capability": mapped.pop(spec.tool, None)}
        if spec.kind == "unannotated" and policy.vouched_read_only(spec.name):
            update["kind"] = "read_only"
        offered.append(spec.model_copy(update=update))
    for tool, capability in sorted(mapped.items()):
        notes.append(f"MCP server {server.name}: no tool {tool!r} for capability {capability!r}")
    return offered


def _kind(tool: Tool, *, own: bool) -> ToolKind:
    """read_only when the tool says so; destructive when it says so, or says it is not read-only (the MCP
    default for destructiveHint), or is one of our mutations; a foreign tool that says nothing is unannotated."""
    hints = tool.annotations
    if hints is not None and hints.read_only_hint is True:
        return "read_only"
    if own or (
        hints is not None and (hints.destructive_hint is not None or hints.read_only_hint is not None)
    ):
        return "destructive"
    return "unannotated"


def _transient(error: BaseException) -> bool:
    """Worth retrying a read: the provider or server failed quickly. A call that hung until its timeout is not:
    another try would cost the whole timeout again."""
    if isinstance(error, _TransientToolError):
        return not error.timed_out
    return isinstance(error, httpx2.TransportError) and not isinstance(error, httpx2.TimeoutException)


def _provider_unavailable(result: CallToolResult) -> bool:
    body = _structured_of(result)
    return isinstance(body, dict) and body.get("error") == "ProviderUnavailable"


def _text_of(result: CallToolResult) -> str:
    parts = [
        block.text if isinstance(block, TextContent) else f"[{block.type} content]"
        for block in result.content
    ]
    return "\n".join(parts)


def _structured_of(result: CallToolResult) -> Any:
    """The structured content, wherever it travelled: our server puts a typed error in ``_meta``."""
    if result.structured_content is not None:
        return result.structured_content
    meta = result.meta or {}
    return meta.get(ERROR_META_KEY) if result.is_error else meta.get(STRUCTURED_META_KEY)


def _bounded_text(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    return text[:budget] + f"… [{len(text) - budget} more characters cut]"


def _bounded_structured(value: Any, budget: int) -> Any:
    """``value`` within ``budget`` bytes of JSON: strings clipped as our server clips them, then the longest
    lists halved (whole items beat many mangled ones), then strings clipped harder; None if nothing fits."""
    if value is None or _size(value) <= budget:
        return value
    limit = MAX_STRING_CHARS
    data = clip(value, limit)
    while _size(data) > budget and (longest := max(_lists(data), key=_size, default=None)) is not None:
        del longest[(len(longest) + 1) // 2 :]
    while _size(data) > budget and limit > 50:
        limit //= 2
        data = clip(data, limit)
    return data if _size(data) <= budget else None


def _lists(value: Any) -> Iterator[list[Any]]:
    """Every list inside ``value`` with more than one item."""
    if isinstance(value, list):
        if len(value) > 1:
            yield value
        for item in value:
            yield from _lists(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _lists(item)


def _size(value: Any) -> int:
    return len(compact_json(value).encode())


def _describe(error: BaseException) -> str:
    """A one-line reason a person can act on; an exception group is described by its first leaf."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, MCPError):
        return f"{error.message} (MCP error {error.code})"
    if isinstance(error, OpsPilotError):
        said = error.message if error.source and error.source in error.message else str(error)
        return f"{type(error).__name__}: {said}"
    if isinstance(error, FileNotFoundError):
        return f"cannot start {error.filename or 'the command'}: no such file"
    text = str(error) or type(error).__name__
    return (
        text
        if isinstance(error, OSError | LookupError | ConnectionError)
        else f"{type(error).__name__}: {text}"
    )


def _stderr_tail(errlog: IO[str] | None) -> str:
    if errlog is None:
        return ""
    try:
        errlog.seek(0)
        lines = [line.strip() for line in errlog.read().splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return f"; stderr: {lines[-1][-STDERR_TAIL_CHARS:]}" if lines else ""


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
