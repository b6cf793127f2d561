"""OpsPilot's settings: one pydantic-settings model, environment over ``opspilot.toml`` over defaults.

Providers are chosen per capability the OpsOrch way: ``OPSORCH_<CAP>_PROVIDER`` names a provider and
``OPSORCH_<CAP>_CONFIG`` hands it a JSON object (``OPSORCH_<CAP>_TIMEOUT`` sets its timeout in seconds).
``demo`` serves every capability nobody chose, or ``opsorch`` (the remote OpsOrch Core) when ``OPSORCH_CORE_URL``
is set. Anything that cannot work is a ``ConfigurationError`` at start-up that names the variable or key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core_client.capabilities import Capability
from core_client.errors import ConfigurationError
from core_client.policy import APPROVER_NOTICE, Policy, PolicyRule

CONFIG_FILE_ENV = "OPSPILOT_CONFIG"
DEFAULT_CONFIG_FILE = "opspilot.toml"


class ProviderChoice(BaseModel):
    """Which provider serves one capability, with its configuration and where each came from."""

    name: str = "demo"
    config: dict[str, Any] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0)
    name_source: str = ""
    config_source: str = ""


# What a foreign MCP server's tool may stand in for (``capabilities = {logs = "query-logs"}``): OpsPilot's
# capabilities, plus the optional abilities a provider may lack.
MAPPABLE_CAPABILITIES = frozenset({*(cap.value for cap in Capability), "runbook", "oncall"})


class McpServerSettings(BaseModel):
    """Another MCP server whose tools the Copilot may use: a stdio command, or an HTTP URL with a token.

    - ``env``: variables for a stdio server's process, over a minimal environment (PATH, HOME...): the child
      does not inherit OpsPilot's environment. ``pass_env`` names variables (or ``*`` patterns) to copy from it;
      ``OPSORCH_CORE_URL`` and ``OPSORCH_CORE_TOKEN`` are taken from OpsPilot's own settings when named, so a
      server speaking to the same OpsOrch Core gets the address and token OpsPilot uses.
    - ``read_only = true``: the operator vouches that every tool of this server only reads, so the Copilot calls
      them without a person's approval. It is shorthand for the policy rule ``{tool = "<name>.*", mode = "auto"}``;
      rules in ``[policy]`` can say the same per tool, or deny one.
    - ``capabilities``: which of its tools serve a capability (``{log = "query-logs", runbook = "get-runbook"}``),
      so a planner can use it where OpsPilot's own provider lacks that capability.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    command: list[str] = Field(default_factory=list)
    url: str | None = None
    token: SecretStr | None = None
    env: dict[str, str] = Field(default_factory=dict)
    pass_env: list[str] = Field(default_factory=list)
    read_only: bool = False
    capabilities: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if bool(self.command) == bool(self.url):
            raise ValueError(f"MCP server {self.name!r} needs exactly one of 'command' or 'url'")
        if self.pass_env and not self.command:
            raise ValueError(f"MCP server {self.name!r}: 'pass_env' is for stdio servers ('command')")
        return self

    @field_validator("capabilities")
    @classmethod
    def _known_capabilities(cls, value: dict[str, str]) -> dict[str, str]:
        mapped: dict[str, str] = {}
        for key, tool in value.items():
            name = key.strip().lower().replace("-", "").removesuffix("s")
            if name not in MAPPABLE_CAPABILITIES:
                known = ", ".join(sorted(MAPPABLE_CAPABILITIES))
                raise ValueError(f"unknown capability {key!r} in 'capabilities' (known: {known})")
            if not tool.strip():
                raise ValueError(f"capability {key!r} maps to no tool")
            mapped[name] = tool.strip()
        return mapped


class DemoSettings(BaseModel):
    scenario: str | None = None
    seed: int = 1
    scale: float = Field(default=1.0, gt=0)


class CopilotSettings(BaseModel):
    planner: Literal["auto", "offline", "claude"] = "auto"
    model: str = "claude-sonnet-4-5"
    max_steps: int = Field(default=24, gt=0)
    max_seconds: float = Field(default=120.0, gt=0)
    # A run belongs to the worker renewing its lease (every third of it); a dead worker's run is resumed elsewhere
    # once its lease lapses. Each process's sweep also looks for such runs and overdue approvals this often.
    lease_seconds: float = Field(default=30.0, gt=0)
    sweep_seconds: float = Field(default=30.0, gt=0)
    mcp_servers: list[McpServerSettings] = Field(default_factory=list)


