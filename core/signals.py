"""Signals: what in the way money moves deserves a person's attention, worked out from ledger values alone.

Each signal is a condition that holds now (the alert machinery raises it once and resolves it when it
stops holding), keyed by its code and campaign. Inputs are the ledger's daily rows (today's and the
days before, for baselines) and its intraday samples (today's and up to a week back, for same-hour
baselines). Messages are plain words; whoever shows them adds the markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum, IntEnum

from pydantic import BaseModel, Field

from core.adday import AdDay
from core.ledger_types import DailyRow, IntradaySample
from core.models import CampaignStatus
from core.money import fmt_money, fmt_percent
from core.pacing import CAPPED_SHARE, HOUR, ZERO, AccountPacing, CampaignPacing, account_pacing, hours_between

# PropellerAds pauses CPC push campaigns by itself for a few hours ("out of daily impression limit"):
# 6 and 7 both count as working until a pause outlasts `paused_news_hours`.
WORKING_LIKE = frozenset({CampaignStatus.WORKING, CampaignStatus.PAUSED})


class SignalCode(str, Enum):
    STOPPED_SPENDING = "STOPPED_SPENDING"
    STATUS_CHANGED = "STATUS_CHANGED"
    CAPPED_EARLY = "CAPPED_EARLY"
    UNDERPACING = "UNDERPACING"
    SPEND_SPIKE = "SPEND_SPIKE"
    SPEND_WITHOUT_CONVERSIONS = "SPEND_WITHOUT_CONVERSIONS"
    BALANCE_RUNS_OUT = "BALANCE_RUNS_OUT"
    CONVERSIONS_STOPPED = "CONVERSIONS_STOPPED"


class Severity(IntEnum):
    """The alerts' scale (core.alerts: WARNING 1, SERIOUS 2, CRITICAL 3), with INFO below it."""

    INFO = 0
    WARNING = 1
    SERIOUS = 2
    CRITICAL = 3


class SignalThresholds(BaseModel):
    """When each signal fires; every figure is configurable (the `[signals]` table)."""

    enabled: bool = True
    """Off, the spend ledger is still kept and pacing shown, but no signal is raised."""

    stopped_spending_hours: Decimal = Field(Decimal(2), gt=0)
    """A working campaign under its cap that spent in the hours before has spent nothing for this long."""
    paused_news_hours: Decimal = Field(Decimal(4), gt=0)
    """A working campaign paused (status 7) for longer than this is news; shorter is the platform pacing it."""
    capped_early_day_share: Decimal = Field(Decimal("0.75"), gt=0, le=1)
    """A campaign that hit its daily budget before this share of the ad day had gone lost volume."""
    underpacing_after_day_share: Decimal = Field(Decimal("0.25"), ge=0, lt=1)
    underpacing_budget_share: Decimal = Field(Decimal("0.5"), gt=0, le=1)
    """After `underpacing_after_day_share` of the day, projected to spend under this share of its daily budget."""
    spike_factor: Decimal = Field(Decimal(3), gt=1)
    """The last interval's spend rate against the campaign's usual rate at those hours."""
    spike_min_amount: Decimal = Field(Decimal(5), ge=0)
    """A spike must have spent at least this much in its interval."""
    no_conversions_cpa_multiple: Decimal = Field(Decimal(3), gt=0)
    """Spent this many times its CPA today (target CPA of its rule, else its 7-day CPA) without a conversion."""
    no_conversions_min_spend: Decimal = Field(Decimal(50), gt=0)
    """Without any CPA to compare with (no conversion in 7 days either), spent this much today without one."""
    conversions_stopped_hours: Decimal = Field(Decimal(3), gt=0)
    conversions_stopped_expected: Decimal = Field(Decimal(3), gt=0)
    """Account-wide: no conversion for `conversions_stopped_hours` while the spend usually buys this many."""
    balance_runs_out_hours: Decimal = Field(Decimal(48), gt=0)
    """Warn when the balance runs out within this many hours at the current rate."""
    baseline_days: int = Field(7, ge=1, le=30)
    """Days behind CPA and spend-rate baselines."""


