"""Table definitions of the store; the Alembic migrations create exactly these."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, MetaData, String, Text, TypeDecorator, text
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.schema import Index

from core.money import cents
from core.proposals import OPEN, ProposalState


class Cents(TypeDecorator[Decimal]):
    """Money kept as whole cents: exact on SQLite, which has no decimal type, and on PostgreSQL."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int(cents(Decimal(value)) * 100)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


ACCOUNT_LENGTH = 64
DEFAULT_ACCOUNT = "default"
"""The ad account of the single-account setup, and of every row written before there were several."""


class AccountScoped:
    """A table whose rows belong to one ad account: a store for an account reads and writes only its rows.

    Where the table's key is a name (an alert's, a switch's, a job's) the account leads that key."""

    account_in_key: ClassVar[bool] = False

    @declared_attr
    def account(cls) -> Mapped[str]:
        return mapped_column(
            String(ACCOUNT_LENGTH),
            primary_key=cls.account_in_key,
            default=DEFAULT_ACCOUNT,
            server_default=DEFAULT_ACCOUNT,
            sort_order=-1,
        )


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


OPEN_STATES_SQL = "state IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN))
LIVE_UNDO_SQL = "undoes IS NOT NULL AND state IN ({})".format(
    ", ".join(f"'{s.value}'" for s in (*OPEN, ProposalState.APPLIED))
)
"""An applied proposal is undone at most once: one undo open or applied per proposal."""
"""The states of core.proposals.OPEN, for the partial index that keeps one open proposal per campaign."""


class ProposalRow(Base, AccountScoped):
    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, index=True)
    campaign_name: Mapped[str] = mapped_column(String(500))
    rule: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(16))
    from_amount: Mapped[Decimal] = mapped_column(Cents)
    to_amount: Mapped[Decimal] = mapped_column(Cents)
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)
    """JSON of the numbers behind the proposal."""
    notes: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of guardrail trims."""
    state: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_ts: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    """The outcome in words: the API's message on failure, why it went stale."""
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Moves with every edit of the amount; an approval names the version it approves."""
    action: Mapped[str] = mapped_column(String(32), default="set_daily_budget", server_default="set_daily_budget")
    edited_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    """The process applying it (or confirming an unconfirmed write); nobody else touches it while the lease holds."""
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    shown_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    """The state the channel message last showed; a message behind its proposal is redrawn by a later check."""
    telling_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    """A process is posting or redrawing the message until then: nobody else posts it meanwhile."""
    undoes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The applied proposal this one reverses."""
    mode: Mapped[str] = mapped_column(String(16), default="propose", server_default="propose")
    """The rule's mode when it was made: propose, notify (told, never written) or auto (applied without a click)."""

    __table_args__ = (
        # At most one open proposal per campaign of an account, enforced by the database across replicas.
        Index(
            "uq_proposals_open_campaign",
            "account",
            "campaign_id",
            unique=True,
            sqlite_where=text(OPEN_STATES_SQL),
            postgresql_where=text(OPEN_STATES_SQL),
        ),
        Index("ix_proposals_rule_campaign", "account", "rule", "campaign_id", "created_at"),
        # Every read of a store is of one account's rows: with hundreds of accounts, its proposals by state.
        Index("ix_proposals_account_state", "account", "state"),
        Index(
            "uq_proposals_undoes",
            "account",
            "undoes",
            unique=True,
            sqlite_where=text(LIVE_UNDO_SQL),
            postgresql_where=text(LIVE_UNDO_SQL),
        ),
    )


class AuditRow(Base, AccountScoped):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    proposal_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, index=True)
    campaign_name: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(64))
    """A Slack user ID, or "budget-bot" for what the bot did on its own."""
    action: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    from_amount: Mapped[Decimal | None] = mapped_column(Cents, nullable=True)
    to_amount: Mapped[Decimal | None] = mapped_column(Cents, nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)

    # One account's history, newest first, without reading the other accounts' entries.
    __table_args__ = (Index("ix_audit_log_account_at", "account", "at"),)


class AlertRow(Base, AccountScoped):
    __tablename__ = "alerts"

    account_in_key = True
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    """What the alert is about: "low_balance", "campaign_at_risk:123", "api_token_refused"."""
    severity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    told_severity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """What the channel last heard of it: the severity announced, and whether as holding."""
    told_active: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    telling_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    """A process is announcing it until then: nobody else announces it meanwhile."""
    message_channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_ts: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The message that first told it (alone or in a digest); later changes are told in its thread."""
    snoozed_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    snoozed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SwitchRow(Base, AccountScoped):
    """A setting the team changes from Slack (automation on or off), kept across restarts and replicas."""

    __tablename__ = "switches"

    account_in_key = True
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    changed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class JobRunRow(Base, AccountScoped):
    __tablename__ = "job_runs"

    account_in_key = True
    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The fire time the run belongs to, so every replica names it the same way."""
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    """When the run ended, well or not; a claim still unfinished long after it was taken lost its replica."""
