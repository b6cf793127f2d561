"""What the demo world and the data folder hold, to see whether (and how) a mutation changed them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from core_client.settings import load_settings

# The tables a mutation of the demo world writes to; every write also remembers its idempotency key.
TABLES = ("incident", "timeline", "ticket", "message", "page_request", "idempotency")
INCIDENT = "INC-4033"
TICKET = "OPS-1202"

State = dict[str, int | str]


def world_state(world: Path) -> State:
    """Row counts of the written tables, the status of one incident and one ticket, and the data folder's files."""
    settings = load_settings()
    with sqlite3.connect(f"file:{world}?mode=ro", uri=True) as conn:
        state: State = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES
        }
        # OpsPilot's own notices to approvers (core_client/notices.py) are not a change a tool call made.
        state["message"] = conn.execute(
            "SELECT count(*) FROM message WHERE channel != ?", (settings.approver_channel,)
        ).fetchone()[0]
        state[INCIDENT] = conn.execute("SELECT status FROM incident WHERE id = ?", (INCIDENT,)).fetchone()[0]
        state[TICKET] = conn.execute("SELECT status FROM ticket WHERE id = ?", (TICKET,)).fetchone()[0]
    files = settings.resolved_files_dir
    state["files"] = sum(1 for path in files.rglob("*") if path.is_file()) if files.is_dir() else 0
    return state


def changes(before: State, after: State) -> dict[str, int | str]:
    """What differs: counts as their increase, statuses as their new value."""
    diff: dict[str, int | str] = {}
    for key, value in after.items():
        earlier = before[key]
        if value != earlier:
            diff[key] = value - earlier if isinstance(value, int) and isinstance(earlier, int) else value
    return diff
