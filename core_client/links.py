"""One URL scheme for the Copilot's citations and the console's routes (DESIGN.md "Links").

Times in links are absolute ISO-8601 UTC (``2026-11-21T10:00:00Z``), so a link means the same thing tomorrow.
A :class:`Link` is the parsed form: ``parse_link(link.build()) == link`` for every kind.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from pydantic import BaseModel, Field, model_validator

from core_client.errors import BadQuery

LinkKind = Literal[
    "incident", "alert", "ticket", "service", "deployment", "run", "logs", "metrics", "approval"
]

# Kinds addressed by one path segment: /<prefix>/<value>, with the parameter that holds the value.
PATH_KINDS: dict[str, tuple[str, str]] = {
    "incident": ("incidents", "id"),
    "alert": ("alerts", "id"),
    "ticket": ("tickets", "id"),
    "service": ("services", "name"),
    "deployment": ("deployments", "id"),
    "run": ("runs", "id"),
    "approval": ("approvals", "id"),
}
# Kinds addressed by a query string, with their parameters in the order they are written.
QUERY_KINDS: dict[str, tuple[str, ...]] = {
    "logs": ("q", "service", "severity", "from", "to", "highlight"),
    "metrics": ("metric", "service", "group_by", "from", "to", "mark"),
}
TIME_PARAMS = frozenset({"from", "to", "mark"})


def format_time(value: datetime) -> str:
    """``value`` as ISO-8601 UTC with a ``Z``, to the second (or microsecond when it has any)."""
    if value.tzinfo is None:
        raise BadQuery("link times must be timezone-aware", source="links")
    utc = value.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """A time written by :func:`format_time` (or any ISO-8601 time with a zone) as aware UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"not an ISO-8601 time: {text!r}", source="links") from None
    if value.tzinfo is None:
        raise BadQuery(f"link time {text!r} has no time zone", source="links")
    return value.astimezone(UTC)


class Link(BaseModel):
    """A console location: its kind and its parameters (as they appear in the URL)."""

    kind: LinkKind
    params: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_params(self) -> Link:
        if self.kind in PATH_KINDS:
            key = PATH_KINDS[self.kind][1]
            allowed = {key, "step"} if self.kind == "run" else {key}
            if not self.params.get(key):
                raise ValueError(f"a {self.kind} link needs {key!r}")
        else:
            allowed = set(QUERY_KINDS[self.kind])
        unknown = set(self.params) - allowed
        if unknown:
            raise ValueError(f"unknown parameters for a {self.kind} link: {', '.join(sorted(unknown))}")
        for name in TIME_PARAMS & set(self.params):
            parse_time(self.params[name])
        if "step" in self.params and not self.params["step"].isdigit():
            raise ValueError("a run link's step must be a number")
        return self

    def build(self) -> str:
        """The path (with query string or fragment) of this link, relative to the console."""
        if self.kind in PATH_KINDS:
            prefix, key = PATH_KINDS[self.kind]
            path = f"/{prefix}/{quote(self.params[key], safe='')}"
            step = self.params.get("step")
            return f"{path}#step-{step}" if step is not None else path
        pairs = [(name, self.params[name]) for name in QUERY_KINDS[self.kind] if name in self.params]
        query = urlencode(pairs, quote_via=quote, safe=":,")
        return f"/{self.kind}?{query}" if query else f"/{self.kind}"

    def absolute(self, console_url: str) -> str:
        """The full URL of this link on the console at ``console_url``."""
        return console_url.rstrip("/") + self.build()


def parse_link(url: str) -> Link:
    """The :class:`Link` a console URL (absolute or a path) points at; anything else is a ``BadQuery``."""
    parts = urlsplit(url)
    segments = [unquote(segment) for segment in parts.path.strip("/").split("/")]
    try:
        if len(segments) == 1 and segments[0] in QUERY_KINDS:
            params = dict(parse_qsl(parts.query, keep_blank_values=False))
            return Link(kind=segments[0], params=params)
        kind = next((k for k, (prefix, _) in PATH_KINDS.items() if prefix == segments[0]), None)
        if kind is None or len(segments) != 2:
            raise BadQuery(f"not an OpsPilot link: {url!r}", source="links")
        params = {PATH_KINDS[kind][1]: segments[1]}
        if kind == "run" and parts.fragment.startswith("step-"):
            params["step"] = parts.fragment.removeprefix("step-")
        return Link(kind=kind, params=params)
    except ValueError as exc:
        raise BadQuery(f"malformed link {url!r}: {exc}", source="links") from None


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _link(kind: LinkKind, **params: str | None) -> Link:
    return Link(kind=kind, params={name: value for name, value in params.items() if value is not None})


def incident_link(incident_id: str) -> Link:
    """``/incidents/{id}``"""
    return _link("incident", id=incident_id)


def alert_link(alert_id: str) -> Link:
    """``/alerts/{id}``"""
    return _link("alert", id=alert_id)


def ticket_link(ticket_id: str) -> Link:
    """``/tickets/{id}``"""
    return _link("ticket", id=ticket_id)


def service_link(name: str) -> Link:
    """``/services/{name}``"""
    return _link("service", name=name)


def deployment_link(deployment_id: str) -> Link:
    """``/deployments/{id}``"""
    return _link("deployment", id=deployment_id)


def run_link(run_id: str, step: int | None = None) -> Link:
    """``/runs/{id}``, or ``/runs/{id}#step-{n}`` for one step."""
    return _link("run", id=run_id, step=str(step) if step is not None else None)


def approval_link(request_id: str) -> Link:
    """``/approvals/{id}``: the console page where a person decides on an approval request."""
    return _link("approval", id=request_id)


def logs_link(
    *,
    q: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    highlight: str | None = None,
) -> Link:
    """``/logs?q=&service=&severity=&from=&to=&highlight={log_id}``; omitted parameters are left out."""
    return _link(
        "logs",
        q=q,
        service=service,
        severity=severity,
        highlight=highlight,
        **{"from": _time(start), "to": _time(end)},
    )


def metrics_link(
    *,
    metric: str | None = None,
    service: str | None = None,
    group_by: list[str] | str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    mark: datetime | None = None,
) -> Link:
    """``/metrics?metric=&service=&group_by=&from=&to=&mark=``; ``group_by`` labels are comma-separated."""
    grouping = ",".join(group_by) if isinstance(group_by, list) else group_by
    return _link(
        "metrics",
        metric=metric,
        service=service,
        group_by=grouping or None,
        mark=_time(mark),
        **{"from": _time(start), "to": _time(end)},
    )
