"""The spend ledger: per campaign per ad day, intraday samples, and which days are held.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('spend_days',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('conversions', sa.Integer(), nullable=False),
    sa.Column('daily_budget', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'campaign_id', 'day', name=op.f('pk_spend_days'))
    )
    with op.batch_alter_table('spend_days', schema=None) as batch_op:
        batch_op.create_index('ix_spend_days_account_day', ['account', 'day'], unique=False)

    op.create_table('spend_samples',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('sampled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.Column('conversions', sa.Integer(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('account', 'campaign_id', 'sampled_at', name=op.f('pk_spend_samples'))
    )
    with op.batch_alter_table('spend_samples', schema=None) as batch_op:
        batch_op.create_index('ix_spend_samples_account_sampled_at', ['account', 'sampled_at'], unique=False)

    op.create_table('spend_coverage',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=True),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('account', name=op.f('pk_spend_coverage'))
    )


def downgrade() -> None:
    op.drop_table('spend_coverage')
    with op.batch_alter_table('spend_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_spend_samples_account_sampled_at')

    op.drop_table('spend_samples')
    with op.batch_alter_table('spend_days', schema=None) as batch_op:
        batch_op.drop_index('ix_spend_days_account_day')

    op.drop_table('spend_days')
