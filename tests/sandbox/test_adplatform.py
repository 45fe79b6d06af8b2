"""The PropellerAds sandbox answers over real HTTP the way the recorded live API did, and its switches work."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from sandbox.adplatform import (
    COMPLETED,
    PAUSED,
    REJECTED,
    STOPPED,
    WORKING,
    Account,
    Campaign,
    ManualClock,
    RateLimit,
    SandboxConfig,
    SpeedClock,
    SpendProfile,
)
from tests.sandbox.conftest import NOON, Running

Launch = Callable[..., Running]

# Shapes copied from the recordings of the live API (Sep 2025), which are the contract.
CAMPAIGN_KEYS = [  # campaigns-list-page1-200.json
    "name", "target_url", "started_at", "direction_id", "rate_model",
    "limit_total_amount", "limit_daily_amount", "id", "status", "is_archived",
]
CAMPAIGN_DETAIL_KEYS = [  # campaign-by-id-200.json
    "name", "target_url", "started_at", "direction_id", "rate_model", "capping",
    "limit_total_amount", "limit_daily_amount", "id", "frequency", "status", "is_archived",
]
STATISTICS_KEYS = [  # statistics-by-campaign-7-days-200.json
    "items", "totals", "per_page", "total_pages", "total_items", "vat_percent", "user_has_campaigns",
]
ROW_KEYS = [
    "campaign_id", "money", "campaign_name", "win_rate", "daily_amount", "total_amount", "impressions",
    "clicks", "conversions", "conversions2", "conversions3", "payout", "viewability_real_impressions",
    "spent", "cpm", "cpc", "survey_cpc", "cpa", "profit", "roi", "ctr", "cr", "rvr", "is_premium_supply",
]
TOTALS_KEYS = [
    "impressions", "conversions", "conversions2", "conversions3", "clicks", "land_impressions",
    "viewability_real_impressions", "spent", "payout", "vat", "spent_with_vat", "optimization_cost",
    "profit", "cr", "ctr", "cpm", "cpc", "cpa", "survey_cpc", "rvr", "roi",
]
ACCESS_DENIED = b'{"errors":["Access denied."]}'  # campaign-patch-403.json
TZ_REFUSED = b'{"tz":["Time zone is available only in the weekly period."]}'  # statistics-30-days-with-tz-400.json
WEEK_WITH_TZ = {"day_from": "2025-09-22", "day_to": "2025-09-29", "tz": "+0000", "group_by[]": "campaign_id"}
MONTH_WITH_TZ = {"day_from": "2025-08-30", "day_to": "2025-09-29", "tz": "+0000", "group_by[]": "campaign_id"}


def exact_account() -> Account:
    """Three campaigns with figures small enough to check by hand."""
    account = Account(
        balance="1000.00",
        campaigns=[
            Campaign(id=101, name="Alpha", limit_daily_amount="50", win_rate="0.0650"),
            Campaign(id=102, name="Beta", limit_daily_amount=None, rate_model="cpc"),
            Campaign(id=103, name="Idle", status=PAUSED),
        ],
    )
    account.record(101, date(2025, 9, 27), spent="40", impressions=20_000, conversions=4)
    account.record(101, date(2025, 9, 28), spent="45.5", impressions=25_000, conversions=5)
    account.record(102, date(2025, 9, 28), spent="12.345", impressions=377, clicks=87)
    return account


def steady_account(balance_since: datetime | None = None) -> Account:
    """One campaign that would spend 200 a day, held to 100 by its limit, one conversion per 10 spent."""
    account = Account(
        balance="500.00",
        campaigns=[Campaign(id=7, name="Steady", limit_daily_amount="100")],
        balance_since=balance_since,
    )
    account.simulate(7, SpendProfile(demand=Decimal(200), cpa=Decimal(10), cpm=Decimal(2)))
    return account


def est(hour: int, day: int = 29) -> datetime:
    """An hour of a September 2025 day on the platform's EST clock."""
    return datetime(2025, 9, day, hour, 0, tzinfo=timezone(timedelta(hours=-5))).astimezone(timezone.utc)


def many_campaigns(count: int) -> list[Campaign]:
    return [Campaign(id=1000 + i, status=(WORKING, PAUSED)[i % 2], is_archived=i % 5 == 0) for i in range(count)]


def today_stats(running: Running, day: str = "2025-09-29") -> dict:
    answer = running.api.get("/adv/statistics", params={"day_from": day, "day_to": day, "group_by[]": "campaign_id"})
    assert answer.status_code == 200
    return answer.json()


def spent_today(running: Running, campaign_id: int) -> float:
    rows = {row["campaign_id"]: row for row in today_stats(running)["items"]}
    return rows[campaign_id]["spent"] if campaign_id in rows else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the recorded contract -------------------------------------------------------------------------


def test_balance_is_a_bare_json_string_with_rate_limit_headers(launch: Launch, rate_clock: ManualClock) -> None:
    running = launch(exact_account(), config=SandboxConfig(rate_clock=rate_clock.timestamp))

    answer = running.api.get("/adv/balance")

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.content == b'"1000.00"'
    assert answer.headers["X-RateLimit-Limit"] == "30"
    assert answer.headers["X-RateLimit-Remaining"] == "29"
    assert int(answer.headers["X-RateLimit-Reset"]) == int(rate_clock.timestamp()) + 60


def test_campaign_objects_have_the_recorded_fields_in_order(launch: Launch) -> None:
    running = launch(exact_account())

    listed = running.api.get("/adv/campaigns").json()["result"]
    one = running.api.get("/adv/campaigns/101").json()

    assert [list(c) for c in listed] == [CAMPAIGN_KEYS] * 3
    assert list(one) == CAMPAIGN_DETAIL_KEYS
    assert one["limit_daily_amount"] == 50.0 and isinstance(one["limit_daily_amount"], float)
    assert listed[1]["limit_daily_amount"] is None
    assert one["is_archived"] == 0 and one["status"] == WORKING


