"""The statistics endpoint's query rules and answer: rows grouped by campaign and/or day, totals, pages of 1000."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.adplatform.account import Account
from sandbox.adplatform.model import MILL, Campaign, DayStats, api_float
from sandbox.adplatform.simulation import PLATFORM_ZONE

PER_PAGE = 1000
GROUPINGS = ("campaign_id", "date_time")
BLANK = "This value should not be blank."
NOT_A_CHOICE = "The value you selected is not a valid choice."
TZ_WEEKLY_ONLY = "Time zone is available only in the weekly period."
_TZ = re.compile(r"^[+-](0\d|1[0-4]):?[0-5]\d$")
_HUNDREDTH = Decimal("0.01")


class FieldErrors(Exception):
    """A 400 answer: messages keyed by field, the way the live API reports validation errors."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(dict(errors))
        self.errors = dict(errors)


@dataclass(frozen=True)
class StatisticsQuery:
    day_from: date
    day_to: date
    group_by: tuple[str, ...]
    campaign_ids: frozenset[int] | None = None
    tz: str | None = None
    page: int = 1

    @property
    def zone(self) -> timezone:
        """Where the asked days are cut: at `tz`, else at the platform's own midnight (EST)."""
        if self.tz is None:
            return PLATFORM_ZONE
        sign, hours, minutes = self.tz[0], int(self.tz[1:3]), int(self.tz[-2:])
        offset = timedelta(hours=hours, minutes=minutes)
        return timezone(-offset if sign == "-" else offset)


def parse_query(params: Mapping[str, list[Any]], *, tz_max_days: int = 7) -> StatisticsQuery:
    """Reads `day_from`, `day_to`, `group_by`, `campaign_id`, `tz` and `page`, each given as a list of values.

    The live API refused `tz` for 2025-08-30..2025-09-29 and took it for 2025-09-22..2025-09-29,
    so the rule is on the gap between the two dates: at most `tz_max_days` days.
    """
    errors: dict[str, list[str]] = {}
    day_from = _day(params, "day_from", errors)
    day_to = _day(params, "day_to", errors)
    group_by = tuple(dict.fromkeys(str(g) for g in params.get("group_by", []) if str(g)))
    if not group_by:
        errors["group_by"] = [BLANK]
    elif any(g not in GROUPINGS for g in group_by):
        errors["group_by"] = [NOT_A_CHOICE]
    campaign_ids = None
    if params.get("campaign_id"):
        try:
            campaign_ids = frozenset(int(str(v)) for v in params["campaign_id"])
        except ValueError:
            errors["campaign_id"] = ["This value is not valid."]
    tz = _single(params, "tz")
    if tz is not None:
        if not _TZ.match(str(tz)):
            errors["tz"] = ["This value is not a valid timezone."]
        elif day_from is not None and day_to is not None and (day_to - day_from).days > tz_max_days:
            errors["tz"] = [TZ_WEEKLY_ONLY]
    if day_from is not None and day_to is not None and day_to < day_from:
        errors.setdefault("day_to", []).append("This value should be greater than or equal to day_from.")
    page = _single(params, "page")
    try:
        page_number = 1 if page in (None, "") else int(str(page))
        if page_number < 1:
            raise ValueError
    except ValueError:
        errors["page"] = ["This value should be greater than 0."]
        page_number = 1
    if errors:
        raise FieldErrors(errors)
    assert day_from is not None and day_to is not None
    return StatisticsQuery(day_from, day_to, group_by, campaign_ids, None if tz is None else str(tz), page_number)


Group = tuple[Campaign | None, date | None, DayStats]


def build_report(account: Account, query: StatisticsQuery, now: datetime) -> dict[str, Any]:
    """The answer body for one page, totals over every row. Days are cut at the query's zone; times of day are
    not used."""
    args = (query.day_from, query.day_to, now, query.campaign_ids, query.zone)
    if query.group_by == ("campaign_id",):
        groups: list[Group] = [(campaign, None, stats) for campaign, stats in account.campaign_totals(*args)]
    else:
        groups = _by_day(account.activity(*args), query.group_by)
    total = DayStats()
    for _, _, stats in groups:
        total = total + stats
    first = (query.page - 1) * PER_PAGE
    return {
        "items": [_row(stats, campaign, day) for campaign, day, stats in groups[first : first + PER_PAGE]],
        "totals": _totals(total),
        "per_page": PER_PAGE,
        "total_pages": math.ceil(len(groups) / PER_PAGE),
        "total_items": len(groups),
        "vat_percent": 0.0,
        "user_has_campaigns": bool(account.campaigns),
    }


