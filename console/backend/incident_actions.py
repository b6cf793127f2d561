"""What a person can do to an incident from its page: change its status or severity, add a note, ask the Copilot."""

from __future__ import annotations

from console.backend.actions import Outcome, act
from core_client.client import CoreClient
from core_client.errors import BadQuery
from core_client.identity import Actor
from core_client.mutations import AppendTimelineNoteArgs, UpdateIncidentArgs
from core_client.schemas import Incident, TimelineAppendInput, TimelineEntry, UpdateIncidentInput

MAX_NOTE_CHARS = 4_000


async def change_incident(
    core: CoreClient,
    actor: Actor,
    incident_id: str,
    *,
    environment: str | None,
    status: str | None = None,
    severity: str | None = None,
) -> Outcome[Incident]:
    """Set the incident's status and/or severity under the approval policy."""
    changes = UpdateIncidentInput(status=status or None, severity=severity or None)
    if changes.status is None and changes.severity is None:
        raise BadQuery("choose a new status or severity", source="update_incident")
    what = " and ".join(
        f"{name} of {incident_id} set to {value}"
        for name, value in (("status", changes.status), ("severity", changes.severity))
        if value
    )
    return await act(
        core,
        actor,
        "update_incident",
        UpdateIncidentArgs(incident_id=incident_id, changes=changes),
        environment=environment,
        run=lambda grant: core.incidents.update(
            incident_id, changes, actor=actor, grant=grant, environment=environment
        ),
        what=what,
    )


async def add_note(
    core: CoreClient, actor: Actor, incident_id: str, body: str, *, environment: str | None
) -> Outcome[TimelineEntry]:
    """Append a note, signed by the person, to the incident's timeline under the approval policy."""
    text = body.strip()
    if not text:
        raise BadQuery("the note is empty", source="append_timeline_note")
    if len(text) > MAX_NOTE_CHARS:
        raise BadQuery(f"a note has at most {MAX_NOTE_CHARS} characters", source="append_timeline_note")
    note = TimelineAppendInput(kind="note", body=text, actor={"id": actor.user, "via": actor.via})
    return await act(
        core,
        actor,
        "append_timeline_note",
        AppendTimelineNoteArgs(incident_id=incident_id, note=note),
        environment=environment,
        run=lambda grant: core.incidents.append_timeline(
            incident_id, note, actor=actor, grant=grant, environment=environment
        ),
        what=f"note added to {incident_id}",
    )


def investigation_question(incident_id: str, title: str, service: str) -> str:
    """What the Investigate button asks the Copilot about one incident."""
    on = f" on {service}" if service else ""
    return f"Investigate incident {incident_id}{on} ({title}): what is the root cause, and what should we do?"
