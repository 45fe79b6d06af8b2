"""Alert messages: where each alert was first told, snoozes and acknowledgements.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COLUMNS = ('acknowledged_by', 'snoozed_by', 'snoozed_until', 'message_ts', 'message_channel')


def upgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('message_channel', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('message_ts', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('snoozed_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('snoozed_by', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('acknowledged_by', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        for name in COLUMNS:
            batch.drop_column(name)