def _by_day(activity: Iterable[tuple[Campaign, date, DayStats]], group_by: tuple[str, ...]) -> list[Group]:
    """Rows per day, or per campaign and day, ordered in the order the groupings were asked for."""
    by_campaign = "campaign_id" in group_by
    sums: dict[tuple[Any, ...], Group] = {}
    for campaign, day, stats in activity:
        key: tuple[Any, ...] = (day,)
        if by_campaign:
            key = (campaign.id, day) if group_by[0] == "campaign_id" else (day, campaign.id)
        known = sums.get(key)
        sums[key] = (campaign if by_campaign else None, day, stats if known is None else known[2] + stats)
    return [sums[key] for key in sorted(sums)]


def _row(stats: DayStats, campaign: Campaign | None, day: date | None) -> dict[str, Any]:
    """One row in the recorded key order; `date_time` leads when grouped by day."""
    row: dict[str, Any] = {}
    if day is not None:
        row["date_time"] = day.isoformat()
    if campaign is not None:
        row["campaign_id"] = campaign.id
    row["money"] = api_float(stats.spent)
    if campaign is not None:
        row["campaign_name"] = campaign.name
        row["win_rate"] = campaign.win_rate
        row["daily_amount"] = int(campaign.limit_daily_amount or 0)
        row["total_amount"] = int(campaign.limit_total_amount or 0)
    row.update(
        impressions=stats.impressions,
        clicks=stats.clicks,
        conversions=stats.conversions,
        conversions2=stats.conversions2,
        conversions3=stats.conversions3,
        payout=0.0,
        viewability_real_impressions=0,
        spent=api_float(stats.spent),
        cpm=_ratio(stats.spent * 1000, stats.impressions),
        cpc=_ratio(stats.spent, stats.clicks),
        survey_cpc=_ratio(stats.spent, stats.impressions),
        cpa=_ratio(stats.spent, stats.conversions),
        profit=api_float(-stats.spent),
        roi=-100.0 if stats.spent else 0.0,
        ctr=_percent(stats.clicks, stats.impressions),
        cr=_conversion_rate(stats),
        rvr=0.0,
        is_premium_supply=False,
    )
    return row


def _totals(total: DayStats) -> dict[str, Any]:
    return {
        "impressions": total.impressions,
        "conversions": total.conversions,
        "conversions2": total.conversions2,
        "conversions3": total.conversions3,
        "clicks": total.clicks,
        "land_impressions": 0,
        "viewability_real_impressions": 0,
        "spent": api_float(total.spent),
        "payout": 0.0,
        "vat": 0.0,
        # The live totals said 0.0 here beside a spend of 6900.077; kept as seen.
        "spent_with_vat": 0.0,
        "optimization_cost": 0.0,
        "profit": api_float(-total.spent),
        "cr": _conversion_rate(total),
        "ctr": _percent(total.clicks, total.impressions),
        "cpm": _ratio(total.spent * 1000, total.impressions),
        "cpc": _ratio(total.spent, total.clicks),
        "cpa": _ratio(total.spent, total.conversions),
        "survey_cpc": _ratio(total.spent, total.impressions),
        "rvr": 0.0,
        "roi": -100.0 if total.spent else 0.0,
    }


def _ratio(amount: Decimal, count: int) -> float:
    """Money per unit to the mill, 0.0 when there is no unit (as the live rows show)."""
    if not count:
        return 0.0
    return float((amount / count).quantize(MILL, rounding=ROUND_HALF_UP))


def _percent(part: int, whole: int) -> float:
    # The live rows cut percentages rather than round them: 87 clicks of 377 showed as 23.07.
    if not whole:
        return 0.0
    return float((Decimal(part) * 100 / whole).quantize(_HUNDREDTH, rounding=ROUND_DOWN))


def _conversion_rate(stats: DayStats) -> float:
    # Live rows with clicks divide conversions by clicks, rows without by impressions.
    return _percent(stats.conversions, stats.clicks or stats.impressions)


def _day(params: Mapping[str, list[Any]], name: str, errors: dict[str, list[str]]) -> date | None:
    value = _single(params, name)
    if value in (None, ""):
        errors[name] = [BLANK]
        return None
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    errors[name] = ["This value is not a valid datetime."]
    return None


def _single(params: Mapping[str, list[Any]], name: str) -> Any:
    values = params.get(name)
    return values[-1] if values else None
