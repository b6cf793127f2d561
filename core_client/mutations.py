"""The mutations OpsPilot can make, and the canonical form of their arguments.

An approval is for one tool with exactly one set of arguments: a grant is bound to the sha256 of the arguments'
canonical JSON (sorted keys, no spaces). These argument models are the single definition of each mutation's
arguments: CoreClient hashes them, the MCP server takes them as tool inputs, and the Copilot's approval requests
are built from them, so all three agree on the hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from core_client.capabilities import Capability
from core_client.errors import BadQuery
from core_client.schemas import (
    CreateIncidentInput,
    CreateTicketInput,
    Message,
    PageOnCallInput,
    TimelineAppendInput,
    UpdateIncidentInput,
    UpdateTicketInput,
)


class MutationArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateIncidentArgs(MutationArgs):
    incident: CreateIncidentInput


class UpdateIncidentArgs(MutationArgs):
    incident_id: str
    changes: UpdateIncidentInput


class AppendTimelineNoteArgs(MutationArgs):
    incident_id: str
    note: TimelineAppendInput


class CreateTicketArgs(MutationArgs):
    ticket: CreateTicketInput


class UpdateTicketArgs(MutationArgs):
    ticket_id: str
    changes: UpdateTicketInput
    # OpsPilot's own: text added to the end of the description when the change is made, so whatever the ticket
    # says by then is kept (OpsOrch's contract has no comments, only a whole new description).
    append_description: str | None = None


class SendMessageArgs(MutationArgs):
    message: Message


class PageOnCallArgs(MutationArgs):
    page: PageOnCallInput


class WriteFileArgs(MutationArgs):
    path: str
    content: str
    overwrite: bool = False


class GenerateReportArgs(MutationArgs):
    path: str
    title: str
    markdown: str
    overwrite: bool = False


MUTATIONS: dict[str, type[MutationArgs]] = {
    "create_incident": CreateIncidentArgs,
    "update_incident": UpdateIncidentArgs,
    "append_timeline_note": AppendTimelineNoteArgs,
    "create_ticket": CreateTicketArgs,
    "update_ticket": UpdateTicketArgs,
    "send_message": SendMessageArgs,
    "page_oncall": PageOnCallArgs,
    "write_file": WriteFileArgs,
    "generate_report": GenerateReportArgs,
}


# The capability whose provider carries out each mutation; None: OpsPilot's own data folder.
MUTATION_CAPABILITY: dict[str, Capability | None] = {
    "create_incident": Capability.INCIDENT,
    "update_incident": Capability.INCIDENT,
    "append_timeline_note": Capability.INCIDENT,
    "create_ticket": Capability.TICKET,
    "update_ticket": Capability.TICKET,
    "send_message": Capability.MESSAGING,
    "page_oncall": Capability.TEAM,
    "write_file": None,
    "generate_report": None,
}


# What going wrong would cost: shown to the approver, and the default order of the approvals inbox.
RISKS: dict[str, str] = {
    "create_incident": "medium",
    "update_incident": "medium",
    "append_timeline_note": "low",
    "create_ticket": "low",
    "update_ticket": "low",
    "send_message": "medium",
    "page_oncall": "high",
    "write_file": "low",
    "generate_report": "low",
}


def risk_of(tool: str) -> str:
    """The risk of a mutation; a tool OpsPilot does not know (a foreign MCP server's) is ``high``."""
    return RISKS.get(tool, "high")


def is_mutation(tool: str) -> bool:
    return tool in MUTATIONS


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same arguments always give the same text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_arguments(tool: str, arguments: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    """The arguments of a call to ``tool`` in canonical form.

    Known mutations are validated and normalized through their model (unset fields dropped, camelCase inside
    inputs), so ``{"changes": {"status": "resolved"}}`` and the same with ``"severity": null`` hash alike.
    Other tools (from foreign MCP servers) are taken as given.
    """
    model = MUTATIONS.get(tool)
    if isinstance(arguments, BaseModel):
        data: Any = arguments
    elif model is not None:
        try:
            data = model.model_validate(dict(arguments))
        except ValidationError as exc:
            raise BadQuery(f"invalid arguments for {tool}: {exc.errors()[0]['msg']}", source=tool) from None
    else:
        return json.loads(canonical_json(dict(arguments)))
    return data.model_dump(mode="json", by_alias=True, exclude_none=True)


def arguments_digest(tool: str, arguments: Mapping[str, Any] | BaseModel) -> tuple[str, str]:
    """The canonical JSON of the arguments and its sha256 (hex)."""
    text = canonical_json(canonical_arguments(tool, arguments))
    return text, hashlib.sha256(text.encode()).hexdigest()
