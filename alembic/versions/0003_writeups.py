"""Write-ups: what evidence says about when and whose it is, and the proposals offered from finished runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('evidence') as batch:
        batch.add_column(sa.Column('at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('service', sa.String(), nullable=True))
        batch.add_column(sa.Column('label', sa.Text(), nullable=False, server_default=''))
    op.create_table('proposals',
    sa.Column('run_id', sa.String(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('follow_up_id', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ),
    sa.ForeignKeyConstraint(['follow_up_id'], ['runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'key')
    )
    op.create_index('ix_proposals_follow_up_id', 'proposals', ['follow_up_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_proposals_follow_up_id', table_name='proposals')
    op.drop_table('proposals')
    with op.batch_alter_table('evidence') as batch:
        batch.drop_column('label')
        batch.drop_column('service')
        batch.drop_column('at')
