"""The tables core_client owns: users, API tokens, console sessions, approval requests, grants and audit events.

Users are referred to by username in approvals and audit rows (not by foreign key): the trail must outlive a
user's removal, and the Copilot acts on behalf of a username.
"""

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Text
from sqlmodel import Field, SQLModel

from core_client.identity import Actor, Channel, Role
from core_client.store.types import UtcDateTime

RequestStatus = Literal[
    "pending", "approved", "rejected", "expired", "executed", "withdrawn", "outcome_unknown"
]
# ``unknown``: a stranded claim whose provider cannot say whether the call happened; a person checks it.
GrantState = Literal["issued", "claimed", "spent", "unknown"]
AuditAction = Literal[
    "requested",
    "approved",
    "rejected",
    "expired",
    "executed",
    "refused",
    "failed",
    "withdrawn",
    "outcome_unknown",
    # Accounts and sign-in (tool "users" or "sign-in").
    "user_added",
    "user_changed",
    "token_issued",
    "token_revoked",
    "signed_in",
    "sign_in_failed",
    "sign_in_locked",
]


class User(SQLModel, table=True):
    """A local user: a person with a role, signing in with a password and/or API tokens."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True)
    display_name: str = ""
    email: str | None = None
    role: str
    password_hash: str | None = None
    disabled: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)

    def actor(self, via: Channel = "console") -> Actor:
        """This user acting in person through ``via``."""
        return Actor(user=self.username, role=Role(self.role), via=via)


class ApiToken(SQLModel, table=True):
    """A per-user API token for the CLI and MCP over HTTP; only the sha256 of its secret is kept."""

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    label: str = ""
    secret_sha256: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ConsoleSession(SQLModel, table=True):
    """A signed-in console session; the primary key is the sha256 of the session token."""

    __tablename__ = "console_sessions"

    token_sha256: str = Field(primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)


class SignInFailures(SQLModel, table=True):
    """Failed sign-ins counted against one account or one client address (``account:<name>``, ``client:<ip>``),
    shared by every worker; a row goes once its window passes or its account signs in."""

    __tablename__ = "sign_in_failures"

    key: str = Field(primary_key=True)
    failures: int = 0
    first_at: datetime = Field(sa_type=UtcDateTime)
    last_at: datetime = Field(sa_type=UtcDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ApprovalRequest(SQLModel, table=True):
    """A mutation waiting for (or given) a person's decision, bound to its exact arguments and its requester."""

    __tablename__ = "approval_requests"

    id: str = Field(primary_key=True)
    tool: str
    arguments: str = Field(sa_type=Text)
    arguments_sha256: str
    requested_by: str
    requester_is_copilot: bool = False
    run_id: str | None = Field(default=None, index=True)
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    risk: str = ""
    environment: str | None = None
    status: str = Field(default="pending", index=True)
    # While pending: what makes the same change asked twice (tool, arguments, requester); unique, so a repeated
    # ask finds this request. Cleared when the request is decided, expires or is withdrawn.
    pending_key: str | None = Field(default=None, unique=True, index=True)
    created_at: datetime = Field(sa_type=UtcDateTime, index=True)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    decision_reason: str | None = None


class Grant(SQLModel, table=True):
    """Permission for one person to run one tool once with one set of arguments; spent only when the mutation
    succeeds.

    The grant id itself is never stored: the row is keyed by its sha256, and the id is derived from ``nonce`` with
    the server's key (core_client/server_key.py), so only the server can hand it again to its ``holder`` (the
    requester; a Copilot run acting for them counts as them). ``claimed_until`` is when a claimed call must have
    ended: past it, the claim is stranded (its worker died) and is recovered.
    """

    __tablename__ = "grants"

    id_sha256: str = Field(primary_key=True)
    nonce: str | None = None
    request_id: str = Field(foreign_key="approval_requests.id", index=True)
    holder: str = ""
    tool: str
    arguments_sha256: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    state: str = "issued"
    claimed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    spent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AuditEvent(SQLModel, table=True):
    """One line of the audit trail: who did what, with which arguments, and what came of it."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, index=True)
    actor: str
    actor_user: str = Field(index=True)
    action: str = Field(index=True)
    tool: str = Field(index=True)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    request_id: str | None = Field(default=None, index=True)
    grant_id: str | None = None
    environment: str | None = None
