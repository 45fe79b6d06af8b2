"""Money safety: approval versions, apply leases, what the channel was told, unconfirmed writes.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

OLD_OPEN = "state IN ('pending', 'approved', 'applying')"
NEW_OPEN = "state IN ('pending', 'approved', 'applying', 'unconfirmed')"


def _open_index(where: str) -> None:
    op.create_index(
        'uq_proposals_open_campaign', 'proposals', ['campaign_id'], unique=True,
        sqlite_where=sa.text(where), postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.drop_index('uq_proposals_open_campaign', table_name='proposals')
    with op.batch_alter_table('proposals') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch.add_column(sa.Column('action', sa.String(length=32), server_default='set_daily_budget', nullable=False))
        batch.add_column(sa.Column('edited_by', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('lease_owner', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('shown_state', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('telling_until', sa.DateTime(timezone=True), nullable=True))
    # Messages posted before this version showed the state their proposal had then, or were redrawn.
    op.execute("UPDATE proposals SET shown_state = state WHERE message_ts IS NOT NULL")
    _open_index(NEW_OPEN)
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('told_severity', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('told_active', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('telling_until', sa.DateTime(timezone=True), nullable=True))
    # Alerts stored before this version were announced when they were stored.
    op.execute("UPDATE alerts SET told_severity = severity, told_active = active")


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        for name in ('telling_until', 'told_active', 'told_severity'):
            batch.drop_column(name)
    op.drop_index('uq_proposals_open_campaign', table_name='proposals')
    with op.batch_alter_table('proposals') as batch:
        for name in ('telling_until', 'shown_state', 'lease_until', 'lease_owner', 'edited_by', 'action', 'version'):
            batch.drop_column(name)
    _open_index(OLD_OPEN)