def test_campaign_list_pages_by_page_size_and_ignores_limit_offset(launch: Launch) -> None:
    running = launch(Account(campaigns=many_campaigns(250)))

    pages = [running.api.get("/adv/campaigns", params={"page": p, "page_size": 100}).json() for p in (1, 2, 3, 4)]
    ignored = running.api.get("/adv/campaigns", params={"limit": 5, "offset": 0}).json()

    assert [len(p["result"]) for p in pages] == [100, 100, 50, 0]
    assert pages[0]["meta"] == {"total_items": 250, "total_pages": 3, "page_size": 100, "page": 1}
    assert pages[2]["meta"]["page"] == 3
    ids = [c["id"] for p in pages for c in p["result"]]
    assert ids == sorted(set(ids)) and len(ids) == 250
    assert len(ignored["result"]) == 100 and ignored["meta"]["page_size"] == 100


def test_page_size_one_gives_as_many_pages_as_campaigns(launch: Launch) -> None:
    running = launch(Account(campaigns=many_campaigns(12)))

    body = running.api.get("/adv/campaigns", params={"page_size": 1}).json()

    assert len(body["result"]) == 1
    assert body["meta"] == {"total_items": 12, "total_pages": 12, "page_size": 1, "page": 1}


@pytest.mark.parametrize(("largest", "asked", "granted", "pages"), [(1000, 5000, 1000, 3), (1000, 1000, 1000, 3), (100, 1000, 100, 26)])
def test_a_page_size_beyond_the_largest_is_granted_the_largest(
    launch: Launch, relaxed: Callable[..., SandboxConfig], largest: int, asked: int, granted: int, pages: int
) -> None:
    running = launch(Account(campaigns=many_campaigns(2501)), config=relaxed(max_page_size=largest))

    body = running.api.get("/adv/campaigns", params={"page_size": asked}).json()
    last = running.api.get("/adv/campaigns", params={"page_size": asked, "page": pages}).json()

    assert len(body["result"]) == granted
    assert body["meta"] == {"total_items": 2501, "total_pages": pages, "page_size": granted, "page": 1}
    assert len(last["result"]) == 2501 - granted * (pages - 1)


def test_campaign_list_filters_by_status_and_archived(launch: Launch) -> None:
    campaigns = many_campaigns(20) + [Campaign(id=5000, status=STOPPED), Campaign(id=5001, status=COMPLETED)]
    running = launch(Account(campaigns=campaigns))

    def ids(params: object) -> set[int]:
        return {c["id"] for c in running.api.get("/adv/campaigns", params=params).json()["result"]}

    working = {c.id for c in campaigns if c.status == WORKING}
    assert ids({"status[]": 6}) == working
    assert ids([("status[]", 8), ("status[]", 9)]) == {5000, 5001}
    assert ids({"is_archived": 1}) == {c.id for c in campaigns if c.is_archived}
    working_unarchived = {c.id for c in campaigns if c.status == WORKING and not c.is_archived}
    assert ids({"status[]": 6, "is_archived": 0}) == working_unarchived
    assert running.api.get("/adv/campaigns", params={"status[]": 42}).status_code == 400


def test_unknown_campaign_is_a_json_404(launch: Launch) -> None:
    running = launch(exact_account())

    answer = running.api.get("/adv/campaigns/999")

    assert answer.status_code == 404
    assert answer.json() == {"errors": ["Campaign not found."]}


def test_unknown_route_answers_a_json_string_naming_the_url(launch: Launch) -> None:
    running = launch(exact_account())

    answer = running.api.get("/adv/collections/countries", params={"x": 1})

    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == f'No route found for "GET {running.server.url}/v5/adv/collections/countries"'


def test_wrong_method_on_a_known_path_names_the_allowed_one(launch: Launch) -> None:
    running = launch(exact_account())

    answer = running.api.get("/adv/campaigns/play")

    assert answer.status_code == 405
    assert answer.json().endswith("Method Not Allowed (Allow: PUT)")


def test_patch_with_a_read_only_token_answers_the_recorded_403(launch: Launch) -> None:
    running = launch(exact_account())
    running.state.faults.forbid_writes = True

    # The recorded request: a name change and a budget of 1.
    answer = running.api.patch("/adv/campaigns/101", json={"name": "Alpha_UPDATED_TEST", "limit_daily_amount": 1})
    start = running.api.put("/adv/campaigns/play", json={"campaign_ids": [103]})

    assert answer.status_code == 403
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.content == ACCESS_DENIED
    assert start.status_code == 403 and start.content == ACCESS_DENIED
    assert running.state.account.campaign(101).name == "Alpha"
    assert running.state.account.campaign(103).status == PAUSED


def test_statistics_refuse_tz_beyond_a_week_and_take_it_for_the_recorded_week(launch: Launch) -> None:
    running = launch(exact_account())

    refused = running.api.get("/adv/statistics", params=MONTH_WITH_TZ)
    week = running.api.get("/adv/statistics", params=WEEK_WITH_TZ)
    month_without_tz = running.api.get("/adv/statistics", params={k: v for k, v in MONTH_WITH_TZ.items() if k != "tz"})

    assert refused.status_code == 400
    assert refused.content == TZ_REFUSED
    assert week.status_code == 200
    assert month_without_tz.status_code == 200


def test_statistics_rate_limit_is_two_a_minute_then_a_text_html_429(launch: Launch, rate_clock: ManualClock) -> None:
    running = launch(exact_account(), config=SandboxConfig(rate_clock=rate_clock.timestamp))

    first = running.api.get("/adv/statistics", params=MONTH_WITH_TZ)
    second = running.api.get("/adv/statistics", params=WEEK_WITH_TZ)
    third = running.api.get("/adv/statistics", params=WEEK_WITH_TZ)
    rate_clock.advance(seconds=61)
    after_reset = running.api.get("/adv/statistics", params=WEEK_WITH_TZ)

    assert (first.status_code, first.headers["X-RateLimit-Remaining"]) == (400, "1")
    assert (second.status_code, second.headers["X-RateLimit-Remaining"]) == (200, "0")
    assert third.status_code == 429
    assert third.headers["Content-Type"] == "text/html; charset=UTF-8"
    assert third.text == "You exceeded the rate limit"
    assert third.headers["X-RateLimit-Limit"] == "2"
    assert third.headers["X-RateLimit-Remaining"] == "0"
    assert third.headers["X-RateLimit-Reset"] == first.headers["X-RateLimit-Reset"]
    assert after_reset.status_code == 200
    assert after_reset.headers["X-RateLimit-Remaining"] == "1"