@dataclass(frozen=True)
class Signal:
    code: SignalCode
    campaign_id: int | None
    """None for the account."""
    severity: Severity
    message: str

    @property
    def key(self) -> str:
        """Names the condition across checks: one alert per code and campaign."""
        return f"{self.code.value.lower()}:{'account' if self.campaign_id is None else self.campaign_id}"


def detect(
    now: datetime,
    ad_day: AdDay,
    rows: Iterable[DailyRow],
    samples: Iterable[IntradaySample],
    balance: Decimal | None,
    thresholds: SignalThresholds | None = None,
    target_cpa: Mapping[int, Decimal] | None = None,
) -> list[Signal]:
    """Every signal that holds now, the most severe first."""
    view = _View.of(now, ad_day, list(rows), list(samples), balance, thresholds or SignalThresholds(), target_cpa or {})
    found: list[Signal] = []
    for campaign in view.pacing.campaigns:
        for check in _CAMPAIGN_CHECKS:
            signal = check(view, campaign)
            if signal is not None:
                found.append(signal)
    for account_check in (_balance_runs_out, _conversions_stopped):
        signal = account_check(view)
        if signal is not None:
            found.append(signal)
    return sorted(found, key=lambda s: (-s.severity, s.code.value, s.campaign_id or 0))


# --- what every check reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    now: datetime
    ad_day: AdDay
    today: date
    th: SignalThresholds
    target_cpa: Mapping[int, Decimal]
    pacing: AccountPacing
    rows: Mapping[int, Mapping[date, DailyRow]]
    samples: Mapping[int, Sequence[IntradaySample]]
    """By campaign, every day's, oldest first."""

    @classmethod
    def of(
        cls,
        now: datetime,
        ad_day: AdDay,
        rows: list[DailyRow],
        samples: list[IntradaySample],
        balance: Decimal | None,
        th: SignalThresholds,
        target_cpa: Mapping[int, Decimal],
    ) -> _View:
        samples = [s for s in samples if s.at <= now]
        by_day: dict[int, dict[date, DailyRow]] = {}
        for row in rows:
            by_day.setdefault(row.campaign_id, {})[row.day] = row
        by_campaign: dict[int, list[IntradaySample]] = {}
        for sample in sorted(samples, key=lambda s: s.at):
            by_campaign.setdefault(sample.campaign_id, []).append(sample)
        pacing = account_pacing(now, ad_day, rows, samples, balance)
        return cls(now, ad_day, ad_day.today(now), th, target_cpa, pacing, by_day, by_campaign)

    def hours(self, value: Decimal) -> timedelta:
        return timedelta(seconds=int(value * 3600))

    def clock(self, moment: datetime) -> str:
        """A moment on the ad account's clock: "14:05", with the day when it is not today."""
        local = self.ad_day.local(moment)
        return local.strftime("%H:%M") if local.date() == self.today else local.strftime("%a %d %b %H:%M")

    def earlier_days(self, campaign_id: int) -> list[DailyRow]:
        """The campaign's rows of the baseline days before today."""
        days = self.rows.get(campaign_id, {})
        first = self.today - timedelta(days=self.th.baseline_days)
        return [row for day, row in days.items() if first <= day < self.today]

    def conversions_today(self, campaign: CampaignPacing) -> int:
        today = [s.conversions for s in self.samples.get(campaign.campaign_id, ()) if s.day == self.today]
        row = self.rows.get(campaign.campaign_id, {}).get(self.today)
        return max([*today[-1:], row.conversions if row else 0])


def _name(campaign: CampaignPacing) -> str:
    return f"{campaign.name} ({campaign.campaign_id})" if campaign.name else f"Campaign {campaign.campaign_id}"


def _growth(samples: Sequence[IntradaySample], since: datetime, until: datetime) -> tuple[Decimal, int] | None:
    """Spend and conversions added between two moments, a new ad day counting from zero; None when no sample
    is as old as `since`."""
    base = [s for s in samples if s.at <= since]
    if not base:
        return None
    previous = base[-1]
    spent, conversions = ZERO, 0
    for sample in samples:
        if not since < sample.at <= until:
            continue
        if sample.day == previous.day:
            spent += max(ZERO, sample.spent - previous.spent)
            conversions += max(0, sample.conversions - previous.conversions)
        else:
            spent += sample.spent
            conversions += sample.conversions
        previous = sample
    return spent, conversions


