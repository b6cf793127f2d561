"""Checks HTTP exchanges against a vendor's OpenAPI 3.0 description, so a fake cannot drift from the real API.

``OpenApiContract`` finds the operation a request addresses (method and templated path), then validates the
request (path and query parameters, required headers, JSON body) against the operation's parameters and
request body schema, and the response against the schema documented for its status code. Every problem is a
string in the returned list; an empty list means the exchange is one the real API could have.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30ReadValidator, OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

# Headers the transport sets or that the vendors list as required although they do not enforce them on GETs.
_TRANSPORT_HEADERS = frozenset({"content-type", "content-length", "host", "accept-encoding", "user-agent"})


@dataclass
class Exchange:
    """One request and the response the fake gave it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response_body: bytes = b""


@dataclass(frozen=True)
class Erratum:
    """A correction to the description where it contradicts its own examples and the live API."""

    value: Any
    reason: str


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any] = field(repr=False)


class OpenApiContract:
    """One vendor's API description, loaded once, able to judge any exchange."""

    def __init__(
        self,
        path: Path,
        *,
        base_path: str = "",
        errata: dict[str, Erratum] | None = None,
        global_statuses: frozenset[int] = frozenset(),
    ) -> None:
        self.document: dict[str, Any] = json.loads(path.read_text())
        self.base_path = base_path
        # Statuses the vendor documents for every operation outside the description (e.g. a rate-limit guide).
        self.global_statuses = global_statuses
        for pointer, erratum in (errata or {}).items():
            *parents, last = pointer.lstrip("/").split("/")
            node = self.document
            for part in parents:
                node = node[int(part)] if isinstance(node, list) else node[part]
            node[last] = erratum.value
        root = Resource.from_contents(self.document, default_specification=DRAFT4)
        self._registry: Registry = Registry().with_resource("", root)

    @cached_property
    def operations(self) -> list[Operation]:
        found: list[Operation] = []
        for template, item in self.document["paths"].items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
            for method, op in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    found.append(Operation(method.upper(), template, re.compile(regex), op))
        # Literal paths before templated ones: /incidents/count must not match /incidents/{id}.
        found.sort(key=lambda op: op.template.count("{"))
        return found

    def operation(self, method: str, path: str) -> Operation | None:
        relative = path[len(self.base_path) :] if path.startswith(self.base_path) else path
        for op in self.operations:
            if op.method == method and op.pattern.match(relative):
                return op
        return None

    def resolve(self, node: Any) -> Any:
        """``node`` with a top-level ``$ref`` followed (parameters, responses and bodies are often refs)."""
        while isinstance(node, dict) and "$ref" in node:
            pointer = node["$ref"].lstrip("#/").split("/")
            node = self.document
            for part in pointer:
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _errors(self, schema: dict[str, Any], instance: Any, *, writing: bool) -> list[str]:
        # Requests are not held to readOnly: the vendors mark reference ids read-only, yet their own request
        # examples (and the live APIs) require them. Responses must not carry writeOnly properties.
        validator_class = OAS30Validator if writing else OAS30ReadValidator
        # Resolve "#/components/..." against the whole description, not against the sub-schema itself.
        validator = validator_class(schema, _resolver=self._registry.resolver(base_uri=""))
        return [_describe(error) for error in validator.iter_errors(instance)]

    def check(self, exchange: Exchange) -> list[str]:
        """Every way ``exchange`` differs from what the description allows."""
        where = f"{exchange.method} {exchange.path}"
        op = self.operation(exchange.method, exchange.path)
        if op is None:
            return [f"{where}: no such operation in the API description"]
        problems = [f"{where} request: {p}" for p in self._check_request(op, exchange)]
        problems += [f"{where} response {exchange.status}: {p}" for p in self._check_response(op, exchange)]
        return problems

    def _parameters(self, op: Operation) -> list[dict[str, Any]]:
        item = self.document["paths"][op.template]
        return [self.resolve(p) for p in [*item.get("parameters", []), *op.spec.get("parameters", [])]]

    def _check_request(self, op: Operation, exchange: Exchange) -> list[str]:
        problems: list[str] = []
        params = self._parameters(op)
        query_specs = {p["name"]: p for p in params if p["in"] == "query"}
        sent: dict[str, list[str]] = {}
        for name, value in exchange.query:
            sent.setdefault(name, []).append(value)
        for name, values in sent.items():
            spec = query_specs.get(name)
            if spec is None:
                problems.append(f"unknown query parameter {name!r}")
                continue
            problems += [f"query {name}: {e}" for e in self._check_parameter(spec, values)]
        for name, spec in query_specs.items():
            if spec.get("required") and name not in sent:
                problems.append(f"missing required query parameter {name!r}")
        path_values = op.pattern.match(exchange.path[len(self.base_path) :])
        path_specs = [p for p in params if p["in"] == "path"]
        names = re.findall(r"\{([^}]+)\}", op.template)
        for name, value in zip(names, path_values.groups() if path_values else (), strict=False):
            spec = next((p for p in path_specs if p["name"] == name), None)
            if spec is None:
                problems.append(f"path parameter {name!r} is not described")
                continue
            problems += [f"path {name}: {e}" for e in self._check_parameter(spec, [value])]
        headers = {k.lower(): v for k, v in exchange.headers.items()}
        for spec in params:
            name = spec["name"].lower()
            if spec["in"] != "header" or name in _TRANSPORT_HEADERS:
                continue
            if name not in headers:
                if spec.get("required"):
                    problems.append(f"missing required header {spec['name']!r}")
                continue
            problems += [f"header {spec['name']}: {e}" for e in self._check_parameter(spec, [headers[name]])]
        body = self.resolve(op.spec.get("requestBody"))
        if body is None:
            if exchange.body:
                problems.append("the operation takes no request body, but one was sent")
            return problems
        if not exchange.body:
            if body.get("required"):
                problems.append("missing required request body")
            return problems
        schema = body.get("content", {}).get("application/json", {}).get("schema")
        try:
            document = json.loads(exchange.body)
        except ValueError:
            return [*problems, "request body is not JSON"]
        if schema is not None:
            problems += [f"body: {e}" for e in self._errors(schema, document, writing=True)]
        return problems

    def _check_parameter(self, spec: dict[str, Any], values: list[str]) -> list[str]:
        schema = self.resolve(spec.get("schema", {}))
        if schema.get("type") == "array":
            item_schema = self.resolve(schema.get("items", {}))
            return [
                e for v in values for e in self._errors(item_schema, _coerce(v, item_schema), writing=True)
            ]
        if len(values) > 1 and not spec.get("explode"):
            return [f"given {len(values)} times but is not an array"]
        return [e for v in values for e in self._errors(schema, _coerce(v, schema), writing=True)]

    def _check_response(self, op: Operation, exchange: Exchange) -> list[str]:
        responses = op.spec.get("responses", {})
        documented = responses.get(str(exchange.status)) or responses.get(f"{exchange.status // 100}XX")
        documented = documented or responses.get("default")
        if documented is None:
            # The descriptions leave most 5xx out, yet every real API can answer with one.
            undocumented_ok = exchange.status >= 500 or exchange.status in self.global_statuses
            return [] if undocumented_ok else [f"status {exchange.status} is not documented"]
        content = self.resolve(documented).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        if not schema or not exchange.response_body:
            return []
        try:
            document = json.loads(exchange.response_body)
        except ValueError:
            return ["response body is not JSON"]
        return self._errors(schema, document, writing=False)


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query or path string as the type its schema declares, so ``limit=25`` is checked as an integer."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _describe(error: ValidationError) -> str:
    location = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"at {location}: {error.message[:300]}"
