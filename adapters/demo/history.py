"""The world's records: routine deployments, past incidents with timelines, tickets and alerts, and the active
scenario's own records. Each record is the OpsOrch JSON document plus the columns providers filter on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.demo.company import DOMAIN, SERVICE_BY_NAME, SERVICES, TEAM_BY_ID, TEAMS, Person
from adapters.demo.plan import Plan
from adapters.demo.schedule import on_call

SEVERITY_WEIGHTS = (("sev1", 2), ("sev2", 13), ("sev3", 45), ("sev4", 40))
HISTORY_TITLES = {
    "web": [
        "Storefront pages slow to load",
        "Storefront returning 502 for some users",
        "Blank product pages",
    ],
    "gateway": [
        "Elevated 5xx at the edge",
        "Gateway p99 latency above 500ms",
        "Clients throttled unexpectedly",
    ],
    "api": [
        "{service} error rate above 2%",
        "{service} p99 latency above 1s",
        "{service} pods restarting",
        "{service} returning stale data",
    ],
    "worker": ["{service} backlog growing", "{service} jobs failing", "Delayed {service} processing"],
    "database": ["Primary database replication lag", "Database CPU above 90%", "Slow queries on {service}"],
    "cache": ["Cache hit ratio dropped", "{service} evictions spiking"],
    "queue": ["{service} queue depth above 10k", "{service} publishers blocked"],
    "external": ["Payflow authorization failures", "Payflow latency above 2s"],
}
RESOLUTIONS = [
    "Rolled back to the previous version; error rate back to baseline.",
    "Scaled out to 6 replicas; latency recovered.",
    "Restarted the affected pods; monitoring.",
    "Provider confirmed an incident on their side; resolved on their end.",
    "Reverted the configuration; traffic recovered.",
    "Added an index on the slow query; p99 back under target.",
]


@dataclass
class Record:
    """One row for a record table: the filter columns and the document."""

    id: str
    created_ms: int
    updated_ms: int
    service: str
    environment: str
    status: str
    severity: str
    title: str
    doc: dict[str, Any]
    extra: dict[str, Any]


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


FLAG_NAMES = ("new-recommendations-rail", "express-shipping-badge", "saved-carts-v2", "search-typo-tolerance")


def _actor(person: Person) -> dict[str, str]:
    return {"id": person.handle, "name": person.name, "email": person.email}


class WorldRecords:
    """Builds every record of one world."""

    def __init__(self, seed: int, plan: Plan, now_ms: int, scale: float, telemetry_days: int):
        self.seed = seed
        self.plan = plan
        self.now_ms = now_ms
        self.scale = scale
        self.days = telemetry_days
        self.rng = random.Random(f"{seed}:records")
        self.incidents: list[Record] = []
        self.timeline: list[tuple[str, str, int, dict[str, Any]]] = []
        self.alerts: list[Record] = []
        self.tickets: list[Record] = []
        self.deployments: list[Record] = []
        self._ticket_no = 1200
        self._incident_no = 4000

    def ms(self, seconds_from_now: float) -> int:
        return self.now_ms + int(seconds_from_now * 1000)

    # deployments ----------------------------------------------------------------------------------------
    def build_deployments(self) -> None:
        rng = random.Random(f"{self.seed}:deploys")
        planned = sorted(self.plan.deploys, key=lambda d: d.at)
        for service in SERVICES:
            if service.kind == "external":
                continue
            every = 2.5 if service.kind in ("api", "web", "gateway", "worker") else 9.0
            version = [rng.randint(1, 4), rng.randint(0, 20), 0]
            t = -self.days * 86400 + rng.randint(0, 86400)
            while t < -3 * 3600:
                version[2] += 1
                if rng.random() < 0.2:
                    version[1] += 1
                    version[2] = 0
                tag = "v{}.{}.{}".format(*version)
                working_hours = (t // 3600 * 3600) + rng.randint(9, 16) * 3600 - (t // 3600 * 3600) % 86400
                self._deployment(
                    service.name, "staging", tag, working_hours - rng.randint(2, 6) * 3600, "code", rng
                )
                self._deployment(service.name, "prod", tag, working_hours, "code", rng)
                t += int(every * 86400 * rng.uniform(0.5, 1.5))
            for deploy in planned:
                if deploy.service != service.name:
                    continue
                if deploy.change == "config":
                    tag = f"config-r{rng.randint(120, 480)}"
                elif deploy.change == "flag":
                    tag = f"flags-r{rng.randint(900, 2400)}"
                else:
                    version[2] += 1
                    tag = "v{}.{}.{}".format(*version)
                self._deployment(service.name, deploy.environment, tag, deploy.at, deploy.change, rng)
        self.deployments.sort(key=lambda r: (r.created_ms, r.id))
        for index, record in enumerate(self.deployments):
            record.id = record.doc["id"] = f"dep-{index + 1:05d}"
            record.doc["url"] = f"https://deploy.{DOMAIN}/deployments/{record.id}"

    def _deployment(
        self, service: str, env: str, version: str, at: int, change: str, rng: random.Random
    ) -> None:
        if at >= -60:
            return
        spec = SERVICE_BY_NAME[service]
        team = TEAM_BY_ID[spec.team]
        person = rng.choice(team.members)
        started = self.ms(at)
        finished = started + rng.randint(90, 420) * 1000
        commit = f"{rng.getrandbits(40):010x}"
        fields: dict[str, Any] = {"commit": commit, "change": change, "team": team.id}
        if change == "config":
            fields["configMap"] = f"{service}-config"
            fields["summary"] = "Tune runtime settings"
        elif change == "flag":
            flag = rng.choice(FLAG_NAMES)
            fields["flag"] = flag
            fields["summary"] = f"Roll out flag {flag} to {rng.choice((5, 10, 25, 50))}% of traffic"
        else:
            fields["summary"] = rng.choice(
                [
                    "Bump dependencies",
                    "Improve logging",
                    "Small fixes",
                    "Add metrics to hot path",
                    "Refactor request handling",
                    "Update translations",
                    "Feature flag cleanup",
                ]
            )
        doc = {
            "id": "",
            "service": service,
            "environment": env,
            "version": version,
            "status": "succeeded",
            "startedAt": iso(started),
            "finishedAt": iso(min(finished, self.now_ms)),
            "url": "",
            "actor": _actor(person),
            "fields": fields,
            "metadata": {"pipeline": "deployctl"},
        }
        self.deployments.append(
            Record("", started, finished, service, env, "succeeded", "", version, doc, {})
        )

    def versions(self) -> dict[tuple[str, str], list[tuple[int, str]]]:
        """(service, environment) -> [(seconds from now when live, version)] in time order."""
        found: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for record in self.deployments:
            if record.doc["fields"]["change"] == "code":
                found.setdefault((record.service, record.environment), []).append(
                    ((record.updated_ms - self.now_ms) // 1000, record.doc["version"])
                )
        return found

    def deploy_seconds(self) -> dict[tuple[str, str], list[int]]:
        found: dict[tuple[str, str], list[int]] = {}
        for record in self.deployments:
            found.setdefault((record.service, record.environment), []).append(
                (record.updated_ms - self.now_ms) // 1000
            )
        return found

    # incidents, tickets, alerts ---------------------------------------------------------------------------
    def build_history(self, past: list[tuple[str, str, str, list[tuple[int, str, str]]]]) -> None:
        """Past incidents over the last year: ``past`` are older scenarios' (title, service, severity, timeline)."""
        rng = self.rng
        count = max(20, int(2000 * self.scale))
        span = 365 * 86400
        services = [s for s in SERVICES]
        severities = [s for s, _ in SEVERITY_WEIGHTS]
        weights = [w for _, w in SEVERITY_WEIGHTS]
        for index, (title, service, severity, steps) in enumerate(past):
            at = -rng.randint(3 + 9 * index, 10 + 9 * index) * 86400 - rng.randint(0, 86400)
            self._past_incident(title, service, severity, at, steps, rng)
        for _ in range(count):
            spec = rng.choice(services)
            title = rng.choice(HISTORY_TITLES[spec.kind]).format(service=spec.name)
            at = -rng.randint(6 * 3600, span)
            self._past_incident(title, spec.name, rng.choices(severities, weights)[0], at, [], rng)

    def _next_incident_id(self) -> str:
        self._incident_no += 1
        return f"INC-{self._incident_no}"

    def _past_incident(
        self,
        title: str,
        service: str,
        severity: str,
        at: int,
        steps: list[tuple[int, str, str]],
        rng: random.Random,
    ) -> None:
        spec = SERVICE_BY_NAME[service]
        team = TEAM_BY_ID[spec.team]
        created = self.ms(at)
        duration = rng.randint(15, 240) * 60
        resolved = created + duration * 1000
        responder = on_call(team, created)[0]
        incident_id = self._next_incident_id()
        env = "prod" if rng.random() < 0.9 else "staging"
        entries: list[tuple[int, str, str, Person | None]] = [(0, "alert", f"Alert fired: {title}", None)]
        entries += [(s, k, b, None) for s, k, b in steps]
        if not steps:
            entries += [
                (rng.randint(60, 300), "page", f"Paged {responder.name} ({team.name} primary)", None),
                (rng.randint(300, 600), "ack", "Acknowledged", responder),
                (
                    rng.randint(600, duration // 2 + 601),
                    "note",
                    rng.choice(
                        [
                            "Looking at dashboards and recent deploys.",
                            "Errors concentrated in one availability zone.",
                            "Customer support reports failed orders.",
                            "Correlates with the traffic peak.",
                        ]
                    ),
                    responder,
                ),
            ]
        entries.append((duration, "status", "Resolved. " + rng.choice(RESOLUTIONS), responder))
        self._incident(incident_id, title, "", "resolved", severity, service, env, created, resolved, entries)
        if severity in ("sev1", "sev2") or rng.random() < 0.25:
            self._ticket(
                f"Follow-up {incident_id}: {title}",
                f"Action items from the review of {incident_id}.",
                service,
                env,
                resolved + 3600_000,
                rng.choice(["Done", "Done", "In Progress", "To Do"]),
                responder,
                incident_id,
            )
        self._alert(
            title, service, env, severity, created - rng.randint(30, 240) * 1000, resolved, incident_id
        )

    def _incident(
        self,
        incident_id: str,
        title: str,
        description: str,
        status: str,
        severity: str,
        service: str,
        env: str,
        created: int,
        updated: int,
        entries: list[tuple[int, str, str, Person | None]],
    ) -> None:
        team = SERVICE_BY_NAME[service].team
        doc = {
            "id": incident_id,
            "title": title,
            "description": description or f"{title} ({env}).",
            "status": status,
            "severity": severity,
            "service": service,
            "url": f"https://status.{DOMAIN}/incidents/{incident_id}",
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "fields": {"environment": env, "team": team},
            "metadata": {"source": "pager"},
        }
        self.incidents.append(
            Record(
                incident_id,
                created,
                updated,
                service,
                env,
                status,
                severity,
                title,
                doc,
                {"team": team, "description": doc["description"]},
            )
        )
        for number, (offset, kind, body, person) in enumerate(sorted(entries, key=lambda e: e[0])):
            at = created + offset * 1000
            entry_id = f"{incident_id}-t{number + 1}"
            self.timeline.append(
                (
                    entry_id,
                    incident_id,
                    at,
                    {
                        "id": entry_id,
                        "incidentId": incident_id,
                        "at": iso(at),
                        "kind": kind,
                        "body": body,
                        "actor": _actor(person) if person else {"id": "pager", "name": "Pager"},
                        "metadata": {},
                    },
                )
            )

    def _ticket(
        self,
        title: str,
        description: str,
        service: str,
        env: str,
        created: int,
        status: str,
        reporter: Person,
        incident_id: str | None,
    ) -> str:
        self._ticket_no += 1
        key = f"OPS-{self._ticket_no}"
        team = SERVICE_BY_NAME[service].team
        assignee = self.rng.choice(TEAM_BY_ID[team].members)
        created = min(created, self.now_ms - 60_000)
        updated = (
            min(self.now_ms, created + self.rng.randint(1, 72) * 3600_000) if status != "To Do" else created
        )
        doc = {
            "id": key,
            "key": key,
            "title": title,
            "description": description,
            "status": status,
            "assignees": [assignee.handle],
            "reporter": reporter.handle,
            "url": f"https://tracker.{DOMAIN}/browse/{key}",
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "fields": {
                "service": service,
                "environment": env,
                "team": team,
                **({"incidentId": incident_id} if incident_id else {}),
            },
            "metadata": {"project": "OPS"},
        }
        self.tickets.append(
            Record(
                key,
                created,
                updated,
                service,
                env,
                status,
                "",
                title,
                doc,
                {
                    "team": team,
                    "description": description,
                    "reporter": reporter.handle,
                    "assignees": [assignee.handle],
                },
            )
        )
        return key

    def _alert(
        self,
        title: str,
        service: str,
        env: str,
        severity: str,
        created: int,
        resolved: int | None,
        incident_id: str | None,
        metric: str | None = None,
    ) -> None:
        alert_id = f"ALR-{len(self.alerts) + 90001}"
        team = SERVICE_BY_NAME[service].team
        status = "resolved" if resolved is not None else "firing"
        updated = resolved if resolved is not None else created
        fields: dict[str, Any] = {"environment": env, "team": team}
        if metric:
            fields["metric"] = metric
        if incident_id:
            fields["incidentId"] = incident_id
        doc = {
            "id": alert_id,
            "title": title,
            "description": f"{title} in {env}.",
            "status": status,
            "severity": severity,
            "service": service,
            "url": f"https://alerts.{DOMAIN}/alerts/{alert_id}",
            "createdAt": iso(created),
            "updatedAt": iso(updated),
            "fields": fields,
            "metadata": {"source": "alertmanager"},
        }
        self.alerts.append(
            Record(
                alert_id,
                created,
                updated,
                service,
                env,
                status,
                severity,
                title,
                doc,
                {"team": team, "description": doc["description"]},
            )
        )

    def build_active(self) -> None:
        """The active scenario's alerts, incident (with timeline) and ticket."""
        env = self.plan.environment
        for alert in sorted(self.plan.alerts, key=lambda a: a.at):
            if alert.at >= 0:
                continue
            resolved = self.ms(alert.resolved_at) if alert.resolved_at is not None else None
            self._alert(
                alert.title,
                alert.service,
                env,
                alert.severity,
                self.ms(alert.at),
                resolved,
                None,
                alert.metric,
            )
        incident = self.plan.incident
        if incident is None:
            return
        team = TEAM_BY_ID[SERVICE_BY_NAME[incident.service].team]
        created = self.ms(min(incident.at, -60))
        primary = on_call(team, created)[0]
        incident_id = self._next_incident_id()
        entries: list[tuple[int, str, str, Person | None]] = [
            (0, "alert", f"Alert fired: {incident.title}", None)
        ]
        for step in incident.timeline:
            actor = next((p for t in TEAMS for p in t.members if p.handle == step.actor), primary)
            entries.append(
                (
                    max(0, (self.ms(step.at) - created) // 1000),
                    step.kind,
                    step.body,
                    None if step.kind == "alert" else actor,
                )
            )
        entries = [e for e in entries if created + e[0] * 1000 < self.now_ms]
        last = max(created + e[0] * 1000 for e in entries)
        self._incident(
            incident_id,
            incident.title,
            incident.description,
            incident.status,
            incident.severity,
            incident.service,
            env,
            created,
            last,
            entries,
        )
        for record in self.alerts:
            if (
                record.service == incident.service
                and record.status == "firing"
                and "incidentId" not in record.doc["fields"]
            ):
                record.doc["fields"]["incidentId"] = incident_id
        if self.plan.ticket and self.plan.ticket.at < 0:
            self._ticket(
                self.plan.ticket.title,
                self.plan.ticket.description,
                incident.service,
                env,
                self.ms(self.plan.ticket.at),
                "To Do",
                primary,
                incident_id,
            )

    def build_background_alerts(self) -> None:
        """Low-severity alerts that fire and clear on their own during the telemetry window."""
        rng = random.Random(f"{self.seed}:noise-alerts")
        for _ in range(int(30 + 60 * min(self.scale, 5))):
            service = rng.choice([s for s in SERVICES if s.kind != "external"])
            title = rng.choice(
                ["{s} p95 latency above target", "{s} CPU above 80%", "{s} error budget burn"]
            ).format(s=service.name)
            at = -rng.randint(8 * 3600, self.days * 86400)
            self._alert(
                title,
                service.name,
                "prod" if rng.random() < 0.8 else "staging",
                "sev4",
                self.ms(at),
                self.ms(at + rng.randint(120, 1800)),
                None,
            )
