"""Initial schema: proposals, audit log, alerts and the scheduled-run ledger.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 20:37:46.251282
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_alerts'))
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('proposal_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_name', sa.String(length=500), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=True),
    sa.Column('from_amount', sa.BigInteger(), nullable=True),
    sa.Column('to_amount', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_proposal_id'), ['proposal_id'], unique=False)

    op.create_table('job_runs',
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('slot', sa.String(length=64), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job', 'slot', name=op.f('pk_job_runs'))
    )
    op.create_table('proposals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_name', sa.String(length=500), nullable=False),
    sa.Column('rule', sa.String(length=200), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('from_amount', sa.BigInteger(), nullable=False),
    sa.Column('to_amount', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('channel', sa.String(length=64), nullable=True),
    sa.Column('message_ts', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_proposals'))
    )
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proposals_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proposals_state'), ['state'], unique=False)
        batch_op.create_index('uq_proposals_open_campaign', ['campaign_id'], unique=True, sqlite_where=sa.text("state IN ('pending', 'approved', 'applying')"), postgresql_where=sa.text("state IN ('pending', 'approved', 'applying')"))



def downgrade() -> None:
    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_index('uq_proposals_open_campaign', sqlite_where=sa.text("state IN ('pending', 'approved', 'applying')"), postgresql_where=sa.text("state IN ('pending', 'approved', 'applying')"))
        batch_op.drop_index(batch_op.f('ix_proposals_state'))
        batch_op.drop_index(batch_op.f('ix_proposals_campaign_id'))

    op.drop_table('proposals')
    op.drop_table('job_runs')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_proposal_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_campaign_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
    op.drop_table('alerts')
