"""Undo: a proposal may reverse an applied one, once.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

LIVE_UNDO = "undoes IS NOT NULL AND state IN ('pending', 'approved', 'applying', 'unconfirmed', 'applied')"


def upgrade() -> None:
    with op.batch_alter_table('proposals') as batch:
        batch.add_column(sa.Column('undoes', sa.Integer(), nullable=True))
    op.create_index(
        'uq_proposals_undoes', 'proposals', ['undoes'], unique=True,
        sqlite_where=sa.text(LIVE_UNDO), postgresql_where=sa.text(LIVE_UNDO),
    )


def downgrade() -> None:
    op.drop_index('uq_proposals_undoes', table_name='proposals')
    with op.batch_alter_table('proposals') as batch:
        batch.drop_column('undoes')