# --- per campaign ------------------------------------------------------------------------------------------


def _stopped_spending(view: _View, campaign: CampaignPacing) -> Signal | None:
    if not campaign.is_working or campaign.capped:
        return None
    quiet = view.hours(view.th.stopped_spending_hours)
    samples = view.samples.get(campaign.campaign_id, ())
    lately = _growth(samples, view.now - quiet, view.now)
    before = _growth(samples, view.now - 2 * quiet, view.now - quiet)
    if lately is None or before is None or lately[0] > 0 or before[0] <= 0:
        return None
    # Quiet while paused or stopped is the status's doing, not silence: it must have been working throughout.
    since = max(s.at for s in samples if s.at <= view.now - quiet)
    if any(s.status != CampaignStatus.WORKING for s in samples if since <= s.at <= view.now):
        return None
    flat_since = max(s.at for s in samples if s.at <= view.now - quiet)
    for earlier, later in zip(samples, samples[1:]):
        if later.at <= view.now and later.day == earlier.day and later.spent > earlier.spent:
            flat_since = later.at
    budget = f" of its {fmt_money(campaign.daily_budget)} daily budget" if campaign.daily_budget else ""
    return Signal(
        SignalCode.STOPPED_SPENDING,
        campaign.campaign_id,
        Severity.WARNING,
        f"{_name(campaign)} is working but has spent nothing since {view.clock(flat_since)}; "
        f"{fmt_money(campaign.spent)}{budget} spent today.",
    )


LEFT_WORKING = {
    CampaignStatus.REJECTED: ("was rejected by moderation", Severity.SERIOUS),
    CampaignStatus.MODERATION: ("went back to moderation", Severity.WARNING),
    CampaignStatus.STOPPED: ("was stopped", Severity.WARNING),
    CampaignStatus.COMPLETED: ("completed", Severity.WARNING),
}


def _status_changed(view: _View, campaign: CampaignPacing) -> Signal | None:
    samples = view.samples.get(campaign.campaign_id, ())
    today = [s for s in samples if s.day == view.today and s.status is not None]
    yesterday = view.rows.get(campaign.campaign_id, {}).get(view.today - timedelta(days=1))
    before = yesterday.status if yesterday and yesterday.status is not None else (today[0].status if today else None)
    now = campaign.status
    if before is None or now is None:
        return None
    if before in WORKING_LIKE and now not in WORKING_LIKE:
        words, severity = LEFT_WORKING.get(now, (f"left working (status {now})", Severity.WARNING))
        return Signal(
            SignalCode.STATUS_CHANGED, campaign.campaign_id, severity, f"{_name(campaign)} {words}; it no longer spends."
        )
    if before not in WORKING_LIKE and now == CampaignStatus.WORKING:
        return Signal(
            SignalCode.STATUS_CHANGED, campaign.campaign_id, Severity.INFO, f"{_name(campaign)} started working."
        )
    if now == CampaignStatus.PAUSED and before in WORKING_LIKE:
        paused_since = None
        for sample in reversed([s for s in samples if s.status is not None]):
            if sample.status != CampaignStatus.PAUSED:
                break
            paused_since = sample.at
        if paused_since is not None and view.now - paused_since >= view.hours(view.th.paused_news_hours):
            return Signal(
                SignalCode.STATUS_CHANGED,
                campaign.campaign_id,
                Severity.WARNING,
                f"{_name(campaign)} has been paused since {view.clock(paused_since)} and spends nothing; "
                "PropellerAds' own pause of a push campaign would have lifted by now.",
            )
    return None