def test_rate_limits_are_per_endpoint_and_configurable(launch: Launch, rate_clock: ManualClock) -> None:
    limits = {"statistics": 1000, "balance": RateLimit(1, window=1)}
    config = SandboxConfig(rate_limits=limits, rate_clock=rate_clock.timestamp)
    running = launch(exact_account(), config=config)

    statuses = [running.api.get("/adv/statistics", params=WEEK_WITH_TZ).status_code for _ in range(5)]
    balance = [running.api.get("/adv/balance") for _ in range(2)]
    campaign = running.api.get("/adv/campaigns/101")

    assert statuses == [200] * 5
    assert [b.status_code for b in balance] == [200, 429]
    assert int(balance[1].headers["X-RateLimit-Reset"]) == int(rate_clock.timestamp()) + 1
    assert campaign.headers["X-RateLimit-Limit"] == "150"


# --- auth --------------------------------------------------------------------------------------------


def test_every_call_needs_the_bearer_token(launch: Launch) -> None:
    running = launch(exact_account())
    base = running.server.url + "/v5"

    missing = httpx.get(base + "/adv/balance")
    wrong = httpx.get(base + "/adv/campaigns", headers={"Authorization": "Bearer nope"})
    unknown_route = httpx.get(base + "/adv/nothing-here")

    assert missing.status_code == 401 and missing.json() == {"errors": ["Unauthorized."]}
    assert missing.headers["Content-Type"] == "application/json"
    assert wrong.status_code == 401
    assert unknown_route.status_code == 404


# --- writes --------------------------------------------------------------------------------------------


def test_patch_sets_the_daily_budget_to_the_cent_and_answers_the_campaign(launch: Launch) -> None:
    running = launch(exact_account())

    answer = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": 180.1, "capping": 2})

    assert answer.status_code == 200
    assert list(answer.json()) == CAMPAIGN_DETAIL_KEYS
    assert answer.json()["limit_daily_amount"] == 180.1 and answer.json()["capping"] == 2
    assert running.state.account.campaign(101).limit_daily_amount == Decimal("180.10")
    assert running.api.get("/adv/campaigns/101").json()["limit_daily_amount"] == 180.1


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(9.99, False), (10, True), (10_000, True), (10_000.01, False), ("250.50", True), ("lots", False), (True, False)],
)
def test_daily_budget_must_be_within_the_platform_range(launch: Launch, value: object, accepted: bool) -> None:
    running = launch(exact_account())

    answer = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": value})

    if accepted:
        assert answer.status_code == 200
        assert running.state.account.campaign(101).limit_daily_amount == Decimal(str(value)).quantize(Decimal("0.01"))
    else:
        assert answer.status_code == 400
        assert list(answer.json()) == ["limit_daily_amount"]
        assert running.state.account.campaign(101).limit_daily_amount == Decimal("50.00")


def test_budget_range_is_configurable_and_null_means_unlimited(
    launch: Launch, relaxed: Callable[..., SandboxConfig]
) -> None:
    running = launch(exact_account(), config=relaxed(min_daily_budget=Decimal(50), max_daily_budget=Decimal(500)))

    low = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": 40})
    high = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": 501})
    unlimited = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": None})

    assert low.json() == {"limit_daily_amount": ["This value should be greater than or equal to 50."]}
    assert high.json() == {"limit_daily_amount": ["This value should be less than or equal to 500."]}
    assert unlimited.status_code == 200 and unlimited.json()["limit_daily_amount"] is None
    assert running.state.account.campaign(101).limit_daily_amount is None


def test_patch_takes_only_the_five_editable_fields(launch: Launch) -> None:
    running = launch(exact_account())

    answer = running.api.patch("/adv/campaigns/101", json={"status": 8, "rate_model": "cpc", "name": "Renamed"})
    missing = running.api.patch("/adv/campaigns/999", json={"name": "x"})

    assert answer.status_code == 400
    assert answer.json() == {"status": ["This field was not expected."], "rate_model": ["This field was not expected."]}
    assert running.state.account.campaign(101).name == "Alpha"
    assert missing.status_code == 404 and missing.json() == {"errors": ["Campaign not found."]}


def test_play_and_stop_set_status_six_and_eight(launch: Launch) -> None:
    running = launch(exact_account())

    started = running.api.put("/adv/campaigns/play", json={"campaign_ids": [103]})
    stopped = running.api.put("/adv/campaigns/stop", json={"campaign_ids": [101, 102]})
    empty = running.api.put("/adv/campaigns/stop", json={"campaign_ids": []})
    unknown = running.api.put("/adv/campaigns/play", json={"campaign_ids": [4242]})

    assert started.status_code == 200 and started.json() == {"result": True}
    assert stopped.status_code == 200
    statuses = {c["id"]: c["status"] for c in running.api.get("/adv/campaigns").json()["result"]}
    assert statuses == {101: STOPPED, 102: STOPPED, 103: WORKING}
    assert empty.status_code == 400 and "campaign_ids" in empty.json()
    assert unknown.status_code == 404


# --- statistics ----------------------------------------------------------------------------------------


