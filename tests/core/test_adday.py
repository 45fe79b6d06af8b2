"""The ad account's day: parsing the setting, day boundaries, the share of the day gone, the API's tz."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from core.adday import DEFAULT_AD_TIMEZONE, AdDay

EST = AdDay.parse(DEFAULT_AD_TIMEZONE)
NEW_YORK = AdDay.parse("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "api_tz"),
    [("-05:00", "-0500"), ("-0500", "-0500"), ("+0000", "+0000"), ("+05:30", "+0530"), ("+14:00", "+1400"), ("-12:00", "-1200")],
)
def test_an_offset_is_read_with_or_without_a_colon(text: str, api_tz: str) -> None:
    assert AdDay.parse(text).api_tz(date(2025, 9, 29)) == api_tz


@pytest.mark.parametrize("text", ["EST5", "-5", "-05:60", "+15:00", "-13:00", "Mars/Olympus", "", "../etc/passwd"])
def test_anything_else_is_refused_with_the_value_named(text: str) -> None:
    with pytest.raises(ValueError, match="offset") as caught:
        AdDay.parse(text)
    assert repr(text) in str(caught.value)


def test_the_default_ad_day_is_est_all_year() -> None:
    assert EST.api_tz(date(2025, 1, 15)) == EST.api_tz(date(2025, 7, 15)) == "-0500"


def test_today_is_the_ad_account_s_day_not_utc_s() -> None:
    # 03:00 UTC on the 30th is 22:00 on the 29th in EST.
    assert EST.today(utc(2025, 9, 30, 3, 0)) == date(2025, 9, 29)
    assert EST.today(utc(2025, 9, 30, 5, 0)) == date(2025, 9, 30)
    assert EST.local(utc(2025, 9, 30, 3, 0)).strftime("%Y-%m-%d %H:%M %z") == "2025-09-29 22:00 -0500"


def test_an_ad_day_runs_from_local_midnight_to_the_next_in_utc() -> None:
    assert EST.start(date(2025, 9, 29)) == utc(2025, 9, 29, 5, 0)
    assert EST.end(date(2025, 9, 29)) == utc(2025, 9, 30, 5, 0)


def test_share_of_the_day_gone_runs_from_0_to_1() -> None:
    day = date(2025, 9, 29)
    assert EST.share_gone(EST.start(day)) == Decimal(0)
    assert EST.share_gone(EST.start(day) + timedelta(hours=6)) == Decimal("0.25")
    assert EST.share_gone(EST.start(day) + timedelta(hours=18)) == Decimal("0.75")
    assert EST.share_gone(EST.end(day) - timedelta(microseconds=1)) < 1


def test_an_iana_zone_follows_daylight_saving_for_its_tz_and_boundaries() -> None:
    summer, winter = date(2025, 7, 15), date(2025, 12, 15)
    assert NEW_YORK.api_tz(summer) == "-0400"
    assert NEW_YORK.api_tz(winter) == "-0500"
    assert NEW_YORK.start(summer) == utc(2025, 7, 15, 4, 0)
    assert NEW_YORK.start(winter) == utc(2025, 12, 15, 5, 0)


def test_the_day_clocks_go_forward_is_23_hours_long_and_its_share_counts_real_time() -> None:
    spring = date(2025, 3, 9)  # 02:00 EST becomes 03:00 EDT
    assert NEW_YORK.end(spring) - NEW_YORK.start(spring) == timedelta(hours=23)
    # The day starts at the offset in force at midnight.
    assert NEW_YORK.api_tz(spring) == "-0500"
    assert NEW_YORK.api_tz(spring + timedelta(days=1)) == "-0400"
    halfway = NEW_YORK.start(spring) + timedelta(hours=11, minutes=30)
    assert NEW_YORK.share_gone(halfway) == Decimal("0.5")


def test_a_naive_instant_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="time zone"):
        EST.today(datetime(2025, 9, 29, 12, 0))
