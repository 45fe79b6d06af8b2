"""Rules that act: each proposal's mode, and the switches the team flips (automation on or off).

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposals') as batch:
        batch.add_column(sa.Column('mode', sa.String(length=16), nullable=False, server_default='propose'))
    op.create_index('ix_proposals_rule_campaign', 'proposals', ['rule', 'campaign_id', 'created_at'])
    op.create_table(
        'switches',
        sa.Column('name', sa.String(length=64), primary_key=True),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('changed_by', sa.String(length=64), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('switches')
    op.drop_index('ix_proposals_rule_campaign', table_name='proposals')
    with op.batch_alter_table('proposals') as batch:
        batch.drop_column('mode')