def test_statistics_by_campaign_sum_the_days_as_worked_by_hand(launch: Launch) -> None:
    running = launch(exact_account())

    body = running.api.get("/adv/statistics", params=WEEK_WITH_TZ).json()

    assert list(body) == STATISTICS_KEYS
    assert list(body["totals"]) == TOTALS_KEYS
    assert (body["per_page"], body["total_pages"], body["total_items"]) == (1000, 1, 2)
    assert body["vat_percent"] == 0.0 and body["user_has_campaigns"] is True
    alpha, beta = body["items"]  # the idle campaign did nothing, so it has no row
    assert list(alpha) == ROW_KEYS
    assert alpha["campaign_id"] == 101 and alpha["campaign_name"] == "Alpha"
    assert (alpha["spent"], alpha["money"], alpha["impressions"], alpha["conversions"]) == (85.5, 85.5, 45_000, 9)
    assert (alpha["cpa"], alpha["cpm"], alpha["cr"]) == (9.5, 1.9, 0.02)
    assert (alpha["daily_amount"], alpha["win_rate"]) == (50, "0.0650")
    assert (alpha["profit"], alpha["roi"]) == (-85.5, -100.0)
    # Percentages are cut, not rounded, as in the recording (87 clicks of 377 impressions: 23.07).
    assert (beta["spent"], beta["clicks"], beta["cpc"], beta["ctr"], beta["cpa"]) == (12.345, 87, 0.142, 23.07, 0.0)
    assert (beta["daily_amount"], beta["win_rate"], beta["total_amount"]) == (0, "-", 0)
    totals = body["totals"]
    assert (totals["spent"], totals["impressions"], totals["clicks"], totals["conversions"]) == (97.845, 45_377, 87, 9)
    assert (totals["cpa"], totals["cr"], totals["spent_with_vat"]) == (10.872, 10.34, 0.0)


def test_statistics_group_by_day_adds_date_time(launch: Launch) -> None:
    running = launch(exact_account())
    week = {"day_from": "2025-09-22 00:00:00", "day_to": "2025-09-29 23:59:59"}

    by_day = running.api.get("/adv/statistics", params={**week, "group_by[]": "date_time"}).json()
    groupings = [("group_by[]", "campaign_id"), ("group_by[]", "date_time")]
    both = running.api.get("/adv/statistics", params=[*week.items(), *groupings]).json()

    assert [(r["date_time"], r["spent"]) for r in by_day["items"]] == [("2025-09-27", 40.0), ("2025-09-28", 57.845)]
    assert "campaign_id" not in by_day["items"][0]
    assert [(r["campaign_id"], r["date_time"], r["spent"]) for r in both["items"]] == [
        (101, "2025-09-27", 40.0),
        (101, "2025-09-28", 45.5),
        (102, "2025-09-28", 12.345),
    ]
    assert list(both["items"][0])[:2] == ["date_time", "campaign_id"]
    assert both["totals"]["spent"] == by_day["totals"]["spent"] == 97.845


def test_statistics_filter_by_campaign_and_post_body_match_get(launch: Launch) -> None:
    running = launch(exact_account())
    query = {"day_from": "2025-09-22", "day_to": "2025-09-29", "group_by[]": "campaign_id", "campaign_id[]": 102}

    by_get = running.api.get("/adv/statistics", params=query).json()
    by_post = running.api.post(
        "/adv/statistics",
        json={"day_from": "2025-09-22", "day_to": "2025-09-29", "group_by": ["campaign_id"], "campaign_id": [102]},
    ).json()

    assert [r["campaign_id"] for r in by_get["items"]] == [102]
    assert by_post == by_get


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"day_from": "2025-09-22", "day_to": "2025-09-29"}, {"group_by": ["This value should not be blank."]}),
        (
            {"day_from": "2025-09-22", "day_to": "2025-09-29", "group_by[]": "zone"},
            {"group_by": ["The value you selected is not a valid choice."]},
        ),
        (
            {"day_from": "22/09/2025", "day_to": "2025-09-29", "group_by[]": "campaign_id"},
            {"day_from": ["This value is not a valid datetime."]},
        ),
        ({"day_to": "2025-09-29", "group_by[]": "campaign_id"}, {"day_from": ["This value should not be blank."]}),
    ],
)
def test_statistics_validation_errors_are_keyed_by_field(launch: Launch, params: dict, errors: dict) -> None:
    running = launch(exact_account())

    answer = running.api.get("/adv/statistics", params=params)

    assert answer.status_code == 400
    assert answer.json() == errors


def test_statistics_rows_beyond_a_thousand_come_in_pages(launch: Launch) -> None:
    account = Account(campaigns=many_campaigns(1500))
    for index, campaign_id in enumerate(sorted(account.campaigns)):
        account.record(campaign_id, date(2025, 9, 28), spent=Decimal(index) / 1000 + 1, impressions=100)
    running = launch(account)
    query = {"day_from": "2025-09-28", "day_to": "2025-09-28", "group_by[]": "campaign_id"}

    first = running.api.get("/adv/statistics", params=query).json()
    second = running.api.get("/adv/statistics", params={**query, "page": 2}).json()
    third = running.api.get("/adv/statistics", params={**query, "page": 3}).json()

    assert (len(first["items"]), len(second["items"]), len(third["items"])) == (1000, 500, 0)
    assert first["total_pages"] == second["total_pages"] == 2
    assert first["total_items"] == 1500
    assert first["totals"] == second["totals"]
    assert first["totals"]["impressions"] == 150_000
    ids = [r["campaign_id"] for r in first["items"] + second["items"]]
    assert ids == sorted(account.campaigns)


# --- time and the simulation ---------------------------------------------------------------------------


def test_todays_spend_grows_with_the_sandbox_clock_until_the_cap(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(6))
    running = launch(steady_account(balance_since=est(0)))

    at_six = today_stats(running)["items"][0]
    balance_at_six = running.api.get("/adv/balance").json()
    clock.set(est(18))
    at_six_pm = today_stats(running)["items"][0]
    balance_at_six_pm = running.api.get("/adv/balance").json()
    yesterday = today_stats(running, "2025-09-28")["items"][0]

    # 200 a day of demand: a quarter of the day is 50; the limit of 100 stops it at noon (EST, the
    # platform's day). A conversion per 10 spent, 500 impressions per 1.
    assert (at_six["spent"], at_six["conversions"], at_six["impressions"]) == (50.0, 5, 25_000)
    assert (at_six_pm["spent"], at_six_pm["conversions"], at_six_pm["impressions"]) == (100.0, 10, 50_000)
    assert (balance_at_six, balance_at_six_pm) == ("450.00", "400.00")
    assert yesterday["spent"] == 100.0


