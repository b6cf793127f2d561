"""Grants stored by the sha256 of their id, with a nonce the id derives from and the holder they are bound to;
stranded claims; one pending request per change; API tokens expire.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tokens issued before expiry existed get the default lifetime from now on.
LEGACY_TOKEN_DAYS = 90


def upgrade() -> None:
    connection = op.get_bind()
    old = connection.execute(
        sa.text(
            "SELECT g.id, g.request_id, r.requested_by, g.tool, g.arguments_sha256, g.created_at, g.expires_at, "
            "g.state, g.claimed_at, g.spent_at FROM grants g JOIN approval_requests r ON r.id = g.request_id"
        )
    ).all()
    op.drop_index("ix_grants_request_id", table_name="grants")
    op.drop_table("grants")
    op.create_table(
        "grants",
        sa.Column("id_sha256", sa.String(), nullable=False),
        sa.Column("nonce", sa.String(), nullable=True),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("tool", sa.String(), nullable=False),
        sa.Column("arguments_sha256", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["approval_requests.id"]),
        sa.PrimaryKeyConstraint("id_sha256"),
    )
    op.create_index("ix_grants_request_id", "grants", ["request_id"], unique=False)
    # Grants made before keep working for whoever holds their id, bound to their requester; having no nonce,
    # their id cannot be looked up again. Copied with text binds: SQLite hands dates back as text.
    for grant_id, request_id, holder, tool, sha, created_at, expires_at, state, claimed_at, spent_at in old:
        connection.execute(
            sa.text(
                "INSERT INTO grants (id_sha256, nonce, request_id, holder, tool, arguments_sha256, created_at, "
                "expires_at, state, claimed_at, claimed_until, spent_at) VALUES (:id_sha256, NULL, :request_id, "
                ":holder, :tool, :sha, :created_at, :expires_at, :state, :claimed_at, NULL, :spent_at)"
            ),
            {
                "id_sha256": hashlib.sha256(grant_id.encode()).hexdigest(),
                "request_id": request_id,
                "holder": holder,
                "tool": tool,
                "sha": sha,
                "created_at": created_at,
                "expires_at": expires_at,
                "state": state,
                "claimed_at": claimed_at,
                "spent_at": spent_at,
            },
        )

    # A plain column and a unique index: SQLite adds both in place (a table rebuild would trip the grants' key).
    op.add_column("approval_requests", sa.Column("pending_key", sa.String(), nullable=True))
    op.create_index("ix_approval_requests_pending_key", "approval_requests", ["pending_key"], unique=True)

    connection.execute(
        sa.text("UPDATE api_tokens SET expires_at = :at WHERE expires_at IS NULL"),
        {"at": datetime.now(UTC) + timedelta(days=LEGACY_TOKEN_DAYS)},
    )


def downgrade() -> None:
    op.drop_index("ix_approval_requests_pending_key", table_name="approval_requests")
    op.drop_column("approval_requests", "pending_key")
    # Grant ids cannot be recovered from their hashes: unspent grants are dropped (their requests need a new
    # approval) and the hashes stand in for the ids.
    op.execute("DELETE FROM grants WHERE state <> 'spent'")
    with op.batch_alter_table("grants", recreate="always") as batch:
        batch.alter_column("id_sha256", new_column_name="id")
        batch.drop_column("nonce")
        batch.drop_column("holder")
        batch.drop_column("claimed_until")