def _capped_early(view: _View, campaign: CampaignPacing) -> Signal | None:
    if not campaign.capped or campaign.cap_at is None or campaign.daily_budget is None:
        return None
    share = view.ad_day.share_gone(campaign.cap_at)
    if share >= view.th.capped_early_day_share:
        return None
    return Signal(
        SignalCode.CAPPED_EARLY,
        campaign.campaign_id,
        Severity.WARNING,
        f"{_name(campaign)} hit its {fmt_money(campaign.daily_budget)} daily budget at {view.clock(campaign.cap_at)} "
        f"with {fmt_percent(1 - share)} of the ad day still to go: the rest of the day's volume is lost. "
        "If it converts well, its daily budget is worth raising.",
    )


def _underpacing(view: _View, campaign: CampaignPacing) -> Signal | None:
    budget = campaign.daily_budget
    if not campaign.is_working or not budget or campaign.day_share < view.th.underpacing_after_day_share:
        return None
    if campaign.projected >= budget * view.th.underpacing_budget_share:
        return None
    return Signal(
        SignalCode.UNDERPACING,
        campaign.campaign_id,
        Severity.INFO,
        f"{_name(campaign)} is on course to spend {fmt_money(campaign.projected)} of its {fmt_money(budget)} "
        f"daily budget today ({fmt_percent(campaign.projected / budget)}): {fmt_money(campaign.spent)} so far "
        f"with {fmt_percent(campaign.day_share)} of the ad day gone.",
    )


def _spend_spike(view: _View, campaign: CampaignPacing) -> Signal | None:
    today = [s for s in view.samples.get(campaign.campaign_id, ()) if s.day == view.today]
    if len(today) < 2:
        return None
    first, last = today[-2], today[-1]
    hours = hours_between(first.at, last.at)
    amount = last.spent - first.spent
    if hours <= 0 or amount < view.th.spike_min_amount:
        return None
    usual = _usual_rate(view, campaign.campaign_id, first.at, last.at)
    if usual is None or usual <= 0 or amount / hours < usual * view.th.spike_factor:
        return None
    return Signal(
        SignalCode.SPEND_SPIKE,
        campaign.campaign_id,
        Severity.SERIOUS,
        f"{_name(campaign)} spent {fmt_money(amount)} between {view.clock(first.at)} and {view.clock(last.at)}, "
        f"{(amount / hours / usual).quantize(Decimal('0.1'))} times its usual {fmt_money(usual)} an hour.",
    )


def _usual_rate(view: _View, campaign_id: int, since: datetime, until: datetime) -> Decimal | None:
    """Money an hour at the same hours of the earlier days, else the average hour of the earlier days it
    spent on (a day missing from the ledger is no day of no spend).

    Days the campaign had already hit its cap by then say nothing of its usual rate at those hours; when
    every such day was capped, there is no telling what usual is.
    """
    hours = hours_between(since, until)
    start = view.ad_day.start(view.today)
    rates = []
    capped = False
    for back in range(1, view.th.baseline_days + 1):
        day = view.today - timedelta(days=back)
        row = view.rows.get(campaign_id, {}).get(day)
        curve = _curve(view, campaign_id, day)
        if not any(s.day == day for s in view.samples.get(campaign_id, ())):
            continue  # known only as a whole day: nothing said about its hours
        moved = [view.ad_day.start(day) + (moment - start) for moment in (since, until)]
        begin, end = (_spent_by(curve, moment) for moment in moved)
        if begin is None or end is None:
            continue
        if row and row.daily_budget and begin >= row.daily_budget * CAPPED_SHARE:
            capped = True
            continue
        rates.append((end - begin) / hours)
    if rates:
        return sum(rates, ZERO) / len(rates)
    if capped:
        return None
    # A day that ended at its cap spent faster than its average hour while it spent: it tells nothing.
    whole = [r for r in view.earlier_days(campaign_id) if not _ended_capped(r)]
    if not whole:
        return None
    return sum((r.spent for r in whole), ZERO) / (len(whole) * 24)


def _ended_capped(row: DailyRow) -> bool:
    return row.daily_budget is not None and row.daily_budget > 0 and row.spent >= row.daily_budget * CAPPED_SHARE