def test_a_budget_change_bends_todays_spend_from_then_on(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(6))
    running = launch(steady_account())

    running.api.patch("/adv/campaigns/7", json={"limit_daily_amount": 40})
    clock.set(est(18))
    capped = spent_today(running, 7)
    running.api.patch("/adv/campaigns/7", json={"limit_daily_amount": 200})
    clock.set(est(21))
    raised = spent_today(running, 7)

    assert capped == 50.0  # already past the new limit of 40 at six: nothing more
    assert raised == 75.0  # then 200 a day (the demand) for three hours
    assert spent_today(running, 7) == raised
    history = running.admin.get("/campaigns/7").json()["history"]
    assert [h["limit_daily_amount"] for h in history] == ["100.00", "40.00", "200.00"]


def test_stopping_a_campaign_stops_its_spend(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(6))
    running = launch(steady_account())

    running.api.put("/adv/campaigns/stop", json={"campaign_ids": [7]})
    clock.advance(hours=4)
    after_stop = spent_today(running, 7)
    running.api.put("/adv/campaigns/play", json={"campaign_ids": [7]})
    clock.advance(hours=3)

    assert after_stop == 50.0
    assert spent_today(running, 7) == 75.0


def test_statistics_cut_days_at_tz_and_else_at_est(launch: Launch, clock: ManualClock) -> None:
    # 240 a day without a limit, 10 an hour, stopped at 03:00 UTC on the 29th (22:00 EST on the 28th).
    account = Account(balance="500.00", campaigns=[Campaign(id=7, name="Flat", limit_daily_amount=None)])
    account.simulate(7, SpendProfile(demand=Decimal(240)))
    clock.set(datetime(2025, 9, 29, 3, 0, tzinfo=timezone.utc))
    running = launch(account)
    running.api.put("/adv/campaigns/stop", json={"campaign_ids": [7]})
    clock.set(datetime(2025, 9, 30, 12, 0, tzinfo=timezone.utc))
    span = {"day_from": "2025-09-27", "day_to": "2025-09-29"}

    def spend(tz: str | None, group_by: str) -> dict:
        params = {**span, "group_by[]": group_by} | ({"tz": tz} if tz else {})
        body = running.api.get("/adv/statistics", params=params).json()
        return {row.get("date_time", "total"): row["spent"] for row in body["items"]}

    assert spend(None, "date_time") == {"2025-09-27": 240.0, "2025-09-28": 220.0}
    assert spend("-0500", "date_time") == {"2025-09-27": 240.0, "2025-09-28": 220.0}
    assert spend("+0000", "date_time") == {"2025-09-27": 240.0, "2025-09-28": 240.0, "2025-09-29": 30.0}
    assert spend("+05:30", "date_time") == {"2025-09-27": 240.0, "2025-09-28": 240.0, "2025-09-29": 85.0}
    assert spend(None, "campaign_id") == {"total": 460.0}
    assert spend("+0000", "campaign_id") == {"total": 510.0}


def test_capped_campaigns_hit_their_caps_at_different_hours(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(0, day=30))
    running = launch(Account.seeded(30, seed=7, now=est(0, day=30)))
    listed = running.api.get("/adv/campaigns").json()["result"]
    limits = {c["id"]: c["limit_daily_amount"] for c in listed if c["status"] == WORKING}
    capped_at: dict[int, int] = {}

    for hour in range(1, 25):
        clock.set(est(0, day=30) + timedelta(hours=hour))
        day = {"day_from": "2025-09-30", "day_to": "2025-09-30", "tz": "-0500", "group_by[]": "campaign_id"}
        for row in running.api.get("/adv/statistics", params=day).json()["items"]:
            limit = limits.get(row["campaign_id"])
            if limit and row["spent"] >= limit * 0.97 and row["campaign_id"] not in capped_at:
                capped_at[row["campaign_id"]] = hour

    assert len(set(capped_at.values())) >= 3, capped_at
    assert min(capped_at.values()) < 18 <= max(capped_at.values())  # some before three quarters of the day, some after
    assert any(limit and campaign_id not in capped_at for campaign_id, limit in limits.items())


# --- scenarios for the signals ------------------------------------------------------------------------


def two_steady() -> Account:
    """Two campaigns like `steady_account`'s: 200 a day of demand, a limit of 100, a conversion per 10 spent."""
    account = Account(
        balance="1000.00",
        campaigns=[Campaign(id=campaign_id, name=f"Steady {campaign_id}", limit_daily_amount="100") for campaign_id in (7, 8)],
    )
    for campaign_id in (7, 8):
        account.simulate(campaign_id, SpendProfile(demand=Decimal(200), cpa=Decimal(10), cpm=Decimal(2)))
    return account


def today_rows(running: Running) -> dict[int, dict]:
    return {row["campaign_id"]: row for row in today_stats(running)["items"]}


def test_a_campaign_that_stops_spending_stays_working_and_under_its_cap(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(3))
    running = launch(two_steady())

    switched = running.admin.post("/scenarios", json={"scenario": "stop_spending", "campaign_ids": [7]})
    clock.set(est(6))
    stalled = today_rows(running)
    status = {c["id"]: c["status"] for c in running.api.get("/adv/campaigns").json()["result"]}
    running.admin.post("/scenarios", json={"scenario": "normal", "campaign_ids": [7]})
    clock.set(est(9))

    assert switched.status_code == 200 and switched.json()["campaign_ids"] == [7]
    assert (stalled[7]["spent"], stalled[8]["spent"]) == (25.0, 50.0)
    assert status == {7: WORKING, 8: WORKING}
    assert today_rows(running)[7]["spent"] == 50.0  # three more hours at 200 a day once it is back


def test_a_spike_spends_factor_times_the_rate_for_its_hours(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(3))
    running = launch(two_steady())

    running.admin.post("/scenarios", json={"scenario": "spike", "campaign_ids": [8], "factor": 6, "hours": 1})
    clock.set(est(5))

    # 3 h at 200 a day (25), 1 h at 1,200 a day (50), 1 h at 200 a day (8.333).
    assert (today_rows(running)[7]["spent"], today_rows(running)[8]["spent"]) == (41.666, 83.333)


