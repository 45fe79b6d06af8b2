"""Pacing from ledger values: spent today, shares of budget and day, projections, cap times, when the balance runs out."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from core.ledger_types import DailyRow
from core.pacing import account_pacing, campaign_pacing
from tests.core.ledger_stories import EST, TODAY, Book, at


def test_a_steady_campaign_is_projected_to_spend_at_the_same_pace() -> None:
    book = Book().day(1, TODAY, until=16)

    pacing = campaign_pacing(at(16), EST, 1, book.rows[-1], book.samples)

    assert (pacing.spent, pacing.daily_budget, pacing.day) == (Decimal(160), Decimal(300), TODAY)
    assert pacing.day_share == Decimal(2) / 3
    assert pacing.budget_share == Decimal(160) / 300
    assert pacing.projected == Decimal(240)
    assert pacing.rate_per_hour == Decimal(10)
    assert (pacing.capped, pacing.cap_at) == (False, None)  # 285 would come after midnight


def test_the_cap_time_is_predicted_at_the_current_rate_on_the_ad_account_s_clock() -> None:
    book = Book().day(1, TODAY, until=16, rate=lambda _: Decimal(14))

    pacing = campaign_pacing(at(16), EST, 1, book.rows[-1], book.samples)

    # 224 spent; 95% of 300 is 285, 61 more at 14 an hour: 4 h 21 min from 16:00.
    assert pacing.cap_at is not None and pacing.cap_at.strftime("%H:%M %z") == "20:21 -0500"
    assert not pacing.capped and pacing.projected == Decimal(300)  # 336 stretched over the day, held to the budget


def test_the_time_a_cap_was_hit_is_read_between_samples() -> None:
    book = Book().day(1, TODAY, until=16, rate=lambda _: Decimal(40))

    pacing = campaign_pacing(at(16), EST, 1, book.rows[-1], book.samples)

    # 40 an hour reaches 285 at 07:07:30, between the 07:00 (280) and 07:15 (290) samples.
    assert pacing.capped and pacing.spent == Decimal(300)
    assert pacing.cap_at is not None and pacing.cap_at.strftime("%H:%M:%S") == "07:07:30"
    assert (pacing.projected, pacing.rate_per_hour) == (Decimal(300), Decimal(0))


def test_a_flat_stretch_stored_as_one_sample_reads_as_no_spend_since() -> None:
    book = Book().day(1, TODAY, until=16, rate=lambda hour: Decimal(10) if hour < Decimal("13.5") else Decimal(0))
    # The ledger keeps a sample only when something moved: nothing after 13:30.
    stored = [s for s in book.samples if s.at <= at(13.5)]

    pacing = campaign_pacing(at(16), EST, 1, book.rows[-1], stored)

    assert (pacing.spent, pacing.rate_per_hour, pacing.cap_at) == (Decimal(135), Decimal(0), None)


def test_a_campaign_that_is_not_working_is_projected_to_spend_no_more() -> None:
    book = Book().day(1, TODAY, until=16, status=lambda hour: 6 if hour < 8 else 8)

    pacing = campaign_pacing(at(16), EST, 1, book.rows[-1], book.samples)

    assert (pacing.spent, pacing.projected, pacing.status, pacing.cap_at) == (Decimal(80), Decimal(80), 8, None)


def test_without_samples_the_row_s_spend_gives_the_rate_since_the_day_began() -> None:
    row = DailyRow(1, TODAY, Decimal(60), daily_budget=Decimal(300), status=6)

    pacing = campaign_pacing(at(6), EST, 1, row, [])

    assert (pacing.rate_per_hour, pacing.projected) == (Decimal(10), Decimal(240))


def test_the_account_adds_campaigns_up_and_tells_when_the_balance_runs_out() -> None:
    book = Book().day(1, TODAY, until=16).day(2, TODAY, until=16, rate=lambda _: Decimal(40))

    tight = account_pacing(at(16), EST, book.rows, book.samples, Decimal(100))
    tighter = account_pacing(at(16), EST, book.rows, book.samples, Decimal(50))
    ample = account_pacing(at(16), EST, book.rows, book.samples, Decimal(10_000))

    assert [c.campaign_id for c in tight.campaigns] == [1, 2]
    assert (tight.spent, tight.projected, tight.rate_per_hour) == (Decimal(460), Decimal(540), Decimal(10))
    # 80 more today at 10 an hour (the capped one spends no more); the 20 left go at 540 a day.
    assert tight.runs_out_at is not None
    assert tight.runs_out_at - (EST.end(TODAY) + timedelta(days=20 / 540)) < timedelta(seconds=1)
    # 50 is gone before the day ends: at 10 an hour, 5 hours from now.
    assert tighter.runs_out_at is not None and tighter.runs_out_at.strftime("%H:%M") == "21:00"
    # 9,920 left after today at 540 a day: 18.4 days from midnight.
    assert ample.runs_out_at is not None and ample.runs_out_at.strftime("%Y-%m-%d %H:%M") == "2025-10-18 08:53"


def test_no_balance_known_means_no_run_out_time() -> None:
    book = Book().day(1, TODAY, until=16)

    assert account_pacing(at(16), EST, book.rows, book.samples, None).runs_out_at is None
