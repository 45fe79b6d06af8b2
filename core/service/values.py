"""What the service layer takes and gives: its configuration and the results of its calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from core.adday import UTC_DAY, AdDay
from core.alerts import Alert, AlertChange
from core.digest import Digest
from core.errors import PropellerAdsError
from core.health import HealthReport, HealthThresholds
from core.models import Campaign, CampaignStats
from core.policy import (
    Guardrails,
    HeldBack,
    Refusal,
    Rule,
)
from core.automation import AutomationLimits
from core.pacing import AccountPacing, CampaignPacing
from core.rules import ConditionRule
from core.proposals import Decision, Proposal
from core.signals import Signal, SignalThresholds


@dataclass(frozen=True)
class ServiceConfig:
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    guardrails: Guardrails = field(default_factory=Guardrails)
    rules: tuple[Rule | ConditionRule, ...] = ()
    """CPA target rules and condition rules, in the order of the file."""
    approvers: frozenset[str] = frozenset()
    proposal_ttl: timedelta = timedelta(hours=24)
    snapshot_ttl: timedelta = timedelta(seconds=60)
    ad_day: AdDay = UTC_DAY
    """Where the ad account's days begin: "today", the spend window, pacing, the daily cap on increases."""
    signals: SignalThresholds = field(default_factory=SignalThresholds)
    automation: AutomationLimits = field(default_factory=AutomationLimits)


@dataclass(frozen=True)
class CampaignStatusReport:
    """One campaign now: its state, limit, spend by period, conversions, CPA and today's pacing."""

    campaign: Campaign
    today: CampaignStats
    yesterday: CampaignStats
    window: CampaignStats
    """The health check's window of whole days before today."""
    window_days: int
    day_elapsed: Decimal
    """Share of the ad account's today already gone, 0..1."""
    day_label: str = "UTC"
    """The clock the ad account's days follow, for saying which "today" is meant: "EST"."""
    today_pacing: CampaignPacing | None = None
    """Today's spend against the daily budget and the day, and when the cap will be (or was) hit."""

    @property
    def window_cpa(self) -> Decimal | None:
        return self.window.cpa

    @property
    def pacing(self) -> Decimal | None:
        """Today's spend against an even spread of the daily budget: 1 = on pace."""
        budget = self.campaign.daily_budget
        if not budget or self.day_elapsed <= 0:
            return None
        return self.today.spent / (budget * self.day_elapsed)


@dataclass(frozen=True)
class CampaignLookup:
    query: str
    matches: list[Campaign]
    """The first MAX_PICK_LIST matches."""
    status: CampaignStatusReport | None = None
    total: int = 0
    """How many campaigns matched in all."""


@dataclass(frozen=True)
class MoneyWatch:
    """How today's money moves, from the spend ledger: pacing, and the signals that hold now."""

    pacing: AccountPacing
    signals: list[Signal]
    day_label: str


@dataclass(frozen=True)
class Summary:
    """What a summary (the daily one, or the one `/budget check` posts) shows."""

    report: HealthReport
    today: MoneyWatch | None
    held: HeldBack | None
    digest: Digest | None
    """The top campaigns and what changed since yesterday; None when the store could not be read for them."""
    open_alerts: list[Alert]
    """Alerts that hold now, the most severe first."""


@dataclass
class CheckResult:
    report: HealthReport | None = None
    watch: MoneyWatch | None = None
    error: PropellerAdsError | None = None
    alerts: list[AlertChange] = field(default_factory=list)
    created: list[Proposal] = field(default_factory=list)
    superseded: list[Proposal] = field(default_factory=list)
    kept: list[Proposal] = field(default_factory=list)
    expired: list[Proposal] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    reconciled: list[tuple[Decision, list[AlertChange]]] = field(default_factory=list)
    """Proposals a stopped process had left mid-apply, finished by this check."""
    automatic: list[Decision] = field(default_factory=list)
    """What rules in auto mode applied on their own in this check."""
    automation_held: str | None = None
    """Why automatic actions waited in this check (they stay pending for an approver), if they did."""


@dataclass(frozen=True)
class EditResult:
    proposal: Proposal | None
    error: str | None = None