def _curve(view: _View, campaign_id: int, day: date) -> list[tuple[datetime, Decimal]]:
    """A past day's cumulative spend as known: from zero at its start, through its samples, to its row at its end."""
    points = [(view.ad_day.start(day), ZERO)]
    points += [(s.at, s.spent) for s in view.samples.get(campaign_id, ()) if s.day == day]
    row = view.rows.get(campaign_id, {}).get(day)
    if row is not None:
        points.append((view.ad_day.end(day), row.spent))
    return points


def _spent_by(curve: list[tuple[datetime, Decimal]], moment: datetime) -> Decimal | None:
    """The curve's figure at `moment`, read as a step (the ledger keeps a sample only when spend moved, so a
    long gap between two is a quiet stretch, not a slow one); None past what the curve knows."""
    if moment > curve[-1][0]:
        return None
    return next(spent for at, spent in reversed(curve) if at <= moment)


def _spend_without_conversions(view: _View, campaign: CampaignPacing) -> Signal | None:
    if view.conversions_today(campaign) > 0 or campaign.spent <= 0:
        return None
    earlier = view.earlier_days(campaign.campaign_id)
    conversions = sum(r.conversions for r in earlier)
    target = view.target_cpa.get(campaign.campaign_id)
    if target is None and not conversions:
        if campaign.spent < view.th.no_conversions_min_spend:
            return None
        compared = f"and had none in the {view.th.baseline_days} days before either"
    else:
        if target is not None:
            basis, words = target, f"its target CPA of {fmt_money(target)}"
        else:
            basis = sum((r.spent for r in earlier), ZERO) / conversions
            words = f"its {view.th.baseline_days}-day CPA of {fmt_money(basis)}"
        if campaign.spent < basis * view.th.no_conversions_cpa_multiple:
            return None
        compared = f"{(campaign.spent / basis).quantize(Decimal('0.1'))} times {words}"
    return Signal(
        SignalCode.SPEND_WITHOUT_CONVERSIONS,
        campaign.campaign_id,
        Severity.SERIOUS,
        f"{_name(campaign)} has spent {fmt_money(campaign.spent)} today without a conversion, {compared}.",
    )


_CAMPAIGN_CHECKS = (
    _stopped_spending,
    _status_changed,
    _capped_early,
    _underpacing,
    _spend_spike,
    _spend_without_conversions,
)


# --- the account -------------------------------------------------------------------------------------------


def _balance_runs_out(view: _View) -> Signal | None:
    pacing = view.pacing
    if pacing.runs_out_at is None or pacing.balance is None:
        return None
    left = pacing.runs_out_at - view.now
    if left > view.hours(view.th.balance_runs_out_hours):
        return None
    severity = Severity.CRITICAL if left <= 12 * HOUR else Severity.SERIOUS if left <= 24 * HOUR else Severity.WARNING
    return Signal(
        SignalCode.BALANCE_RUNS_OUT,
        None,
        severity,
        f"At the current rate the {fmt_money(pacing.balance)} balance runs out {view.clock(pacing.runs_out_at)} "
        f"(in {_duration(left)}); {fmt_money(pacing.projected)} is projected to be spent today.",
    )


def _conversions_stopped(view: _View) -> Signal | None:
    window = view.hours(view.th.conversions_stopped_hours)
    spent, conversions = ZERO, 0
    for samples in view.samples.values():
        growth = _growth(samples, view.now - window, view.now)
        if growth is not None:
            spent += growth[0]
            conversions += growth[1]
    earlier = [row for campaign_id in view.rows for row in view.earlier_days(campaign_id)]
    usual_conversions = sum(r.conversions for r in earlier)
    if conversions or spent <= 0 or not usual_conversions:
        return None
    cpa = sum((r.spent for r in earlier), ZERO) / usual_conversions
    expected = spent / cpa
    if expected < view.th.conversions_stopped_expected:
        return None
    return Signal(
        SignalCode.CONVERSIONS_STOPPED,
        None,
        Severity.SERIOUS,
        f"No conversion on the whole account for {_duration(window)} while {fmt_money(spent)} was spent, "
        f"which usually buys about {expected.quantize(Decimal('1'))}: "
        "conversion tracking (the postback) is probably broken.",
    )


def _duration(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    return f"{minutes} min"