def test_conversions_that_stop_leave_spend_flowing(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(3))
    running = launch(two_steady())

    everyone = running.admin.post("/scenarios", json={"scenario": "stop_conversions"})
    clock.set(est(6))
    rows = today_rows(running)

    assert everyone.json()["campaign_ids"] == [7, 8]
    assert [(r["spent"], r["conversions"]) for r in rows.values()] == [(50.0, 2), (50.0, 2)]  # 25 spent by 03:00


def test_the_platform_s_own_pause_shows_status_7_then_lifts(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(3))
    running = launch(two_steady())

    running.admin.post("/scenarios", json={"scenario": "platform_pause", "campaign_ids": [7], "hours": 2})
    clock.set(est(4))
    paused = running.api.get("/adv/campaigns/7").json()["status"]
    paused_list = [c["id"] for c in running.api.get("/adv/campaigns", params={"status[]": PAUSED}).json()["result"]]
    play = running.api.put("/adv/campaigns/play", json={"campaign_ids": [7]})
    still = running.api.get("/adv/campaigns/7").json()["status"]
    clock.set(est(6))

    assert (paused, paused_list, play.status_code, still) == (PAUSED, [7], 200, PAUSED)
    assert running.api.get("/adv/campaigns/7").json()["status"] == WORKING
    assert today_rows(running)[7]["spent"] == 33.333  # 4 of the 6 hours spending at 200 a day


def test_moderation_rejects_a_campaign_which_then_cannot_be_played(launch: Launch, clock: ManualClock) -> None:
    clock.set(est(3))
    running = launch(two_steady())

    running.admin.post("/scenarios", json={"scenario": "reject", "campaign_ids": [8]})
    clock.set(est(6))
    play = running.api.put("/adv/campaigns/play", json={"campaign_ids": [7, 8]})

    assert running.api.get("/adv/campaigns/8").json()["status"] == REJECTED
    assert today_rows(running)[8]["spent"] == 25.0
    assert play.status_code == 400 and play.json() == {"campaign_ids": ["Campaign 8 is rejected."]}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"scenario": "earthquake"}, 400),
        ({"scenario": "spike", "campaign_ids": "7"}, 400),
        ({"scenario": "spike", "campaign_ids": [4242]}, 404),
        ({"scenario": "spike", "hours": -1}, 400),
        ({"scenario": "spike", "factor": "lots"}, 400),
    ],
)
def test_a_bad_scenario_is_refused_and_changes_nothing(launch: Launch, body: dict, status: int) -> None:
    running = launch(two_steady())

    answer = running.admin.post("/scenarios", json=body)

    assert answer.status_code == status and answer.json()["errors"]
    assert running.state.account.episodes == {}


def test_play_and_stop_refuse_campaigns_they_cannot_move_and_change_none(launch: Launch) -> None:
    campaigns = [Campaign(id=1, status=PAUSED), Campaign(id=2, status=COMPLETED), Campaign(id=3, status=1)]
    running = launch(Account(campaigns=campaigns))

    play = running.api.put("/adv/campaigns/play", json={"campaign_ids": [1, 3]})
    stop = running.api.put("/adv/campaigns/stop", json={"campaign_ids": [1, 2]})
    not_a_list = running.api.put("/adv/campaigns/stop", json={"campaign_ids": 1})
    not_json = running.api.put("/adv/campaigns/stop", content=b"campaign_ids=1")

    assert play.json() == {"campaign_ids": ["Campaign 3 is a draft."]}
    assert stop.json() == {"campaign_ids": ["Campaign 2 is completed."]}
    assert [a.status_code for a in (play, stop, not_a_list, not_json)] == [400] * 4
    assert {c.id: c.status for c in running.state.account.campaigns.values()} == {1: PAUSED, 2: COMPLETED, 3: 1}


def test_speed_clock_runs_faster_than_real_time() -> None:
    ticks = iter([100.0, 101.0, 130.0])
    origin = datetime(2025, 9, 29, tzinfo=timezone.utc)

    clock = SpeedClock(60, origin, monotonic=lambda: next(ticks))

    assert clock() == origin + timedelta(minutes=1)
    assert clock() == origin + timedelta(minutes=30)


# --- the seeded account --------------------------------------------------------------------------------


def test_seeded_account_has_the_cases_the_bot_must_tell_apart() -> None:
    account = Account.seeded(30, seed=7, now=NOON)
    campaigns = list(account.campaigns.values())
    statuses = [c.status for c in campaigns]
    week = [NOON.date() - timedelta(days=n) for n in range(7, 0, -1)]
    daily = {
        c.id: [account.day_stats(c.id, d, NOON) for d in week] for c in campaigns if c.status == WORKING
    }

    def weekly(campaign_id: int) -> tuple[Decimal, int]:
        days = [s for s in daily[campaign_id] if s is not None]
        return sum((s.spent for s in days), Decimal(0)), sum(s.conversions for s in days)

    assert len(campaigns) == 30
    assert Decimal(1500) <= account.balance <= Decimal(5000)
    assert {6, 7, 8, 9} <= set(statuses) and statuses.count(WORKING) > len(statuses) / 2
    assert sum(1 for c in campaigns if c.status == WORKING and c.limit_daily_amount is None) >= 2
    assert any(c.is_archived for c in campaigns)
    limited = [c for c in campaigns if c.status == WORKING and c.limit_daily_amount]
    capped = [c for c in limited if all(s and s.spent >= c.limit_daily_amount * Decimal("0.8") for s in daily[c.id])]
    under = [c for c in limited if all(s and s.spent < c.limit_daily_amount * Decimal("0.7") for s in daily[c.id])]
    assert capped and under
    totals = {cid: weekly(cid) for cid in daily}
    winners = [cid for cid, (spent, conv) in totals.items() if conv >= 3 and 5 <= spent / conv <= 7]
    losers = [cid for cid, (spent, conv) in totals.items() if conv and spent / conv >= 20]
    silent = [cid for cid, (spent, conv) in totals.items() if spent >= 20 and conv == 0]
    assert winners and losers and silent


