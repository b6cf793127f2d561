"""The Copilot's tables: conversations, runs, run steps, tool calls, evidence.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('conversations',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('user', sa.String(), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_conversations_user', 'conversations', ['user'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('conversation_id', sa.String(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('page', sa.JSON(), nullable=False),
    sa.Column('user', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('planner', sa.String(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('step_count', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.Column('active_seconds', sa.Float(), nullable=False),
    sa.Column('memory', sa.JSON(), nullable=False),
    sa.Column('pending_calls', sa.JSON(), nullable=False),
    sa.Column('pending_request_id', sa.String(), nullable=True),
    sa.Column('answer', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('lease_owner', sa.String(), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_runs_conversation_id', 'runs', ['conversation_id'], unique=False)
    op.create_index('ix_runs_created_at', 'runs', ['created_at'], unique=False)
    op.create_index('ix_runs_lease_expires_at', 'runs', ['lease_expires_at'], unique=False)
    op.create_index('ix_runs_pending_request_id', 'runs', ['pending_request_id'], unique=False)
    op.create_index('ix_runs_state', 'runs', ['state'], unique=False)
    op.create_index('ix_runs_user', 'runs', ['user'], unique=False)

    op.create_table('run_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('from_state', sa.String(), nullable=True),
    sa.Column('to_state', sa.String(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'seq', name='uq_run_steps_run_seq')
    )
    op.create_index('ix_run_steps_run_id', 'run_steps', ['run_id'], unique=False)

    op.create_table('tool_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('call_id', sa.String(), nullable=False),
    sa.Column('tool', sa.String(), nullable=False),
    sa.Column('arguments', sa.JSON(), nullable=False),
    sa.Column('request_id', sa.String(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ok', sa.Boolean(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('structured', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'call_id', name='uq_tool_calls_run_call')
    )
    op.create_index('ix_tool_calls_run_id', 'tool_calls', ['run_id'], unique=False)
    op.create_index('ix_tool_calls_tool', 'tool_calls', ['tool'], unique=False)

    op.create_table('evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('call_id', sa.String(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('ref', sa.String(), nullable=False),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.Column('link', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_evidence_evidence_id', 'evidence', ['evidence_id'], unique=False)
    op.create_index('ix_evidence_run_id', 'evidence', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_evidence_run_id', table_name='evidence')
    op.drop_index('ix_evidence_evidence_id', table_name='evidence')
    op.drop_table('evidence')
    op.drop_index('ix_tool_calls_tool', table_name='tool_calls')
    op.drop_index('ix_tool_calls_run_id', table_name='tool_calls')
    op.drop_table('tool_calls')
    op.drop_index('ix_run_steps_run_id', table_name='run_steps')
    op.drop_table('run_steps')
    op.drop_index('ix_runs_user', table_name='runs')
    op.drop_index('ix_runs_state', table_name='runs')
    op.drop_index('ix_runs_pending_request_id', table_name='runs')
    op.drop_index('ix_runs_lease_expires_at', table_name='runs')
    op.drop_index('ix_runs_created_at', table_name='runs')
    op.drop_index('ix_runs_conversation_id', table_name='runs')
    op.drop_table('runs')
    op.drop_index('ix_conversations_user', table_name='conversations')
    op.drop_table('conversations')
