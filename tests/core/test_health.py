"""Budget health analysis with hand-computed figures, the snapshot read, and the report's JSON money."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from core.health import (
    AccountSnapshot,
    CampaignRisk,
    HealthThresholds,
    RecommendationCode,
    RiskLevel,
    analyze,
)
from core.models import Campaign, CampaignStats, StatisticsRow, sum_by_campaign
from core.propellerads import PropellerAdsClient
from core.snapshot import read_snapshot, trailing_window
from bot.report_text import report_json

TAKEN_AT = datetime(2025, 9, 30, 9, 0, tzinfo=timezone.utc)
WINDOW = (date(2025, 9, 23), date(2025, 9, 29))  # 7 days


def working(campaign_id: int, daily: str | None, status: int = 6) -> Campaign:
    return Campaign(
        id=campaign_id,
        name=f"c{campaign_id}",
        status=status,
        daily_budget=None if daily is None else Decimal(daily),
    )


def stats(campaign_id: int, spent: str, conversions: int = 0) -> CampaignStats:
    return CampaignStats(campaign_id=campaign_id, spent=Decimal(spent), conversions=conversions)


def snapshot(balance: str, campaigns: list[Campaign], spend: list[CampaignStats] = ()) -> AccountSnapshot:
    return AccountSnapshot(
        balance=Decimal(balance),
        campaigns=campaigns,
        stats={s.campaign_id: s for s in spend},
        window_from=WINDOW[0],
        window_to=WINDOW[1],
        taken_at=TAKEN_AT,
    )


def account() -> AccountSnapshot:
    """Balance 1,000.00; five working campaigns and a paused one.

    101 daily 50.00   -> 5% of the balance, fine
    102 daily 150.00  -> 15% > 10%: HIGH
    103 daily 1200.00 -> above the balance: CRITICAL
    104 no daily limit -> unlimited, apart from the total
    105 paused, daily 5000.00 -> ignored (only status 6 spends)
    106 daily 100.00  -> exactly 10%: not above the share, fine
    Total daily budget = 50 + 150 + 1200 + 100 = 1,500.00.
    Spend over the 7 days: 101 70.00 (7 conv), 102 210.50 (0 conv), 105 19.50 (1 conv) = 300.00.
    """
    return snapshot(
        "1000.00",
        [
            working(101, "50.00"),
            working(102, "150.00"),
            working(103, "1200.00"),
            working(104, None),
            working(105, "5000.00", status=7),
            working(106, "100.00"),
        ],
        [stats(101, "70.00", 7), stats(102, "210.50", 0), stats(105, "19.50", 1)],
    )


def test_total_daily_budget_counts_working_campaigns_with_a_limit_only() -> None:
    report = analyze(account())
    assert report.balance == Decimal("1000.00")
    assert report.total_daily_budget == Decimal("1500.00")  # 50 + 150 + 1200 + 100; not 105's 5000
    assert [c.id for c in report.active_campaigns] == [101, 102, 103, 104, 106]
    assert [c.id for c in report.unlimited_campaigns] == [104]


def test_campaigns_at_risk_high_above_ten_percent_critical_above_the_balance() -> None:
    report = analyze(account())
    assert report.campaigns_at_risk == [
        # 1200 / 1000 = 1.2; 150 / 1000 = 0.15; 106 at exactly 0.10 is not listed.
        CampaignRisk(103, "c103", Decimal("1200.00"), Decimal("1.2"), RiskLevel.CRITICAL),
        CampaignRisk(102, "c102", Decimal("150.00"), Decimal("0.15"), RiskLevel.HIGH),
    ]


def test_a_daily_budget_equal_to_the_balance_is_high_not_critical() -> None:
    report = analyze(snapshot("500.00", [working(1, "500.00")]))
    assert [(r.id, r.risk_level) for r in report.campaigns_at_risk] == [(1, RiskLevel.HIGH)]


def test_with_no_balance_every_limited_campaign_is_critical() -> None:
    report = analyze(snapshot("0.00", [working(1, "10.00")]))
    assert report.campaigns_at_risk == [CampaignRisk(1, "c1", Decimal("10.00"), None, RiskLevel.CRITICAL)]
    assert report.budget_days == Decimal("0.0")
    assert report.has(RecommendationCode.LOW_BALANCE)


def test_the_risk_share_is_configurable() -> None:
    report = analyze(account(), HealthThresholds(campaign_share_of_balance=Decimal("0.2")))
    # 102 at 15% is now under the 20% line; 103 is still above the balance.
    assert [(r.id, r.risk_level) for r in report.campaigns_at_risk] == [(103, RiskLevel.CRITICAL)]


def test_recommendations_for_the_account_in_order() -> None:
    report = analyze(account())
    # 1000 / 1500 = 0.666 days, shown rounded down as 0.6; 3 days need 4500, so 3500 more.
    assert [(r.code, r.campaign_id) for r in report.recommendations] == [
        (RecommendationCode.LOW_BALANCE, None),
        (RecommendationCode.UNLIMITED_DAILY_BUDGET, None),
        (RecommendationCode.REVIEW_CAMPAIGN_AT_RISK, 103),
        (RecommendationCode.REVIEW_CAMPAIGN_AT_RISK, 102),
    ]
    assert report.recommendations[0].message == (
        "Top up the balance: 1,000.00 covers 0.6 days of the 1,500.00 total daily budget; "
        "add at least 3,500.00 to cover 3 days."
    )
    assert report.recommendations[1].message == (
        "1 working campaign(s) have no daily budget and can spend the whole balance in a day: "
        "c104 (104). Set a daily budget."
    )
    assert report.recommendations[2].message == (
        "c103 (103): its daily budget of 1,200.00 is 120% of the balance. Lower it or top up."
    )
    assert report.budget_days == Decimal("0.6")


@pytest.mark.parametrize(
    ("balance", "low"),
    [
        pytest.param("300.00", False, id="exactly-3-days"),  # 300 / 100 = 3.0: not under 3
        pytest.param("299.99", True, id="a-cent-under-3-days"),  # 2.9999 days
        pytest.param("1000.00", False, id="10-days"),
    ],
)
def test_low_balance_when_the_balance_covers_under_3_days_of_daily_budget(balance: str, low: bool) -> None:
    report = analyze(snapshot(balance, [working(1, "60.00"), working(2, "40.00")]))
    assert report.has(RecommendationCode.LOW_BALANCE) is low


def test_low_balance_asks_for_the_missing_amount_to_the_cent() -> None:
    report = analyze(snapshot("299.99", [working(1, "100.00")]))
    assert report.budget_days == Decimal("2.9")  # 2.9999 rounded down, never up
    assert report.recommendations[0].message.endswith("add at least 0.01 to cover 3 days.")


def test_low_balance_days_are_configurable() -> None:
    report = analyze(account(), HealthThresholds(low_balance_days=Decimal("0.5")))
    assert not report.has(RecommendationCode.LOW_BALANCE)  # 0.6 days >= 0.5


def test_runway_is_the_balance_over_the_7_day_average_actual_spend() -> None:
    report = analyze(account())
    # 300.00 over 7 days = 42.857... a day; 1000 / 42.857 = 23.33 days, rounded down to 23.3.
    assert report.window_spend == Decimal("300.00")
    assert report.window_days == 7
    assert report.runway_days == Decimal("23.3")
    assert not report.has(RecommendationCode.LOW_RUNWAY)


def test_runway_is_none_without_spend() -> None:
    report = analyze(snapshot("1000.00", [working(1, "10.00")], [stats(1, "0", 0)]))
    assert report.runway_days is None
    assert not report.has(RecommendationCode.LOW_RUNWAY)


def test_low_runway_when_actual_spend_exhausts_the_balance_within_3_days() -> None:
    # 700 over 7 days = 100 a day; 200 lasts 2.0 days.
    report = analyze(snapshot("200.00", [working(1, "300.00")], [stats(1, "700.00", 5)]))
    assert report.runway_days == Decimal("2.0")
    low = [r for r in report.recommendations if r.code is RecommendationCode.LOW_RUNWAY]
    assert [r.message for r in low] == [
        "At the last 7 days' average spend of 100.00 a day, the balance runs out in 2.0 days."
    ]


def test_per_campaign_spend_conversions_and_cpa() -> None:
    report = analyze(account())
    rows = [(p.id, p.spent, p.conversions, p.cpa) for p in report.performance]
    assert rows == [
        (102, Decimal("210.50"), 0, None),  # no conversion: no CPA
        (101, Decimal("70.00"), 7, Decimal("10.00")),  # 70 / 7
        (105, Decimal("19.50"), 1, Decimal("19.50")),  # paused now, but it spent in the window
        (103, Decimal("0"), 0, None),
        (104, Decimal("0"), 0, None),
        (106, Decimal("0"), 0, None),
    ]
    by_id = {p.id: p for p in report.performance}
    # 210.50 / 7 = 30.07 a day of a 150.00 daily budget.
    assert by_id[102].average_daily_spend == Decimal("30.07142857142857142857142857")
    assert by_id[101].budget_use == Decimal("0.2")  # 10 a day of 50
    assert by_id[104].budget_use is None


def test_cpa_is_rounded_to_cents() -> None:
    report = analyze(snapshot("1000.00", [working(1, "50.00")], [stats(1, "100.00", 3)]))
    assert report.performance[0].cpa == Decimal("33.33")


def test_statistics_rows_add_up_exactly_as_decimals() -> None:
    rows = [
        StatisticsRow(campaign_id=1, spent=0.1, conversions=1),
        StatisticsRow(campaign_id=1, spent=0.2, conversions=2),
        StatisticsRow(campaign_id=None, spent=5.0),
    ]
    totals = sum_by_campaign(rows)
    assert list(totals) == [1]
    assert totals[1].spent == Decimal("0.3")  # not 0.30000000000000004
    assert totals[1].conversions == 3


def test_trailing_window_is_the_last_7_whole_days_before_today() -> None:
    assert trailing_window(date(2025, 9, 30), 7) == WINDOW


# --- read_snapshot over HTTP, then the report's JSON ------------------------------------------


def _campaign_pages(request: httpx.Request) -> httpx.Response:
    """119 working campaigns at 10.00 a day and, ignoring the status filter, one paused at 999.00."""
    page = int(request.url.params["page"])
    ids = range(1, 101) if page == 1 else range(101, 121)
    result: list[dict[str, Any]] = [
        {"id": i, "name": f"c{i}", "status": 7 if i == 120 else 6, "limit_daily_amount": 999.0 if i == 120 else 10.0}
        for i in ids
    ]
    meta = {"total_items": 120, "total_pages": 2, "page_size": 100, "page": page}
    return httpx.Response(200, json={"result": result, "meta": meta})


STATS_ROWS = [
    {"campaign_id": 1, "campaign_name": "c1", "spent": 97.137, "money": 97.137, "conversions": 23, "win_rate": "0.0650"},
    {"campaign_id": 2, "campaign_name": "c2", "spent": 1.374, "money": 1.374, "conversions": 0, "win_rate": "-"},
    {"campaign_id": 999, "campaign_name": "gone", "spent": 11.648, "money": 11.648, "conversions": 2, "win_rate": "-"},
]


@pytest.fixture
def account_over_http(mock_ads: respx.MockRouter) -> dict[str, respx.Route]:
    return {
        "balance": mock_ads.get("/adv/balance").mock(return_value=httpx.Response(200, json="1517.70")),
        "campaigns": mock_ads.get("/adv/campaigns").mock(side_effect=_campaign_pages),
        "statistics": mock_ads.get("/adv/statistics").mock(
            return_value=httpx.Response(200, json={"items": STATS_ROWS, "total_pages": 1, "total_items": 3})
        ),
    }


async def test_read_snapshot_makes_one_balance_call_every_campaign_page_and_one_statistics_call(
    api: PropellerAdsClient, account_over_http: dict[str, respx.Route]
) -> None:
    snap = await read_snapshot(api, now=TAKEN_AT)
    assert api.calls == Counter({"GET /adv/balance": 1, "GET /adv/campaigns": 2, "GET /adv/statistics": 1})
    campaign_params = [c.request.url.params for c in account_over_http["campaigns"].calls]
    assert [p.get_list("status[]") for p in campaign_params] == [["6"], ["6"]]
    stats_params = account_over_http["statistics"].calls[0].request.url.params
    assert stats_params["day_from"] == "2025-09-23 00:00:00"
    assert stats_params["day_to"] == "2025-09-29 23:59:59"
    assert stats_params.get_list("group_by[]") == ["campaign_id"]
    assert "campaign_id[]" not in stats_params  # one grouped call, never per campaign

    assert snap.balance == Decimal("1517.70")
    assert [c.id for c in snap.campaigns] == list(range(1, 120))  # the paused 120 dropped client-side
    assert (snap.window_from, snap.window_to) == WINDOW
    assert snap.stats[1].spent == Decimal("97.137")
    assert snap.stat_names == {1: "c1", 2: "c2", 999: "gone"}


async def test_report_json_money_is_exact_to_the_cent(
    api: PropellerAdsClient, account_over_http: dict[str, respx.Route]
) -> None:
    report = analyze(await read_snapshot(api, now=TAKEN_AT))
    out = report_json(report)
    assert out["account_balance"] == "1517.70"
    assert out["total_daily_budget"] == "1190.00"  # 119 x 10.00; the paused 999.00 left out
    # 97.137 + 1.374 + 11.648 = 110.159 -> 110.16; / 7 = 15.737 -> 15.74
    assert out["window"] == {
        "from": "2025-09-23",
        "to": "2025-09-29",
        "days": 7,
        "spend": "110.16",
        "average_daily_spend": "15.74",
    }
    # 1517.70 / 1190.00 = 1.275 days -> 1.2; 1517.70 / 15.737 = 96.44 -> 96.4
    assert (out["budget_days"], out["runway_days"]) == (1.2, 96.4)
    assert out["campaigns"][:3] == [
        {"id": 1, "name": "c1", "daily_budget": "10.00", "spent": "97.14", "conversions": 23, "cpa": "4.22"},
        {"id": 999, "name": "gone", "daily_budget": None, "spent": "11.65", "conversions": 2, "cpa": "5.82"},
        {"id": 2, "name": "c2", "daily_budget": "10.00", "spent": "1.37", "conversions": 0, "cpa": None},
    ]
    assert out["campaigns_at_risk"] == []
    # 3 days of 1190.00 = 3570.00; 3570.00 - 1517.70 = 2052.30
    assert out["recommendations"][0]["code"] == "LOW_BALANCE"
    assert "add at least 2,052.30 to cover 3 days" in out["recommendations"][0]["message"]
    assert out["generated_at"] == "2025-09-30T09:00:00+00:00"


def test_report_json_of_campaigns_at_risk() -> None:
    out = report_json(analyze(account()))
    assert out["campaigns_at_risk"] == [
        {"id": 103, "name": "c103", "daily_budget": "1200.00", "risk_level": "CRITICAL", "share_of_balance": "1.2000"},
        {"id": 102, "name": "c102", "daily_budget": "150.00", "risk_level": "HIGH", "share_of_balance": "0.1500"},
    ]
    assert out["unlimited_campaigns"] == [{"id": 104, "name": "c104"}]
    assert out["window"]["average_daily_spend"] == "42.86"  # 300 / 7 = 42.857


def test_unreadable_campaigns_are_reported_and_left_out_of_the_figures() -> None:
    from core.models import UnreadableItem

    snap = snapshot("1000", [working(101, "50")])
    snap = AccountSnapshot(**{**snap.__dict__, "unreadable": [UnreadableItem("campaign", 7, "Huge", "limit_daily_amount 1e+27 is out of range")]})
    report = analyze(snap)
    assert report.total_daily_budget == Decimal("50")
    unreadable = [r for r in report.recommendations if r.code is RecommendationCode.UNREADABLE_FIGURES]
    assert len(unreadable) == 1
    assert "Huge (7): limit_daily_amount 1e+27 is out of range" in unreadable[0].message
    assert report_json(report)["unreadable"] == [
        {"what": "campaign", "campaign_id": 7, "name": "Huge", "reason": "limit_daily_amount 1e+27 is out of range"}
    ]


def test_a_name_that_carries_its_id_is_not_followed_by_it_again() -> None:
    # "… Desktop 9419930 (9419930)" said the ID twice.
    carrying = Campaign(id=9419930, name="[CPC] MX iOS 9419930", status=6, daily_budget=None)
    report = analyze(snapshot("1000", [carrying, working(104, None)]))
    [unlimited] = [r for r in report.recommendations if r.code is RecommendationCode.UNLIMITED_DAILY_BUDGET]
    assert "in a day: c104 (104), [CPC] MX iOS 9419930. Set" in unlimited.message
