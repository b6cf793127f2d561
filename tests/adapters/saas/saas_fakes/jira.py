"""A fake Jira Cloud REST API v3: Basic auth, JQL search with nextPageToken pages, issues with ADF descriptions,
and a To Do -> In Progress -> Done workflow whose status changes go through transitions."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from saas_fakes.openapi import Exchange
from saas_fakes.server import Reply

SITE = "https://acme.atlassian.net"
ACCOUNTS = {"acc-ada": "Ada Lovelace", "acc-alan": "Alan Turing"}
# status -> [(transition id, transition name, target status)]
WORKFLOW = {
    "To Do": [("11", "Start progress", "In Progress"), ("31", "Done", "Done")],
    "In Progress": [("21", "Stop progress", "To Do"), ("31", "Done", "Done")],
    "Done": [("41", "Reopen", "To Do")],
}
STATUS_IDS = {"To Do": "10000", "In Progress": "3", "Done": "10001"}
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(\(|\)|,|=|~|!=)|([A-Za-z_][A-Za-z0-9_.]*))')


def errors(status: int, *messages: str) -> Reply:
    return Reply(status, {"errorMessages": list(messages), "errors": {}})


def parse_jql(jql: str) -> list[tuple[str, str, list[str]]]:
    """``field op value`` clauses joined by AND (the subset the adapter writes), strings unescaped."""
    where = re.split(r"\s+ORDER BY\s+", jql)[0]
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(where):
        match = _TOKEN.match(where, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot parse JQL at {where[pos:]!r}")
        pos = match.end()
        if match.group(1) is not None:
            tokens.append(("str", re.sub(r"\\(.)", r"\1", match.group(1))))
        elif match.group(2):
            tokens.append(("op", match.group(2)))
        elif match.group(3):
            tokens.append(("word", match.group(3)))
    clauses: list[tuple[str, str, list[str]]] = []
    i = 0
    while i < len(tokens):
        name, op = tokens[i][1], tokens[i + 1][1]
        if op == "in":
            values, i = [], i + 3
            while tokens[i] != ("op", ")"):
                if tokens[i][0] == "str":
                    values.append(tokens[i][1])
                i += 1
            i += 1
        else:
            if tokens[i + 2][0] != "str":
                raise ValueError(f"unquoted value {tokens[i + 2][1]!r}")
            values, i = [tokens[i + 2][1]], i + 3
        clauses.append((name, op, values))
        if i < len(tokens):
            if tokens[i] != ("word", "AND"):
                raise ValueError(f"expected AND, got {tokens[i][1]!r}")
            i += 1
    return clauses


@dataclass
class JiraFake:
    email: str
    token: str
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    searches: list[str] = field(default_factory=list)

    @classmethod
    def seeded(cls, email: str, token: str) -> JiraFake:
        fake = cls(email, token)
        for n in range(1, 13):
            fake._new(
                f"Checkout alert {n}" if n % 2 else f"Search latency {n}",
                description=None
                if n > 2
                else {
                    "type": "doc",
                    "version": 1,
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": f"Issue body {n}"}]}
                    ],
                },
                labels=["team-payments"] if n % 2 else ["team-search"],
                components=["checkout"] if n % 2 else ["search"],
                status=("To Do", "In Progress", "Done")[n % 3],
                assignee="acc-ada" if n % 4 == 1 else None,
            )
        return fake

    def _new(
        self,
        summary: str,
        *,
        description: Any,
        labels: list[str],
        components: list[str],
        status: str = "To Do",
        assignee: str | None = None,
    ) -> dict[str, Any]:
        number = len(self.issues) + 1
        issue = {
            "id": str(10000 + number),
            "key": f"OPS-{number}",
            "summary": summary,
            "description": description,
            "labels": labels,
            "components": components,
            "status": status,
            "assignee": assignee,
            "updated": f"2025-03-01T{number:02d}:00:00.000+0000",
        }
        self.issues[issue["key"]] = issue
        return issue

    def _user(self, account: str) -> dict[str, Any]:
        return {
            "accountId": account,
            "displayName": ACCOUNTS[account],
            "active": True,
            "accountType": "atlassian",
            "self": f"{SITE}/rest/api/3/user?accountId={account}",
        }

    def _doc(self, issue: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "summary": issue["summary"],
            "description": issue["description"],
            "status": {
                "id": STATUS_IDS[issue["status"]],
                "name": issue["status"],
                "self": f"{SITE}/rest/api/3/status/1",
            },
            "assignee": self._user(issue["assignee"]) if issue["assignee"] else None,
            "reporter": self._user("acc-alan"),
            "created": "2025-03-01T00:00:00.000+0000",
            "updated": issue["updated"],
            "priority": {"id": "3", "name": "Medium"},
            "labels": issue["labels"],
            "components": [{"id": "100", "name": c} for c in issue["components"]],
            "issuetype": {"id": "10002", "name": "Task"},
            "project": {"id": "10000", "key": "OPS", "name": "Operations"},
        }
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{SITE}/rest/api/3/issue/{issue['id']}",
            "fields": fields,
        }

    def handle(self, ex: Exchange) -> Reply:
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if ex.headers.get("authorization") != expected:
            return Reply(401, None)
        body = json.loads(ex.body) if ex.body else {}
        parts = ex.path.strip("/").split("/")[3:]
        match (ex.method, parts):
            case ("GET", ["myself"]):
                return Reply(200, self._user("acc-alan"))
            case ("POST", ["search", "jql"]):
                return self._search(body)
            case ("POST", ["issue"]):
                return self._create(body)
            case ("GET", ["issue", key]):
                issue = self.issues.get(key)
                return (
                    Reply(200, self._doc(issue))
                    if issue
                    else errors(404, "Issue does not exist or you do not have permission to see it.")
                )
            case ("PUT", ["issue", key]):
                return self._edit(key, body)
            case ("GET", ["issue", key, "transitions"]):
                issue = self.issues.get(key)
                if issue is None:
                    return errors(404, "Issue does not exist or you do not have permission to see it.")
                return Reply(
                    200,
                    {
                        "transitions": [
                            {
                                "id": tid,
                                "name": name,
                                "isAvailable": True,
                                "to": {
                                    "id": STATUS_IDS[target],
                                    "name": target,
                                    "self": f"{SITE}/rest/api/3/status/1",
                                },
                            }
                            for tid, name, target in WORKFLOW[issue["status"]]
                        ]
                    },
                )
            case ("POST", ["issue", key, "transitions"]):
                issue = self.issues.get(key)
                if issue is None:
                    return errors(404, "Issue does not exist or you do not have permission to see it.")
                wanted = str((body.get("transition") or {}).get("id"))
                target = next((t for tid, _, t in WORKFLOW[issue["status"]] if tid == wanted), None)
                if target is None:
                    return errors(400, f"Transition id '{wanted}' is not valid for this issue.")
                issue["status"] = target
                return Reply(204, None)
        return errors(404, "Not found")

    def _matches(self, issue: dict[str, Any], clause: tuple[str, str, list[str]]) -> bool:
        name, _op, values = clause
        match name:
            case "project":
                return values == ["OPS"]
            case "text":
                return values[0].lower() in issue["summary"].lower()
            case "status":
                return issue["status"] in values
            case "assignee":
                return issue["assignee"] in values
            case "reporter":
                return values == ["acc-alan"]
            case "component":
                return bool(set(values) & set(issue["components"]))
            case "labels":
                return bool(set(values) & set(issue["labels"]))
        raise ValueError(f"unknown field {name!r}")

    def _search(self, body: dict[str, Any]) -> Reply:
        self.searches.append(body["jql"])
        try:
            clauses = parse_jql(body["jql"])
            found = [i for i in self.issues.values() if all(self._matches(i, c) for c in clauses)]
        except (ValueError, IndexError) as exc:
            return errors(400, f"Error in the JQL Query: {exc}")
        found.sort(key=lambda i: i["updated"], reverse=True)
        start = int(base64.b64decode(body["nextPageToken"])) if body.get("nextPageToken") else 0
        size = min(int(body.get("maxResults", 50)), 100)
        window = found[start : start + size]
        result: dict[str, Any] = {
            "issues": [self._doc(i) for i in window],
            "isLast": start + size >= len(found),
        }
        if not result["isLast"]:
            result["nextPageToken"] = base64.b64encode(str(start + size).encode()).decode()
        return Reply(200, result)

    def _create(self, body: dict[str, Any]) -> Reply:
        fields = body.get("fields") or {}
        if (fields.get("project") or {}).get("key") != "OPS":
            return Reply(400, {"errorMessages": [], "errors": {"project": "valid project is required"}})
        if not fields.get("summary"):
            return Reply(
                400, {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}
            )
        issue = self._new(
            fields["summary"],
            description=fields.get("description"),
            labels=fields.get("labels", []),
            components=[c["name"] for c in fields.get("components", [])],
        )
        return Reply(
            201, {"id": issue["id"], "key": issue["key"], "self": f"{SITE}/rest/api/3/issue/{issue['id']}"}
        )

    def _edit(self, key: str, body: dict[str, Any]) -> Reply:
        issue = self.issues.get(key)
        if issue is None:
            return errors(404, "Issue does not exist or you do not have permission to see it.")
        fields = body.get("fields") or {}
        if "assignee" in fields:
            account = (fields["assignee"] or {}).get("accountId")
            if account is not None and account not in ACCOUNTS:
                return Reply(
                    400, {"errorMessages": [], "errors": {"assignee": f"User '{account}' does not exist."}}
                )
            issue["assignee"] = account
        for name in ("summary", "description", "labels"):
            if name in fields:
                issue[name] = fields[name]
        if "components" in fields:
            issue["components"] = [c["name"] for c in fields["components"]]
        # Jira's verbs (``update: {"labels": [{"add": "x"}, {"remove": "y"}]}``) edit a list in place.
        for name, operations in (body.get("update") or {}).items():
            if name not in ("labels", "components"):
                return errors(400, f"Field '{name}' cannot be set with update verbs here.")
            for operation in operations:
                for verb, value in operation.items():
                    item = value["name"] if name == "components" else value
                    if verb == "add" and item not in issue[name]:
                        issue[name].append(item)
                    elif verb == "remove" and item in issue[name]:
                        issue[name].remove(item)
                    elif verb not in ("add", "remove"):
                        return errors(400, f"Unsupported verb {verb!r}.")
        return Reply(204, None)
