"""core_client's storage: SQLModel tables, the database connection and the migration entry point."""

from core_client.store.database import Database, engine_url, make_engine
from core_client.store.migrations import alembic_config, migrate
from core_client.store.tables import (
    ApiToken,
    ApprovalRequest,
    AuditAction,
    AuditEvent,
    ConsoleSession,
    Grant,
    GrantState,
    RequestStatus,
    SignInFailures,
    User,
)
from core_client.store.types import UtcDateTime

__all__ = [
    "ApiToken",
    "ApprovalRequest",
    "AuditAction",
    "AuditEvent",
    "ConsoleSession",
    "Database",
    "Grant",
    "GrantState",
    "RequestStatus",
    "SignInFailures",
    "User",
    "UtcDateTime",
    "alembic_config",
    "engine_url",
    "make_engine",
    "migrate",
]
