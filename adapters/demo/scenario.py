"""Scenarios: declarative YAML files, validated against ``scenario.schema.json`` with line-accurate errors.

A scenario names the faults injected into the demo world (kind, service, onset relative to ``world_now``), the
symptoms they cause and how those spread to callers, the decoys around them, and the expected answer (used only
by evals: it is never written into the world).
"""

from __future__ import annotations

import json
import math
import os
import re
import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import BaseModel, ConfigDict, Field

from adapters.demo.company import SERVICE_BY_NAME, metrics_for
from core_client.errors import BadQuery, NotFound

FAULT_KINDS = (
    "bad_deploy",
    "config_change",
    "cpu_saturation",
    "memory_leak",
    "disk_full",
    "connection_pool_exhaustion",
    "dependency_outage",
    "latency_injection",
    "certificate_expiry",
    "traffic_spike",
)
# A harmless change of each sort the world records: a release, a configuration change, a feature flag flipped.
DECOY_KINDS = ("harmless_deploy", "config_change", "feature_flag", "noisy_error", "flapping_alert")
SCENARIOS_ENV = "OPSPILOT_SCENARIOS"
SOURCE = "demo"

_DURATION = re.compile(r"^([+-]?)(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(text: str) -> int:
    """A duration such as ``-45m`` or ``2h`` in seconds (signed)."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise BadQuery(f"not a duration: {text!r} (use e.g. 90s, -45m, 2h)", source=SOURCE)
    sign, amount, unit = match.groups()
    value = int(amount) * _UNIT_SECONDS[unit]
    return -value if sign == "-" else value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricEffect(_Model):
    metric: str
    shape: Literal["step", "ramp", "sawtooth"]
    to: float | None = None
    factor: float | None = None
    add: float | None = None
    over: str = "10m"
    quantile: str | None = None


class LogPattern(_Model):
    severity: str
    message: str
    per_minute: float
    every: str | None = None


class Symptoms(_Model):
    metrics: list[MetricEffect] | None = None
    logs: list[LogPattern] | None = None


class Propagation(_Model):
    depth: int | None = None
    delay: str | None = None
    attenuation: float | None = None
    error_rate: float | None = None
    latency_factor: float | None = None


class Fault(_Model):
    kind: str
    service: str
    onset: str
    jitter: str = "5m"
    symptoms: Symptoms = Field(default_factory=Symptoms)
    propagation: Propagation = Field(default_factory=Propagation)


class AlertSpec(_Model):
    service: str
    title: str
    after: str
    severity: str = "sev2"
    metric: str | None = None


class TimelineSpec(_Model):
    after: str
    body: str
    kind: str = "note"
    actor: str | None = None


class IncidentSpec(_Model):
    title: str
    service: str
    after: str
    severity: str = "sev2"
    status: str = "investigating"
    description: str = ""
    timeline: list[TimelineSpec] = Field(default_factory=list)


class TicketSpec(_Model):
    title: str
    after: str
    description: str = ""


class Decoy(_Model):
    kind: str
    at: str
    service: str | None = None
    jitter: str = "10m"
    message: str | None = None


class ExpectedAnswer(_Model):
    service: str
    fault_kind: str
    evidence: list[str]


class Scenario(_Model):
    name: str
    title: str
    question: str
    environment: str = "prod"
    faults: list[Fault]
    alerts: list[AlertSpec] = Field(default_factory=list)
    incident: IncidentSpec
    ticket: TicketSpec | None = None
    decoys: list[Decoy] = Field(default_factory=list)
    expected: ExpectedAnswer


class ScenarioFileError(BadQuery):
    """A scenario file that cannot be used: names the file, the line and the reason."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {reason}", source=SOURCE)
        self.path = path
        self.line = line
        self.reason = reason


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(resources.files(__package__).joinpath("scenario.schema.json").read_text())
    return Draft202012Validator(schema)


def _node_at(node: yaml.Node, path: list[str | int]) -> yaml.Node:
    """The YAML node at a JSON path, as deep as the path still matches."""
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        else:
            child = None
        if child is None:
            break
        node = child
    return node


def _describe(error: SchemaError) -> str:
    location = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{location}: {error.message}"