def test_seeded_statistics_are_deterministic_by_seed(launch: Launch) -> None:
    first = launch(Account.seeded(30, seed=7, now=NOON))
    again = launch(Account.seeded(30, seed=7, now=NOON))
    other = launch(Account.seeded(30, seed=8, now=NOON))
    query = {"day_from": "2025-09-22", "day_to": "2025-09-29", "group_by[]": "campaign_id"}

    bodies = [r.api.get("/adv/statistics", params=query).content for r in (first, again, other)]
    lists = [r.api.get("/adv/campaigns").content for r in (first, again, other)]

    assert bodies[0] == bodies[1] and lists[0] == lists[1]
    assert bodies[0] != bodies[2] and lists[0] != lists[2]
    assert 0 < json.loads(bodies[0])["total_items"] < 30  # only campaigns that did something


def test_ten_thousand_campaigns_seed_quickly_and_page(launch: Launch) -> None:
    started = time.perf_counter()
    account = Account.seeded(10_000, seed=3, now=NOON)
    seeding = time.perf_counter() - started
    running = launch(account)

    last = running.api.get("/adv/campaigns", params={"page": 100, "page_size": 100}).json()
    stats = running.api.get(
        "/adv/statistics", params={"day_from": "2025-09-28", "day_to": "2025-09-29", "group_by[]": "campaign_id"}
    ).json()

    assert seeding < 3.0
    assert len(last["result"]) == 100 and last["meta"]["total_pages"] == 100
    assert stats["total_items"] > 1000 and stats["total_pages"] == -(-stats["total_items"] // 1000)
    assert len(stats["items"]) == 1000


# --- fault switches -------------------------------------------------------------------------------------


def test_fail_next_answers_500_once_then_normally(launch: Launch) -> None:
    running = launch(exact_account())
    running.state.faults.fail_next("PATCH", "/adv/campaigns/")

    failed = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": 60})
    unchanged = running.state.account.campaign(101).limit_daily_amount
    retried = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": 60})

    assert failed.status_code == 500 and failed.json() == {"errors": ["Internal server error."]}
    assert unchanged == Decimal("50.00")
    assert retried.status_code == 200
    assert running.state.account.campaign(101).limit_daily_amount == Decimal("60.00")
    assert [e.status for e in running.state.requests.entries("PATCH")] == [500, 200]


def test_fail_next_after_effect_fails_a_write_that_happened(launch: Launch) -> None:
    running = launch(exact_account())
    running.state.faults.fail_next("PATCH", "/v5/adv/campaigns/101", 502, after_effect=True)

    answer = running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": 75})

    assert answer.status_code == 502 and answer.headers["Content-Type"] == "text/html"
    assert running.state.account.campaign(101).limit_daily_amount == Decimal("75.00")


def test_fail_next_matches_method_and_path_only(launch: Launch) -> None:
    running = launch(exact_account())
    running.state.faults.fail_next("GET", "/adv/statistics", 503, times=2)

    other = running.api.get("/adv/balance")
    answers = [running.api.get("/adv/statistics", params=WEEK_WITH_TZ).status_code for _ in range(3)]

    assert other.status_code == 200
    assert answers == [503, 503, 200]
    assert running.state.faults.pending == []


def test_forced_429_carries_a_reset_like_a_real_one(launch: Launch, rate_clock: ManualClock) -> None:
    running = launch(exact_account())
    running.state.faults.fail_next("GET", "/adv/balance", 429)

    answer = running.api.get("/adv/balance")

    assert answer.status_code == 429 and answer.text == "You exceeded the rate limit"
    assert int(answer.headers["X-RateLimit-Reset"]) == int(rate_clock.timestamp()) + 60


def test_latency_delays_only_the_chosen_endpoint(launch: Launch) -> None:
    running = launch(exact_account(), timeout=0.3)
    running.state.faults.latency_by_endpoint["statistics"] = 5.0

    with pytest.raises(httpx.ReadTimeout):
        running.api.get("/adv/statistics", params=WEEK_WITH_TZ)
    assert running.api.get("/adv/balance").status_code == 200


def test_latency_for_all_requests_is_felt(launch: Launch) -> None:
    running = launch(exact_account())
    running.state.faults.latency = 0.2

    started = time.perf_counter()
    answer = running.api.get("/adv/balance")

    assert answer.status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_malformed_answers_200_with_a_body_that_does_not_parse(launch: Launch) -> None:
    running = launch(exact_account())
    running.state.faults.malformed.add("statistics")
    running.state.faults.fail_next("GET", "/adv/balance", malformed=True)

    stats = running.api.get("/adv/statistics", params=WEEK_WITH_TZ)
    balance = running.api.get("/adv/balance")

    for answer in (stats, balance):
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.content)
    assert stats.content.startswith(b'{"items":[')
    assert running.api.get("/adv/balance").content == b'"1000.00"'


def test_drop_closes_the_connection_without_an_answer(launch: Launch) -> None:
    running = launch(exact_account())
    running.state.faults.fail_next("PUT", "/adv/campaigns/stop", drop=True)
    running.state.faults.drop.add("balance")

    with pytest.raises(httpx.RemoteProtocolError):
        running.api.put("/adv/campaigns/stop", json={"campaign_ids": [101]})
    with pytest.raises(httpx.RemoteProtocolError):
        running.api.get("/adv/balance")
    retried = running.api.put("/adv/campaigns/stop", json={"campaign_ids": [101]})

    assert retried.status_code == 200
    assert [e.status for e in running.state.requests.entries("PUT")] == [None, 200]


def test_random_5xx_follow_the_fault_seed(launch: Launch, relaxed: Callable[..., SandboxConfig]) -> None:
    runs = []
    for _ in range(2):
        running = launch(exact_account(), config=relaxed(fault_seed=11))
        running.state.faults.error_rate = 0.5
        running.state.faults.error_statuses = (500, 502, 503)
        runs.append([running.api.get("/adv/balance").status_code for _ in range(20)])

    assert runs[0] == runs[1]
    assert {200} < set(runs[0]) <= {200, 500, 502, 503}


