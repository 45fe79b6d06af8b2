"""Table definitions of the spend ledger; migration 0003 creates exactly these."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, String, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import Index

from core.store.tables import DEFAULT_ACCOUNT, Base, Cents, UtcDateTime

MILL = Decimal("0.001")


class Mills(TypeDecorator[Decimal]):
    """Spend kept as whole thousandths, exactly as the statistics report it (97.137), on both databases."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int(Decimal(value).quantize(MILL) * 1000)

    def process_result_value(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else (Decimal(value) / 1000).quantize(MILL)


class SpendDayRow(Base):
    """What one campaign did on one ad day, with the daily budget and status last seen that day."""

    __tablename__ = "spend_days"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    spent: Mapped[Decimal] = mapped_column(Mills)
    impressions: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    conversions: Mapped[int] = mapped_column(Integer)
    daily_budget: Mapped[Decimal | None] = mapped_column(Cents, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    # Reads go by account and day range (a summary, a chart), across campaigns.
    __table_args__ = (Index("ix_spend_days_account_day", "account", "day"),)


class SpendSampleRow(Base):
    """A campaign's spend and conversions so far on its ad day, as a check read them."""

    __tablename__ = "spend_samples"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sampled_at: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    spent: Mapped[Decimal] = mapped_column(Mills)
    conversions: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)

    # Reads and pruning go by account and time, across campaigns.
    __table_args__ = (Index("ix_spend_samples_account_sampled_at", "account", "sampled_at"),)


class SpendCoverageRow(Base):
    """Which whole past days the ledger holds for an account, and when the latest of them were last re-read."""

    __tablename__ = "spend_coverage"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
