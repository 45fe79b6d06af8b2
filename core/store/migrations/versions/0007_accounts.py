"""Several ad accounts: every proposal, audit entry, alert, switch and scheduled run belongs to one; a run's end.

Rows written before belong to the account `default`, the single-account setup's.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN = "state IN ('pending', 'approved', 'applying', 'unconfirmed')"
LIVE_UNDO = "undoes IS NOT NULL AND state IN ('pending', 'approved', 'applying', 'unconfirmed', 'applied')"
KEYS = {'alerts': ['key'], 'switches': ['name'], 'job_runs': ['job', 'slot']}


def _account() -> sa.Column:
    return sa.Column('account', sa.String(length=64), nullable=False, server_default='default')


def _proposal_indexes(account: list[str]) -> None:
    op.create_index(
        'uq_proposals_open_campaign', 'proposals', [*account, 'campaign_id'], unique=True,
        sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        'uq_proposals_undoes', 'proposals', [*account, 'undoes'], unique=True,
        sqlite_where=sa.text(LIVE_UNDO), postgresql_where=sa.text(LIVE_UNDO),
    )
    op.create_index('ix_proposals_rule_campaign', 'proposals', [*account, 'rule', 'campaign_id', 'created_at'])


def _drop_proposal_indexes() -> None:
    for name in ('uq_proposals_open_campaign', 'uq_proposals_undoes', 'ix_proposals_rule_campaign'):
        op.drop_index(name, table_name='proposals')


def upgrade() -> None:
    _drop_proposal_indexes()
    for table in ('proposals', 'audit_log'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(_account())
    _proposal_indexes(['account'])
    op.create_index('ix_proposals_account_state', 'proposals', ['account', 'state'])
    op.create_index('ix_audit_log_account_at', 'audit_log', ['account', 'at'])
    for table, key in KEYS.items():
        with op.batch_alter_table(table, recreate='always') as batch:
            batch.add_column(_account())
            batch.drop_constraint(f'pk_{table}', type_='primary')
            batch.create_primary_key(f'pk_{table}', ['account', *key])
    with op.batch_alter_table('job_runs') as batch:
        batch.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job_runs') as batch:
        batch.drop_column('finished_at')
    for table, key in KEYS.items():
        op.execute(f"DELETE FROM {table} WHERE account <> 'default'")
        with op.batch_alter_table(table, recreate='always') as batch:
            batch.drop_constraint(f'pk_{table}', type_='primary')
            batch.create_primary_key(f'pk_{table}', key)
            batch.drop_column('account')
    _drop_proposal_indexes()
    op.drop_index('ix_proposals_account_state', table_name='proposals')
    op.drop_index('ix_audit_log_account_at', table_name='audit_log')
    for table in ('proposals', 'audit_log'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('account')
    _proposal_indexes([])
