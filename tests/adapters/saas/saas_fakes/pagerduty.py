"""A fake PagerDuty REST API v2 with the documented shapes: token auth, ``From`` on writes, offset pagination,
``{"error": {...}}`` errors, incidents with log entries and notes, services, teams, users, policies, on-calls."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from saas_fakes.openapi import Exchange
from saas_fakes.server import Reply

API = "https://api.pagerduty.com"
WEB = "https://acme.pagerduty.com"
NOW = "2025-03-01T10:00:00Z"


def error(status: int, message: str, code: int, *errors: str) -> Reply:
    return Reply(status, {"error": {"message": message, "code": code, "errors": list(errors)}})


def ref(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    plural = {
        "service": "services",
        "team": "teams",
        "user": "users",
        "escalation_policy": "escalation_policies",
    }
    return {
        "id": item["id"],
        "type": f"{kind}_reference",
        "summary": item["name"],
        "self": f"{API}/{plural[kind]}/{item['id']}",
        "html_url": f"{WEB}/{plural[kind]}/{item['id']}",
    }


@dataclass
class PagerDutyFake:
    api_key: str
    users: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def seeded(cls, api_key: str) -> PagerDutyFake:
        fake = cls(api_key)
        fake.users = [
            {
                "id": "PUSER01",
                "name": "Ada Lovelace",
                "email": "ada@acme.test",
                "role": "admin",
                "teams": ["PTEAM01"],
            },
            {
                "id": "PUSER02",
                "name": "Alan Turing",
                "email": "alan@acme.test",
                "role": "user",
                "teams": ["PTEAM01"],
            },
            {
                "id": "PUSER03",
                "name": "Grace Hopper",
                "email": "grace@acme.test",
                "role": "user",
                "teams": ["PTEAM02"],
            },
        ]
        fake.teams = [
            {"id": "PTEAM01", "name": "payments", "description": "Payments squad"},
            {"id": "PTEAM02", "name": "platform", "description": "Platform team"},
        ]
        fake.policies = [
            {"id": "PPOL001", "name": "payments-ep", "team": "PTEAM01", "oncall": ["PUSER01", "PUSER02"]},
            {"id": "PPOL002", "name": "platform-ep", "team": "PTEAM02", "oncall": ["PUSER03"]},
        ]
        fake.services = [
            {"id": f"PSVC{n:03d}", "name": name, "team": team, "policy": policy}
            for n, (name, team, policy) in enumerate(
                [
                    ("checkout", "PTEAM01", "PPOL001"),
                    ("payments", "PTEAM01", "PPOL001"),
                    ("search", "PTEAM02", "PPOL002"),
                ]
                + [(f"svc-{i:02d}", "PTEAM02", "PPOL002") for i in range(7)],
                start=1,
            )
        ]
        for n in range(1, 31):
            service = fake.services[n % 3]
            status = ("triggered", "acknowledged", "resolved")[n % 3]
            fake._open(
                f"Incident number {n} on {service['name']}", service, "high" if n % 2 else "low", None, status
            )
        return fake

    # --- objects -------------------------------------------------------------------------------------------

    def _by_id(self, items: list[dict[str, Any]], item_id: str) -> dict[str, Any]:
        return next(i for i in items if i["id"] == item_id)

    def _incident_doc(self, inc: dict[str, Any]) -> dict[str, Any]:
        service = self._by_id(self.services, inc["service"])
        policy = self._by_id(self.policies, service["policy"])
        team = self._by_id(self.teams, service["team"])
        doc: dict[str, Any] = {
            "id": inc["id"],
            "type": "incident",
            "summary": f"[#{inc['number']}] {inc['title']}",
            "self": f"{API}/incidents/{inc['id']}",
            "html_url": f"{WEB}/incidents/{inc['id']}",
            "incident_number": inc["number"],
            "title": inc["title"],
            "created_at": inc["created_at"],
            "updated_at": inc["updated_at"],
            "status": inc["status"],
            "service": ref("service", service),
            "assignments": []
            if inc["status"] == "resolved"
            else [
                {"at": inc["created_at"], "assignee": ref("user", self._by_id(self.users, u))}
                for u in policy["oncall"][:1]
            ],
            "escalation_policy": ref("escalation_policy", policy),
            "teams": [ref("team", team)],
            "urgency": inc["urgency"],
        }
        if inc["key"]:
            doc["incident_key"] = inc["key"]
        if inc["priority"]:
            doc["priority"] = {
                "id": inc["priority"]["id"],
                "type": "priority",
                "summary": inc["priority"]["name"],
                "self": f"{API}/priorities/{inc['priority']['id']}",
                "name": inc["priority"]["name"],
            }
        if inc["details"]:
            doc["body"] = {"type": "incident_body", "details": inc["details"]}
        return doc

    def _log(self, incident_id: str, kind: str, summary: str, *, note: str | None = None) -> None:
        entries = self.log_entries.setdefault(incident_id, [])
        entry: dict[str, Any] = {
            "id": f"RLOG{next(self._ids):05d}",
            "type": f"{kind}_log_entry",
            "summary": summary,
            "self": f"{API}/log_entries/x",
            "html_url": f"{WEB}/incidents/{incident_id}/log_entries/x",
            "created_at": NOW,
            "agent": ref("user", self.users[0]),
            "incident": {"id": incident_id, "type": "incident_reference"},
        }
        if note:
            entry["note"] = note
        entries.append(entry)

    def _open(
        self,
        title: str,
        service: dict[str, Any],
        urgency: str,
        key: str | None,
        status: str = "triggered",
        priority: dict[str, Any] | None = None,
        details: str = "",
    ) -> dict[str, Any]:
        number = len(self.incidents) + 1
        inc = {
            "id": f"PINC{number:04d}",
            "number": number,
            "title": title,
            "status": status,
            "urgency": urgency,
            "service": service["id"],
            "key": key,
            "priority": priority,
            "details": details,
            "created_at": f"2025-03-01T{number % 24:02d}:00:00Z",
            "updated_at": NOW,
        }
        self.incidents[inc["id"]] = inc
        self._log(inc["id"], "trigger", "Triggered through the API")
        return inc

    # --- HTTP ------------------------------------------------------------------------------------------------

    def handle(self, ex: Exchange) -> Reply:
        if ex.headers.get("authorization") != f"Token token={self.api_key}":
            return error(401, "Unauthorized", 2006)
        query: dict[str, list[str]] = {}
        for k, v in ex.query:
            query.setdefault(k, []).append(v)
        parts = ex.path.strip("/").split("/")
        body = json.loads(ex.body) if ex.body else {}
        if ex.method in ("POST", "PUT") and not ex.headers.get("from"):
            return error(400, "Invalid Input Provided", 2001, "A valid 'From' header is required.")
        match (ex.method, parts):
            case ("GET", ["abilities"]):
                return Reply(200, {"abilities": ["teams", "urgencies"]})
            case ("GET", ["incidents"]):
                return self._list_incidents(query)
            case ("POST", ["incidents"]):
                return self._create(body)
            case ("GET", ["incidents", incident_id]):
                inc = self.incidents.get(incident_id)
                return (
                    Reply(200, {"incident": self._incident_doc(inc)})
                    if inc
                    else error(404, "Not Found", 2100)
                )
            case ("PUT", ["incidents", incident_id]):
                return self._update(incident_id, body)
            case ("GET", ["incidents", incident_id, "log_entries"]):
                if incident_id not in self.incidents:
                    return error(404, "Not Found", 2100)
                return self._page(query, "log_entries", self.log_entries[incident_id])
            case ("POST", ["incidents", incident_id, "notes"]):
                if incident_id not in self.incidents:
                    return error(404, "Not Found", 2100)
                content = body["note"]["content"]
                self._log(incident_id, "annotate", "Note added", note=content)
                note = {
                    "id": f"PNOTE{next(self._ids):04d}",
                    "user": ref("user", self.users[0]),
                    "content": content,
                    "created_at": NOW,
                }
                return Reply(200, {"note": note})
            case ("GET", ["services"]):
                items = [s for s in self.services if self._matches(s, query)]
                return self._page(query, "services", [self._service_doc(s) for s in items])
            case ("GET", ["teams"]):
                items = [t for t in self.teams if self._matches(t, query)]
                return self._page(query, "teams", [self._team_doc(t) for t in items])
            case ("GET", ["teams", team_id]):
                team = next((t for t in self.teams if t["id"] == team_id), None)
                return Reply(200, {"team": self._team_doc(team)}) if team else error(404, "Not Found", 2100)
            case ("GET", ["users"]):
                teams = set(query.get("team_ids[]", []))
                items = [u for u in self.users if not teams or teams & set(u["teams"])]
                return self._page(query, "users", [self._user_doc(u) for u in items])
            case ("GET", ["escalation_policies"]):
                teams = set(query.get("team_ids[]", []))
                items = [p for p in self.policies if not teams or p["team"] in teams]
                return self._page(query, "escalation_policies", [self._policy_doc(p) for p in items])
            case ("GET", ["oncalls"]):
                wanted = set(query.get("escalation_policy_ids[]", []))
                shifts = [
                    {
                        "escalation_policy": ref("escalation_policy", p),
                        "user": ref("user", self._by_id(self.users, u)),
                        "schedule": {
                            "id": "PSCHED1",
                            "type": "schedule_reference",
                            "summary": f"{p['name']} rota",
                        },
                        "escalation_level": level,
                        "start": "2025-03-01T08:00:00Z",
                        "end": "2025-03-02T08:00:00Z",
                    }
                    for p in self.policies
                    if not wanted or p["id"] in wanted
                    for level, u in enumerate(p["oncall"], start=1)
                ]
                return self._page(query, "oncalls", shifts)
        return error(404, "Not Found", 2100)

    def _matches(self, item: dict[str, Any], query: dict[str, list[str]]) -> bool:
        text = (query.get("query") or [""])[0].lower()
        teams = set(query.get("team_ids[]", []))
        return text in item["name"].lower() and (not teams or item.get("team", item["id"]) in teams)

    def _page(self, query: dict[str, list[str]], key: str, items: list[dict[str, Any]]) -> Reply:
        offset = int((query.get("offset") or ["0"])[0])
        limit = min(int((query.get("limit") or ["25"])[0]), 100)
        window = items[offset : offset + limit]
        return Reply(
            200,
            {
                key: window,
                "offset": offset,
                "limit": limit,
                "more": offset + limit < len(items),
                "total": None,
            },
        )

    def _list_incidents(self, query: dict[str, list[str]]) -> Reply:
        statuses = set(query.get("statuses[]", []))
        urgencies = set(query.get("urgencies[]", []))
        services = set(query.get("service_ids[]", []))
        teams = set(query.get("team_ids[]", []))
        items = [
            i
            for i in sorted(self.incidents.values(), key=lambda i: i["created_at"], reverse=True)
            if (not statuses or i["status"] in statuses)
            and (not urgencies or i["urgency"] in urgencies)
            and (not services or i["service"] in services)
            and (not teams or self._by_id(self.services, i["service"])["team"] in teams)
        ]
        return self._page(query, "incidents", [self._incident_doc(i) for i in items])

    def _create(self, body: dict[str, Any]) -> Reply:
        data = body.get("incident") or {}
        service = next((s for s in self.services if s["id"] == (data.get("service") or {}).get("id")), None)
        if service is None or not data.get("title"):
            return error(
                400,
                "Invalid Input Provided",
                2001,
                "Service not found" if service is None else "Title missing",
            )
        key = data.get("incident_key")
        if key and any(i["key"] == key and i["status"] != "resolved" for i in self.incidents.values()):
            return error(
                400,
                "Invalid Input Provided",
                2001,
                "Open incident with matching dedup key already exists on this service",
            )
        priority = data.get("priority")
        inc = self._open(
            data["title"],
            service,
            data.get("urgency", "high"),
            key,
            priority={"id": priority["id"], "name": f"P{priority['id'][-1]}"} if priority else None,
            details=(data.get("body") or {}).get("details", ""),
        )
        return Reply(201, {"incident": self._incident_doc(inc)})

    def _update(self, incident_id: str, body: dict[str, Any]) -> Reply:
        inc = self.incidents.get(incident_id)
        if inc is None:
            return error(404, "Not Found", 2100)
        data = body.get("incident") or {}
        if "status" in data and data["status"] != inc["status"]:
            inc["status"] = data["status"]
            verb = {"acknowledged": "acknowledge", "resolved": "resolve", "triggered": "trigger"}[
                data["status"]
            ]
            self._log(incident_id, verb, f"{verb.title()}d by Ada Lovelace")
        if "title" in data:
            inc["title"] = data["title"]
        if "urgency" in data:
            inc["urgency"] = data["urgency"]
        if isinstance(data.get("priority"), dict):
            inc["priority"] = {"id": data["priority"]["id"], "name": f"P{data['priority']['id'][-1]}"}
        return Reply(200, {"incident": self._incident_doc(inc)})

    def _service_doc(self, s: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": s["id"],
            "type": "service",
            "summary": s["name"],
            "name": s["name"],
            "self": f"{API}/services/{s['id']}",
            "html_url": f"{WEB}/service-directory/{s['id']}",
            "description": f"The {s['name']} service",
            "status": "active",
            "escalation_policy": ref("escalation_policy", self._by_id(self.policies, s["policy"])),
            "teams": [ref("team", self._by_id(self.teams, s["team"]))],
            "created_at": "2024-01-01T00:00:00Z",
        }

    def _team_doc(self, t: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": t["id"],
            "type": "team",
            "summary": t["name"],
            "name": t["name"],
            "description": t["description"],
            "self": f"{API}/teams/{t['id']}",
            "html_url": f"{WEB}/teams/{t['id']}",
        }

    def _user_doc(self, u: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": u["id"],
            "type": "user",
            "summary": u["name"],
            "name": u["name"],
            "email": u["email"],
            "role": u["role"],
            "time_zone": "Europe/London",
            "self": f"{API}/users/{u['id']}",
            "html_url": f"{WEB}/users/{u['id']}",
            "teams": [ref("team", self._by_id(self.teams, t)) for t in u["teams"]],
        }

    def _policy_doc(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": p["id"],
            "type": "escalation_policy",
            "summary": p["name"],
            "name": p["name"],
            "self": f"{API}/escalation_policies/{p['id']}",
            "html_url": f"{WEB}/escalation_policies/{p['id']}",
            "escalation_rules": [],
            "teams": [ref("team", self._by_id(self.teams, p["team"]))],
        }