def load_scenario_file(path: Path) -> Scenario:
    """Read, validate and type one scenario file; any problem is a ``ScenarioFileError`` with file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioFileError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ScenarioFileError(path, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.SafeLoader(text).get_single_data() if root is not None else None
    except yaml.MarkedYAMLError as exc:
        # A ConstructorError (e.g. a !!python tag) is marked too: problem_mark is where it stands.
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "unreadable"
        raise ScenarioFileError(path, mark.line + 1 if mark else None, f"invalid YAML: {reason}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise ScenarioFileError(
            path, line, f"invalid YAML: {exc.reason} (character {exc.character!r})"
        ) from None
    except yaml.YAMLError as exc:
        raise ScenarioFileError(path, None, f"invalid YAML: {exc}") from None
    if root is None:
        raise ScenarioFileError(path, 1, "the file is empty")
    _check_finite(data, [], path, root)
    errors = sorted(
        _validator().iter_errors(data), key=lambda e: (len(e.absolute_path), str(e.absolute_path))
    )
    if errors:
        # The deepest error is the most specific; report where it points.
        error = max(errors, key=lambda e: len(e.absolute_path))
        node = _node_at(root, list(error.absolute_path))
        raise ScenarioFileError(path, node.start_mark.line + 1, _describe(error))
    scenario = Scenario.model_validate(data)
    _check_meaning(scenario, path, root)
    return scenario


def _line(root: yaml.Node, where: list[str | int]) -> int:
    return _node_at(root, where).start_mark.line + 1


def _check_finite(data: object, where: list[str | int], path: Path, root: yaml.Node) -> None:
    """NaN and infinities pass every numeric bound of a schema (each comparison is false): refuse them here."""
    if isinstance(data, float) and not math.isfinite(data):
        location = "/".join(str(p) for p in where) or "(top level)"
        raise ScenarioFileError(path, _line(root, where), f"{location}: {data} is not a finite number")
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        _check_finite(value, [*where, key], path, root)


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot fill as a log line (``None`` when it can): braces must pair and name a value."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"{exc} (write a literal brace as {{{{ or }}}})"
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if not name.isidentifier():
            return f"placeholder {{{name}}} must be a name such as {{n}} or {{path}}"
        if spec or conversion:
            return f"placeholder {{{name}}} takes no format spec or conversion"
    return None


def _check_meaning(scenario: Scenario, path: Path, root: yaml.Node) -> None:
    """What the schema cannot say: the file name matches, onsets are in the past, the answer is a fault."""
    if path.stem != scenario.name:
        raise ScenarioFileError(
            path,
            _node_at(root, ["name"]).start_mark.line + 1,
            f"name {scenario.name!r} must match the file name {path.stem!r}",
        )
    for index, fault in enumerate(scenario.faults):
        if seconds(fault.onset) >= 0 or seconds(fault.onset) < -6 * 3600:
            line = _node_at(root, ["faults", index, "onset"]).start_mark.line + 1
            raise ScenarioFileError(
                path, line, f"onset {fault.onset!r} must be within the 6 hours before world_now"
            )
    _check_templates(scenario, path, root)
    _check_effects(scenario, path, root)
    if not any(
        f.service == scenario.expected.service and f.kind == scenario.expected.fault_kind
        for f in scenario.faults
    ):
        line = _node_at(root, ["expected"]).start_mark.line + 1
        raise ScenarioFileError(path, line, "the expected answer must be one of the scenario's faults")


def _check_templates(scenario: Scenario, path: Path, root: yaml.Node) -> None:
    for f_index, fault in enumerate(scenario.faults):
        for l_index, pattern in enumerate(fault.symptoms.logs or []):
            problem = template_problem(pattern.message)
            if problem:
                where: list[str | int] = ["faults", f_index, "symptoms", "logs", l_index, "message"]
                raise ScenarioFileError(path, _line(root, where), f"{'/'.join(map(str, where))}: {problem}")
    for d_index, decoy in enumerate(scenario.decoys):
        problem = template_problem(decoy.message) if decoy.message else None
        if problem:
            raise ScenarioFileError(
                path, _line(root, ["decoys", d_index, "message"]), f"decoys/{d_index}/message: {problem}"
            )


def _check_effects(scenario: Scenario, path: Path, root: yaml.Node) -> None:
    """An effect on a metric the service does not report would vanish from the world: refuse it by name."""
    for f_index, fault in enumerate(scenario.faults):
        known = {m.name for m in metrics_for(SERVICE_BY_NAME[fault.service])}
        for m_index, effect in enumerate(fault.symptoms.metrics or []):
            if effect.metric not in known:
                where: list[str | int] = ["faults", f_index, "symptoms", "metrics", m_index, "metric"]
                raise ScenarioFileError(
                    path,
                    _line(root, where),
                    f"{'/'.join(map(str, where))}: {fault.service} does not report {effect.metric!r}; "
                    f"it reports {', '.join(sorted(known))}",
                )
    for a_index, alert in enumerate(scenario.alerts):
        known = {m.name for m in metrics_for(SERVICE_BY_NAME[alert.service])}
        if alert.metric is not None and alert.metric not in known:
            raise ScenarioFileError(
                path,
                _line(root, ["alerts", a_index, "metric"]),
                f"alerts/{a_index}/metric: {alert.service} does not report {alert.metric!r}",
            )


@dataclass(frozen=True)
class ScenarioLibrary:
    """Every scenario found in the package and in the user's folders (a user's file wins over a shipped one)."""

    scenarios: dict[str, Scenario]
    files: dict[str, Path]

    def get(self, name: str) -> Scenario:
        if name not in self.scenarios:
            raise NotFound(
                f"no scenario named {name!r}; known: {', '.join(sorted(self.scenarios))}", source=SOURCE
            )
        return self.scenarios[name]

    def names(self) -> list[str]:
        return sorted(self.scenarios)


def packaged_scenarios_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("scenarios")))


def scenario_dirs(extra: Path | str | None = None) -> list[Path]:
    """The package's folder, then ``OPSPILOT_SCENARIOS`` (or the settings' folder), then ``extra``."""
    folders = [packaged_scenarios_dir()]
    env = os.environ.get(SCENARIOS_ENV)
    for candidate in (env, extra):
        if candidate:
            folder = Path(candidate)
            if not folder.is_dir():
                raise ScenarioFileError(folder, None, "no such scenarios folder")
            if folder not in folders:
                folders.append(folder)
    return folders


def load_library(extra: Path | str | None = None) -> ScenarioLibrary:
    """Load and validate every ``*.yaml`` / ``*.yml`` scenario; the first bad file raises ``ScenarioFileError``."""
    scenarios: dict[str, Scenario] = {}
    files: dict[str, Path] = {}
    for folder in scenario_dirs(extra):
        for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            scenario = load_scenario_file(path)
            scenarios[scenario.name] = scenario
            files[scenario.name] = path
    return ScenarioLibrary(scenarios, files)


def scenario_document(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data (for the cache key and the CLI's listing)."""
    return scenario.model_dump(mode="json", exclude_none=True)