class _OpsOrchProviderSource(PydanticBaseSettingsSource):
    """Reads ``OPSORCH_<CAP>_PROVIDER``, ``_CONFIG`` and ``_TIMEOUT`` into ``providers``."""

    SUFFIXES = ("_PROVIDER", "_CONFIG", "_TIMEOUT", "_PLUGIN")
    NOT_CAPABILITIES = frozenset({"CORE", "BEARER"})

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        providers: dict[str, dict[str, Any]] = {}
        known = {cap.value.upper(): cap for cap in Capability}
        for variable, raw in sorted(os.environ.items()):
            if not variable.startswith("OPSORCH_"):
                continue
            suffix = next((s for s in self.SUFFIXES if variable.endswith(s)), None)
            if suffix is None:
                continue
            cap_name = variable[len("OPSORCH_") : -len(suffix)]
            if cap_name in self.NOT_CAPABILITIES:
                continue
            if cap_name not in known:
                raise ConfigurationError(
                    f"{variable}: unknown capability {cap_name!r}; known: " + ", ".join(sorted(known)),
                    source="settings",
                )
            if suffix == "_PLUGIN":
                raise ConfigurationError(
                    f"{variable}: OpsOrch plugin executables are not supported; "
                    f"choose a provider with {known[cap_name].env_prefix}_PROVIDER",
                    source="settings",
                )
            choice = providers.setdefault(known[cap_name].value, {})
            if suffix == "_PROVIDER":
                choice["name"] = raw.strip()
                choice["name_source"] = variable
            elif suffix == "_CONFIG":
                choice["config"] = _parse_json_object(raw, variable)
                choice["config_source"] = variable
            else:
                try:
                    choice["timeout"] = float(raw)
                except ValueError:
                    raise ConfigurationError(
                        f"{variable}: expected a number of seconds, got {raw!r}", source="settings"
                    ) from None
        return {"providers": providers} if providers else {}


def _parse_json_object(raw: str, variable: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{variable} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            source="settings",
        ) from None
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{variable} must be a JSON object, got {type(value).__name__}", source="settings"
        )
    return value


DEFAULT_CONSOLE_PORT = 3000


def served_console_url() -> str:
    """Where the console is served when nobody said: what Reflex was told, else its default port.

    ``reflex run`` exports the frontend port it settled on (``REFLEX_FRONTEND_PORT``, also when it moved off a
    busy 3000) to its backend workers, and an operator may give the public address as ``REFLEX_DEPLOY_URL``
    (Reflex's own setting for it). Both are read from the environment, so core_client needs no Reflex import;
    the console's backend and the ``opspilot`` command put Reflex's answer there, rxconfig.py's ``deploy_url`` or
    ``frontend_port`` included (``console/address.py``).
    Behind a proxy, set ``OPSPILOT_CONSOLE_URL`` (or ``console_url`` in opspilot.toml): it wins over both.
    """
    deploy_url = os.environ.get("REFLEX_DEPLOY_URL", "").strip()
    if deploy_url:
        return deploy_url.rstrip("/")
    port = os.environ.get("REFLEX_FRONTEND_PORT", "").strip()
    return f"http://localhost:{port if port.isdigit() else DEFAULT_CONSOLE_PORT}"


