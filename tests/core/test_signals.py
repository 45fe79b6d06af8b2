"""Signals from ledger values: each fires for the campaign that earned it and for no steady campaign.

Every story has campaign 1 spend 10 an hour against a daily budget of 300 with a conversion per 10
spent, today and on each of the seven days before; the campaigns after it misbehave.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.signals import Severity, Signal, SignalCode, SignalThresholds, detect
from tests.core.ledger_stories import EST, PAUSED, REJECTED, STOPPED, TODAY, WORKING, Book, at

NOW = 16  # 16:00 on the ad account's clock: two thirds of the day gone


def with_steady(*others: int) -> Book:
    book = Book().week(1).day(1, TODAY, until=NOW)
    for campaign_id in others:
        book.week(campaign_id)
    return book


def signals(book: Book, *, hour: float = NOW, balance: Decimal = Decimal(100_000), **options: object) -> list[Signal]:
    return detect(at(hour), EST, book.rows, book.samples, balance, **options)  # type: ignore[arg-type]


def codes(found: list[Signal]) -> dict[int | None, set[str]]:
    by_campaign: dict[int | None, set[str]] = {}
    for signal in found:
        by_campaign.setdefault(signal.campaign_id, set()).add(signal.code.value)
    return by_campaign


def one(found: list[Signal], code: SignalCode, campaign_id: int | None) -> Signal:
    [signal] = [s for s in found if s.code is code and s.campaign_id == campaign_id]
    return signal


def test_a_steady_account_raises_nothing() -> None:
    assert signals(with_steady()) == []


def test_stopped_spending_fires_for_a_working_campaign_that_went_quiet_under_its_cap() -> None:
    book = with_steady(2, 3).day(2, TODAY, until=NOW, rate=lambda hour: Decimal(10) if hour < Decimal("13.5") else Decimal(0))
    # 3 went quiet only an hour ago.
    book.day(3, TODAY, until=NOW, rate=lambda hour: Decimal(10) if hour < 15 else Decimal(0))

    found = signals(book)

    assert codes(found) == {2: {"STOPPED_SPENDING"}}
    signal = one(found, SignalCode.STOPPED_SPENDING, 2)
    assert signal.severity is Severity.WARNING
    assert signal.message == "C2 (2) is working but has spent nothing since 13:30; 135.00 of its 300.00 daily budget spent today."


def test_a_campaign_back_from_a_pause_has_not_stopped_spending() -> None:
    book = with_steady().week(2).day(2, TODAY, until=14, status=lambda hour: PAUSED if 12 <= hour < 14 else WORKING)

    assert signals(book, hour=14) == []


def test_status_changes_are_news_but_the_platform_s_short_pauses_are_not() -> None:
    book = with_steady(2, 3, 4)
    book.day(2, TODAY, until=NOW, status=lambda hour: WORKING if hour < 11 else REJECTED)
    book.day(3, TODAY, until=NOW, status=lambda hour: PAUSED if 12 <= hour < 14 else WORKING)  # pacing, and back
    book.day(4, TODAY, until=NOW, status=lambda hour: WORKING if hour < 10 else PAUSED)  # six hours and counting
    for back in range(1, 3):
        book.day(5, TODAY - timedelta(days=back), status=lambda _: STOPPED)
    book.day(5, TODAY, until=NOW, status=lambda hour: STOPPED if hour < 9 else WORKING)

    found = signals(book)

    assert {k: v & {"STATUS_CHANGED"} for k, v in codes(found).items()} == {
        2: {"STATUS_CHANGED"},
        4: {"STATUS_CHANGED"},
        5: {"STATUS_CHANGED"},
    }
    assert 1 not in codes(found) and 3 not in codes(found)
    rejected, paused, started = (one(found, SignalCode.STATUS_CHANGED, c) for c in (2, 4, 5))
    assert (rejected.severity, rejected.message) == (Severity.SERIOUS, "C2 (2) was rejected by moderation; it no longer spends.")
    assert paused.severity is Severity.WARNING and "paused since 10:00" in paused.message
    assert (started.severity, started.message) == (Severity.INFO, "C5 (5) started working.")


def test_a_campaign_stopped_yesterday_is_no_news_today() -> None:
    book = with_steady()
    book.day(2, TODAY - timedelta(days=1), status=lambda hour: WORKING if hour < 12 else STOPPED)
    book.day(2, TODAY, until=NOW, status=lambda _: STOPPED)

    assert signals(book) == []


def test_capped_early_fires_for_a_campaign_that_hit_its_budget_before_three_quarters_of_the_day() -> None:
    book = with_steady(2, 3)
    book.day(2, TODAY, until=NOW, rate=lambda _: Decimal(30))  # 285 at 09:30
    book.day(3, TODAY, until=23, rate=lambda _: Decimal(14))  # 285 at 20:21, past 18:00

    early = signals(book)
    late = signals(book, hour=23)

    assert codes(early) == {2: {"CAPPED_EARLY"}}
    assert one(early, SignalCode.CAPPED_EARLY, 2).message.startswith(
        "C2 (2) hit its 300.00 daily budget at 09:30 with 60% of the ad day still to go"
    )
    assert 3 not in codes(late)


def test_underpacing_fires_after_a_quarter_of_the_day_for_a_campaign_far_below_its_budget() -> None:
    book = with_steady(2)
    book.day(2, TODAY, until=NOW, rate=lambda _: Decimal(5))  # 120 a day of 300
    early = Book(book.rows[:-1], [s for s in book.samples if s.campaign_id != 2 or s.day != TODAY or s.at <= at(5)])

    found = signals(book)

    assert codes(found) == {2: {"UNDERPACING"}}
    assert one(found, SignalCode.UNDERPACING, 2).message == (
        "C2 (2) is on course to spend 120.00 of its 300.00 daily budget today (40%): 80.00 so far with 67% of the ad day gone."
    )
    assert signals(early, hour=5) == []


def test_a_spike_fires_against_the_same_hours_of_earlier_days() -> None:
    book = with_steady(2)
    book.day(2, TODAY, until=NOW, rate=lambda hour: Decimal(60) if hour >= Decimal("15.75") else Decimal(10))
    # 3 used to hit its 240 cap by 06:00; today its budget is 1,000 and it goes on at the same rate.
    book.week(3, rate=lambda _: Decimal(40), budget=Decimal(240))
    book.day(3, TODAY, until=NOW, rate=lambda _: Decimal(40), budget=Decimal(1000))

    found = signals(book)

    assert codes(found) == {2: {"SPEND_SPIKE"}}
    spike = one(found, SignalCode.SPEND_SPIKE, 2)
    assert spike.severity is Severity.SERIOUS
    assert spike.message == "C2 (2) spent 15.00 between 15:45 and 16:00, 6.0 times its usual 10.00 an hour."


def test_without_earlier_samples_a_spike_is_measured_against_the_average_hour() -> None:
    book = with_steady(2)
    book.samples = [s for s in book.samples if s.day == TODAY]  # rows only before today: 240 a day, 10 an hour
    book.day(2, TODAY, until=NOW, rate=lambda hour: Decimal(60) if hour >= Decimal("15.75") else Decimal(10))

    assert codes(signals(book)) == {2: {"SPEND_SPIKE"}}


def test_spending_at_its_usual_rate_for_those_hours_is_no_spike_after_a_quiet_stretch() -> None:
    # Every day 2 was quiet until 15:45 and then spent 60 an hour; the ledger kept one sample for the
    # quiet stretch. Today it started earlier, and spends 60 an hour at 15:45 as it always does.
    book = with_steady().week(2, rate=lambda hour: Decimal(60) if hour >= Decimal("15.75") else Decimal(0))
    book.day(2, TODAY, until=NOW, rate=lambda hour: Decimal(60) if hour >= 12 else Decimal(0))

    assert signals(book.as_stored()) == []


def test_a_campaign_that_caps_every_day_spends_faster_than_its_average_hour_without_a_spike() -> None:
    # 40 an hour until its 240 cap each day: 10 an hour on average, never at the hours it spends.
    capper = {"rate": lambda _: Decimal(40), "budget": Decimal(240)}
    book = with_steady().week(2, **capper)  # type: ignore[arg-type]
    book.samples = [s for s in book.samples if s.day == TODAY]  # rows only before today
    book.day(2, TODAY, until=5, **capper)  # type: ignore[arg-type]

    assert SignalCode.SPEND_SPIKE not in {s.code for s in signals(book, hour=5)}


def test_a_spike_below_the_minimum_amount_is_not_one() -> None:
    book = with_steady(2)
    book.day(2, TODAY, until=NOW, rate=lambda hour: Decimal(60) if hour >= Decimal("15.75") else Decimal(10))

    assert signals(book, thresholds=SignalThresholds(spike_min_amount=Decimal(20))) == []


def test_spend_without_conversions_compares_with_the_7_day_cpa_or_the_target() -> None:
    book = with_steady(2, 3)
    no_postback = {"converting": lambda _: False}
    book.day(2, TODAY, until=NOW, **no_postback)  # type: ignore[arg-type]
    book.day(3, TODAY, until=NOW, **no_postback)  # type: ignore[arg-type]
    book.week(4, cpa=None).day(4, TODAY, until=NOW, cpa=None)  # never converted

    found = signals(book, target_cpa={3: Decimal(100)})  # 160 is under 3 × 100

    assert codes(found) == {2: {"SPEND_WITHOUT_CONVERSIONS"}, 4: {"SPEND_WITHOUT_CONVERSIONS"}}
    assert one(found, SignalCode.SPEND_WITHOUT_CONVERSIONS, 2).message == (
        "C2 (2) has spent 160.00 today without a conversion, 16.0 times its 7-day CPA of 10.00."
    )
    assert one(found, SignalCode.SPEND_WITHOUT_CONVERSIONS, 4).message.endswith("and had none in the 7 days before either.")


@pytest.mark.parametrize(
    ("balance", "severity", "words"),
    [
        (Decimal(100), Severity.CRITICAL, "runs out Tue 30 Sep 02:00 (in 10 h)"),
        (Decimal(400), Severity.WARNING, "runs out Wed 01 Oct 08:00 (in 40 h)"),  # 80 today, 320 at 240 a day
        (Decimal(1000), None, ""),
    ],
)
def test_balance_runs_out_tells_when(balance: Decimal, severity: Severity | None, words: str) -> None:
    found = signals(with_steady(), balance=balance)

    if severity is None:
        assert found == []
    else:
        signal = one(found, SignalCode.BALANCE_RUNS_OUT, None)
        assert signal.severity is severity and words in signal.message


def test_conversions_stopped_fires_when_the_whole_account_stops_converting() -> None:
    broken = {"converting": lambda hour: hour < Decimal("12.5")}
    book = Book().week(1).week(2).day(1, TODAY, until=NOW, **broken).day(2, TODAY, until=NOW, **broken)  # type: ignore[arg-type]

    found = signals(book)

    assert codes(found) == {None: {"CONVERSIONS_STOPPED"}}
    assert one(found, SignalCode.CONVERSIONS_STOPPED, None).message == (
        "No conversion on the whole account for 3 h while 60.00 was spent, which usually buys about 6: "
        "conversion tracking (the postback) is probably broken."
    )


def test_signals_are_keyed_by_code_and_campaign_and_ordered_by_severity() -> None:
    book = with_steady(2, 3)
    book.day(2, TODAY, until=NOW, rate=lambda _: Decimal(5))
    book.day(3, TODAY, until=NOW, status=lambda hour: WORKING if hour < 11 else REJECTED)

    found = signals(book, balance=Decimal(100))

    assert [(s.key, s.severity) for s in found] == [
        ("balance_runs_out:account", Severity.CRITICAL),
        ("status_changed:3", Severity.SERIOUS),
        ("underpacing:2", Severity.INFO),
    ]


def test_thresholds_refuse_nonsense() -> None:
    with pytest.raises(ValidationError):
        SignalThresholds(spike_factor=Decimal("0.5"))
