"""Builds one world into SQLite: catalog, records, metric series and log lines, in one transaction.

The build writes to a temporary file next to the target and renames it into place only when complete, with a
completion row in ``world_meta``; a half-built or corrupt file is therefore never mistaken for a world.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from adapters.demo.company import (
    METRICS,
    SERVICE_BY_NAME,
    SERVICES,
    TEAMS,
    WORLD_NOW,
    dependents_of,
    metrics_for,
    runbook_markdown,
)
from adapters.demo.history import WorldRecords, iso
from adapters.demo.logstore import LogRow, LogStore
from adapters.demo.plan import resolve
from adapters.demo.scenario import Scenario, ScenarioLibrary
from adapters.demo.telemetry import LogStream, MetricGenerator

# A world of another format is built again: 9 keeps the log lines as columns too (adapters.demo.logcolumns).
FORMAT_VERSION = "9"
BASE_LOG_LINES = 200_000
LOG_SPAN = 2 * 86400

Progress = Callable[[str, int, int], None]

SCHEMA = """
CREATE TABLE world_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE service (name TEXT PRIMARY KEY, team TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE runbook (service TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE team (id TEXT PRIMARY KEY, doc TEXT NOT NULL, members TEXT NOT NULL);
CREATE TABLE incident (id TEXT PRIMARY KEY, created_ms INTEGER, updated_ms INTEGER, service TEXT, team TEXT,
    environment TEXT, status TEXT, severity TEXT, title TEXT, description TEXT, doc TEXT NOT NULL);
CREATE INDEX incident_created ON incident(created_ms DESC, id DESC);
CREATE TABLE alert (id TEXT PRIMARY KEY, created_ms INTEGER, updated_ms INTEGER, service TEXT, team TEXT,
    environment TEXT, status TEXT, severity TEXT, title TEXT, description TEXT, doc TEXT NOT NULL);
CREATE INDEX alert_created ON alert(created_ms DESC, id DESC);
CREATE TABLE timeline (id TEXT PRIMARY KEY, incident_id TEXT NOT NULL, at_ms INTEGER, doc TEXT NOT NULL);
CREATE INDEX timeline_incident ON timeline(incident_id, at_ms);
CREATE TABLE ticket (id TEXT PRIMARY KEY, created_ms INTEGER, updated_ms INTEGER, service TEXT, team TEXT,
    environment TEXT, status TEXT, title TEXT, description TEXT, reporter TEXT, assignees TEXT, doc TEXT NOT NULL);
CREATE INDEX ticket_created ON ticket(created_ms DESC, id DESC);
CREATE TABLE deployment (id TEXT PRIMARY KEY, started_ms INTEGER, service TEXT, team TEXT, environment TEXT,
    status TEXT, version TEXT, doc TEXT NOT NULL);
CREATE INDEX deployment_started ON deployment(started_ms DESC, id DESC);
CREATE TABLE message (id TEXT PRIMARY KEY, channel TEXT, sent_ms INTEGER, doc TEXT NOT NULL);
CREATE TABLE page_request (id TEXT PRIMARY KEY, at_ms INTEGER, doc TEXT NOT NULL);
CREATE TABLE idempotency (key TEXT NOT NULL, operation TEXT NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (key, operation));
CREATE TABLE metric_series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, service TEXT NOT NULL, team TEXT NOT NULL,
    environment TEXT NOT NULL, labels TEXT NOT NULL, step INTEGER NOT NULL, start_s INTEGER NOT NULL,
    points BLOB NOT NULL);
CREATE INDEX metric_series_name ON metric_series(name, service, environment);
CREATE TABLE metric_descriptor (name TEXT PRIMARY KEY, doc TEXT NOT NULL, services TEXT NOT NULL);
"""


@dataclass(frozen=True)
class WorldSpec:
    """What a world is built from; also its cache key."""

    seed: int
    scenario: str
    scale: float

    @property
    def key(self) -> str:
        scale = f"{self.scale:g}".replace(".", "p")
        return f"{self.scenario}-s{self.seed}-x{scale}"

    @property
    def telemetry_days(self) -> int:
        """Weeks of metrics at full scale; a small world keeps only a few days, so tests build quickly."""
        return max(3, min(28, round(28 * self.scale)))

    @property
    def fine_span(self) -> int:
        """Seconds of 1-minute metric points: the last day, or the last 6 hours (every onset) in a small world."""
        return 86400 if self.scale >= 1 else 6 * 3600

    @property
    def log_lines(self) -> int:
        return int(BASE_LOG_LINES * self.scale)


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def build_world(
    spec: WorldSpec, library: ScenarioLibrary, target: Path, progress: Progress | None = None
) -> float:
    """Build ``spec`` into ``target`` atomically; returns the build time in seconds."""
    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    scenario = library.get(spec.scenario)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.building")
    partial.unlink(missing_ok=True)
    conn = sqlite3.connect(partial)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA page_size=8192")
        _create(conn)
        _fill(conn, spec, scenario, library, report)
        conn.execute(
            "INSERT INTO world_meta VALUES ('complete', ?)",
            (_json({"format": FORMAT_VERSION, "key": spec.key}),),
        )
        conn.commit()
    except BaseException:
        conn.close()
        partial.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(partial, target)
    return time.perf_counter() - started


def _create(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _fill(
    conn: sqlite3.Connection, spec: WorldSpec, scenario: Scenario, library: ScenarioLibrary, report: Progress
) -> None:
    now_ms = int(WORLD_NOW.timestamp() * 1000)
    plan = resolve(scenario, spec.seed)
    meta = {
        "world_now": iso(now_ms),
        "seed": str(spec.seed),
        "scale": f"{spec.scale:g}",
        "format": FORMAT_VERSION,
        "environments": "prod,staging",
    }
    conn.executemany("INSERT INTO world_meta VALUES (?, ?)", list(meta.items()))
    _catalog(conn)
    report("catalog", 1, 1)

    records = WorldRecords(spec.seed, plan, now_ms, spec.scale, spec.telemetry_days)
    records.build_deployments()
    past = [
        (
            s.incident.title,
            s.incident.service,
            s.incident.severity,
            [(60 * (i + 1), t.kind, t.body) for i, t in enumerate(s.incident.timeline)],
        )
        for name, s in sorted(library.scenarios.items())
        if name != scenario.name
    ]
    records.build_history(past)
    records.build_background_alerts()
    records.build_active()
    _records(conn, records)
    report("records", 1, 1)

    generator = MetricGenerator(
        spec.seed, plan, now_ms // 1000, spec.telemetry_days, records.deploy_seconds(), spec.fine_span
    )
    keys = generator.keys()
    rows = []
    for index, key in enumerate(keys):
        team = SERVICE_BY_NAME[key.service].team
        for series in generator.series(key):
            rows.append(
                (
                    key.name,
                    key.service,
                    team,
                    key.environment,
                    _json(dict(key.labels)),
                    series.step,
                    series.start,
                    series.blob(),
                )
            )
        if index % 20 == 0 or index == len(keys) - 1:
            conn.executemany(
                "INSERT INTO metric_series (name, service, team, environment, labels, step, start_s, points) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            rows = []
            report("metrics", index + 1, len(keys))
    _descriptors(conn)

    store = LogStore(conn)
    store.create_schema()
    stream = LogStream(spec.seed, plan, now_ms, LOG_SPAN, spec.log_lines, records.versions())
    written = 0
    expected = max(1, spec.log_lines)
    for chunk in _chunks(stream, 20_000):
        written += store.insert(chunk)
        report("logs", min(written, expected), expected)
    report("indexing", 0, 1)
    store.finish()
    report("indexing", 1, 1)


def _chunks(rows: Iterable[LogRow], size: int) -> Iterator[list[LogRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _catalog(conn: sqlite3.Connection) -> None:
    for service in SERVICES:
        team = next(t for t in TEAMS if t.id == service.team)
        doc = {
            "id": service.name,
            "name": service.name,
            "url": f"https://catalog.shopwave.example/services/{service.name}",
            "tags": {
                "kind": service.kind,
                "tier": str(service.tier),
                "language": service.language,
                "team": service.team,
            },
            "metadata": {
                "description": service.description,
                "host": service.host,
                "dependencies": list(service.dependencies),
                "dependents": dependents_of(service.name),
                "environments": ["prod"] if service.kind == "external" else ["prod", "staging"],
                "slack": team.slack,
            },
            "dependencies": list(service.dependencies),
            "ownerTeam": service.team,
            "tier": service.tier,
        }
        conn.execute("INSERT INTO service VALUES (?, ?, ?)", (service.name, service.team, _json(doc)))
        runbook = {
            "service": service.name,
            "title": f"{service.name} runbook",
            "body": runbook_markdown(service),
            "url": f"https://wiki.shopwave.example/runbooks/{service.name}",
            "updatedAt": "2025-04-02T10:00:00Z",
        }
        conn.execute("INSERT INTO runbook VALUES (?, ?)", (service.name, _json(runbook)))
    for team in TEAMS:
        doc = {
            "id": team.id,
            "name": team.name,
            "parent": team.parent,
            "url": f"https://people.shopwave.example/teams/{team.id}",
            "tags": {"slack": team.slack},
            "metadata": {
                "services": [s.name for s in SERVICES if s.team == team.id],
                "schedule": f"{team.id}-weekly",
                "handoff": f"Mondays {team.handoff_hour:02d}:00 UTC",
            },
        }
        members = [
            {
                "id": p.handle,
                "name": p.name,
                "email": p.email,
                "handle": "@" + p.handle,
                "role": p.role,
                "metadata": {},
            }
            for p in team.members
        ]
        conn.execute("INSERT INTO team VALUES (?, ?, ?)", (team.id, _json(doc), _json(members)))


def _records(conn: sqlite3.Connection, records: WorldRecords) -> None:
    conn.executemany(
        "INSERT INTO incident VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                r.id,
                r.created_ms,
                r.updated_ms,
                r.service,
                r.extra["team"],
                r.environment,
                r.status,
                r.severity,
                r.title,
                r.extra["description"],
                _json(r.doc),
            )
            for r in records.incidents
        ],
    )
    conn.executemany(
        "INSERT INTO alert VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                r.id,
                r.created_ms,
                r.updated_ms,
                r.service,
                r.extra["team"],
                r.environment,
                r.status,
                r.severity,
                r.title,
                r.extra["description"],
                _json(r.doc),
            )
            for r in records.alerts
        ],
    )
    conn.executemany(
        "INSERT INTO timeline VALUES (?,?,?,?)",
        [(i, inc, at, _json(doc)) for i, inc, at, doc in records.timeline],
    )
    conn.executemany(
        "INSERT INTO ticket VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                r.id,
                r.created_ms,
                r.updated_ms,
                r.service,
                r.extra["team"],
                r.environment,
                r.status,
                r.title,
                r.extra["description"],
                r.extra["reporter"],
                _json(r.extra["assignees"]),
                _json(r.doc),
            )
            for r in records.tickets
        ],
    )
    conn.executemany(
        "INSERT INTO deployment VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                r.id,
                r.created_ms,
                r.service,
                r.doc["fields"]["team"],
                r.environment,
                r.status,
                r.doc["version"],
                _json(r.doc),
            )
            for r in records.deployments
        ],
    )


def _descriptors(conn: sqlite3.Connection) -> None:
    for metric in METRICS:
        services = [s.name for s in SERVICES if metric in metrics_for(s)]
        labels = ["service", "environment", *metric.extra_labels]
        doc = {
            "name": metric.name,
            "type": metric.type,
            "description": metric.description,
            "labels": labels,
            "unit": metric.unit,
            "metadata": {"resolution": "60s over the last day, 300s before"},
        }
        conn.execute(
            "INSERT INTO metric_descriptor VALUES (?, ?, ?)", (metric.name, _json(doc), _json(services))
        )