def config_file_path() -> Path:
    """The TOML file settings read: ``$OPSPILOT_CONFIG``, else ``./opspilot.toml``."""
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    """Every setting OpsPilot reads. Build it with :func:`load_settings` to get clear errors."""

    model_config = SettingsConfigDict(
        env_prefix="OPSPILOT_", env_nested_delimiter="__", populate_by_name=True, extra="forbid"
    )

    data_dir: Path = Path(".opspilot")
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    console_url: str = Field(default_factory=served_console_url)
    core_url: str | None = Field(default=None, validation_alias=AliasChoices("OPSORCH_CORE_URL", "core_url"))
    core_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPSORCH_CORE_TOKEN", "core_token")
    )
    providers: dict[Capability, ProviderChoice] = Field(default_factory=dict)
    policy: Policy = Field(default_factory=Policy)
    approval_ttl_minutes: int = Field(default=60, gt=0)
    approval_requests_per_minute: int = Field(default=10, gt=0)
    # Where approvers are told that a request waits (the messaging provider's channel; see core_client/notices.py).
    approver_channel: str = Field(default="#opspilot-approvals", min_length=1)
    session_ttl_hours: float = Field(default=12.0, gt=0)
    token_ttl_days: float = Field(default=90.0, gt=0)
    # Kept outside the database; see core_client/server_key.py. Default: <data_dir>/secret.key.
    secret_key: SecretStr | None = None
    mcp_result_budget: int = Field(default=20_000, ge=1_000)
    # MCP over HTTP: a session nobody has used for this long is closed (its id then answers 404 and the client
    # initializes again), and no more than this many are open at once, so abandoned sessions cannot pile up.
    mcp_session_idle_seconds: float = Field(default=600.0, gt=0)
    mcp_max_sessions: int = Field(default=1_000, gt=0)
    # Seconds each provider's health check may take in /health and the sources banner (its own timeout if shorter).
    health_timeout: float = Field(default=2.0, gt=0)
    # Backend worker processes of `reflex run --env prod` (GRANIAN_WORKERS, when set, wins): one per core, since
    # Reflex's own 2 x cores + 1 buys no throughput for this app and costs ~200 MB of memory a worker.
    backend_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, gt=0)
    files_dir: Path | None = None
    scenarios: Path | None = None
    demo: DemoSettings = Field(default_factory=DemoSettings)
    copilot: CopilotSettings = Field(default_factory=CopilotSettings)
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "anthropic_api_key")
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _OpsOrchProviderSource(settings_cls),
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file_path()),
        )

    @model_validator(mode="after")
    def _every_capability_has_a_provider(self) -> Settings:
        default_name = "opsorch" if self.core_url else "demo"
        for cap in Capability:
            choice = self.providers.get(cap)
            if choice is None:
                self.providers[cap] = ProviderChoice(name=default_name, name_source="default")
                continue
            toml_key = f"{config_file_path()} [providers.{cap.value}]"
            if "name" not in choice.model_fields_set:
                choice.name = default_name
                choice.name_source = "default"
            choice.name_source = choice.name_source or toml_key
            choice.config_source = choice.config_source or toml_key
        return self

    @model_validator(mode="after")
    def _read_only_servers_are_policy(self) -> Settings:
        """``read_only = true`` on an MCP server entry is the policy rule ``<name>.*`` -> auto (unless a rule
        for that pattern is already written out)."""
        written = {rule.tool for rule in self.policy.rules}
        for server in self.copilot.mcp_servers:
            pattern = f"{server.name}.*"
            if server.read_only and pattern not in written:
                self.policy.rules.append(PolicyRule(tool=pattern, mode="auto"))
        return self

    @model_validator(mode="after")
    def _approver_notices_are_auto(self) -> Settings:
        """Approvers are told of new requests (policy rule ``notify_approvers`` -> auto) unless a rule for that
        tool is written out: an operator switches the notices off with ``mode = "denied"``."""
        if not any(rule.tool == APPROVER_NOTICE for rule in self.policy.rules):
            self.policy.rules.append(PolicyRule(tool=APPROVER_NOTICE, mode="auto"))
        return self

    @field_validator("console_url")
    @classmethod
    def _absolute_console_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"expected the console's absolute http:// or https:// address, got {value!r}")
        return url

    @property
    def resolved_database_url(self) -> str:
        """``DATABASE_URL``, or a SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'opspilot.db').resolve()}"

    @property
    def resolved_files_dir(self) -> Path:
        """The one folder the file tools may read and write."""
        return self.files_dir or self.data_dir / "files"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, ``opspilot.toml`` and defaults; overrides win over all three.

    Raises ``ConfigurationError`` naming the variable or key at fault.
    """
    path = config_file_path()
    if CONFIG_FILE_ENV in os.environ and not path.is_file():
        raise ConfigurationError(f"{CONFIG_FILE_ENV}={path}: no such file", source="settings")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe_error(error) for error in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}", source="settings") from None
    except ValueError as exc:  # TOML syntax errors arrive as ValueError subclasses
        raise ConfigurationError(f"{path}: {exc}", source="settings") from None


def _describe_error(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    top = str(error.get("loc", ("",))[0]).upper()
    hint = {"DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"}
    name = top if top in hint else f"OPSPILOT_{location.upper().replace('.', '__')} / {location}"
    return f"{name}: {error.get('msg')}"