def test_faults_can_be_switched_over_http(launch: Launch) -> None:
    running = launch(exact_account())

    set_answer = running.admin.post(
        "/faults",
        json={"forbid_writes": True, "fail_next": [{"method": "GET", "path": "/adv/campaigns/101", "status": 500}]},
    )
    read_fail = running.api.get("/adv/campaigns/101")
    write = running.api.patch("/adv/campaigns/101", json={"name": "x"})
    cleared = running.admin.delete("/faults")
    write_again = running.api.patch("/adv/campaigns/101", json={"name": "x"})

    assert set_answer.status_code == 200 and len(set_answer.json()["fail_next"]) == 1
    assert read_fail.status_code == 500
    assert write.status_code == 403 and write.content == ACCESS_DENIED
    assert cleared.json()["forbid_writes"] is False
    assert write_again.status_code == 200
    assert running.admin.post("/faults", json={"drop": ["nowhere"]}).status_code == 400


# --- admin routes ---------------------------------------------------------------------------------------


def test_request_log_counts_api_calls_and_not_admin_ones(launch: Launch) -> None:
    running = launch(exact_account())

    running.api.get("/adv/balance")
    running.api.patch("/adv/campaigns/101", json={"limit_daily_amount": 70})
    running.api.get("/adv/statistics", params=WEEK_WITH_TZ)
    running.admin.get("/campaigns/101")
    logged = running.admin.get("/requests").json()
    patches = running.admin.get("/requests", params={"method": "PATCH"}).json()
    running.admin.post("/reset-log")

    assert logged["count"] == 3
    assert [(r["method"], r["path"], r["status"]) for r in logged["requests"]] == [
        ("GET", "/v5/adv/balance", 200),
        ("PATCH", "/v5/adv/campaigns/101", 200),
        ("GET", "/v5/adv/statistics", 200),
    ]
    assert patches["requests"][0]["body"] == {"limit_daily_amount": 70}
    assert parse_qs(logged["requests"][2]["query"])["group_by[]"] == ["campaign_id"]
    assert logged["requests"][0]["time"] == NOON.isoformat()
    assert running.state.requests.count() == 0


def test_admin_shows_a_campaign_and_sets_the_balance_without_a_token(launch: Launch) -> None:
    running = launch(exact_account())

    campaign = running.admin.get("/campaigns/101").json()
    set_balance = running.admin.post("/balance", json={"balance": "2345.6"})

    assert campaign["limit_daily_amount"] == "50.00" and campaign["spent_today"] == "0.000"
    assert set_balance.json() == {"balance": "2345.60"}
    assert running.api.get("/adv/balance").json() == "2345.60"
    assert running.admin.get("/clock").json() == {"now": NOON.isoformat()}


def test_rate_limits_can_be_changed_over_http(launch: Launch) -> None:
    running = launch(exact_account())

    changed = running.admin.post("/rate-limits", json={"balance": {"limit": 1, "window": 30}, "statistics": None})
    answers = [running.api.get("/adv/balance") for _ in range(2)]
    stats = running.api.get("/adv/statistics", params=WEEK_WITH_TZ)

    assert changed.json()["balance"] == {"limit": 1, "window": 30.0}
    assert "statistics" not in changed.json()
    assert [a.status_code for a in answers] == [200, 429]
    assert stats.status_code == 200 and "X-RateLimit-Limit" not in stats.headers


# --- persistence and the command-line entry point -------------------------------------------------------


def test_state_round_trips_through_json_with_money_as_strings(tmp_path: Path) -> None:
    account = steady_account(balance_since=NOON)
    account.record(7, date(2025, 9, 1), spent="3.5", impressions=10, conversions=1)
    account.update(7, NOON + timedelta(hours=1), limit_daily_amount=Decimal("42.5"))
    account.begin(7, "spike", NOON + timedelta(hours=2), hours=1, factor=Decimal(3))
    account.begin(7, "stall", NOON + timedelta(hours=4))
    path = tmp_path / "state.json"

    account.save(path)
    loaded = Account.load(path)
    saved = json.loads(path.read_text())

    assert saved["balance"] == "500.00" and saved["campaigns"][0]["limit_daily_amount"] == "42.50"
    assert loaded.to_state() == account.to_state()
    assert loaded.episodes == account.episodes and len(saved["episodes"]["7"]) == 2
    later = NOON + timedelta(hours=6)
    assert loaded.day_stats(7, later.date(), later) == account.day_stats(7, later.date(), later)
    assert loaded.balance_at(later) == account.balance_at(later)


def test_serve_runs_until_interrupted_and_keeps_its_state(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"

    def run() -> tuple[subprocess.Popen[str], str]:
        port = free_port()
        code = (
            "from sandbox.adplatform import serve; "
            f"serve(port={port}, token='t', campaigns=12, seed=5, state_file={str(state_file)!r}, speed=60)"
        )
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stdout is not None
        banner = process.stdout.readline()  # printed once the socket listens
        assert f"127.0.0.1:{port}/v5" in banner, banner
        return process, f"http://127.0.0.1:{port}/v5"

    def stop(process: subprocess.Popen[str]) -> None:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0

    process, base = run()
    try:
        headers = {"Authorization": "Bearer t"}
        listed = httpx.get(base + "/adv/campaigns", headers=headers).json()
        first_id = listed["result"][0]["id"]
        changed = httpx.patch(base + f"/adv/campaigns/{first_id}", headers=headers, json={"limit_daily_amount": 123.45})
        assert changed.status_code == 200
    finally:
        stop(process)
    assert listed["meta"]["total_items"] == 12

    process, base = run()
    try:
        again = httpx.get(base + f"/adv/campaigns/{first_id}", headers={"Authorization": "Bearer t"}).json()
    finally:
        stop(process)
    assert again["limit_daily_amount"] == 123.45
    assert re.fullmatch(r"\d+\.\d{2}", json.loads(state_file.read_text())["balance"])


def test_the_admin_url_the_banner_advertises_lists_what_it_offers(launch: Launch) -> None:
    # The banner says "admin at /_sandbox/"; that address used to answer 404.
    running = launch()
    for path in ("/", ""):
        answer = running.admin.get(path)
        assert answer.status_code == 200, path
        listed = {(route["method"], route["path"]) for route in answer.json()["routes"]}
        assert ("POST", "/_sandbox/faults") in listed and ("GET", "/_sandbox/requests") in listed
        assert answer.json()["api"] == "/v5"
