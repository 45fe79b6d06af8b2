"""What the summary tells beyond the health figures: the campaigns the money went to, and what changed since
yesterday. Pure: it reads the spend ledger's rows, today's pacing, the campaigns now and the audit log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import Enum

from core.ledger_types import DailyRow
from core.models import Campaign, CampaignStatus
from core.pacing import AccountPacing
from core.proposals import AuditAction, AuditEntry

TOP_CAMPAIGNS = 10
"""Rows of the summary's table; the rest are counted."""
DECIDED = frozenset({AuditAction.APPLIED, AuditAction.REJECTED, AuditAction.EXPIRED, AuditAction.FAILED})
"""How a proposal ends, as the summary counts it (an approval is told by its write)."""


@dataclass(frozen=True)
class TopCampaign:
    campaign_id: int
    name: str
    spent_yesterday: Decimal
    conversions_yesterday: int
    spent_today: Decimal
    budget_share: Decimal | None
    """Today's spend as a share of the daily budget; None without one."""
    projected: Decimal | None
    """Today's projected end-of-day spend, when the checks sampled the campaign today."""

    @property
    def cpa_yesterday(self) -> Decimal | None:
        return self.spent_yesterday / self.conversions_yesterday if self.conversions_yesterday else None


class ChangeKind(str, Enum):
    BUDGET = "budget"
    STARTED = "started"
    STOPPED = "stopped"


@dataclass(frozen=True)
class CampaignChange:
    """A campaign as it is now against how the ledger last saw it yesterday."""

    kind: ChangeKind
    campaign_id: int
    name: str
    before: Decimal | None = None
    after: Decimal | None = None
    status: int | None = None
    """The status now, for a start or a stop."""


@dataclass(frozen=True)
class Digest:
    day: date
    top: list[TopCampaign]
    more: int
    """Campaigns that spent yesterday or today and are not in `top`."""
    changes: list[CampaignChange]
    decided: list[AuditEntry]
    """How proposals ended since yesterday's summary, newest first."""

    @property
    def quiet(self) -> bool:
        return not self.changes and not self.decided


def top_campaigns(
    rows: Iterable[DailyRow], pacing: AccountPacing | None, today: date, names: dict[int, str], limit: int = TOP_CAMPAIGNS
) -> tuple[list[TopCampaign], int]:
    """The campaigns that spent most over yesterday and today together, largest first, and how many more spent."""
    yesterday = today - timedelta(days=1)
    spent: dict[int, dict[date, DailyRow]] = {}
    for row in rows:
        if row.day in (yesterday, today):
            spent.setdefault(row.campaign_id, {})[row.day] = row
    paced = {p.campaign_id: p for p in pacing.campaigns} if pacing is not None else {}
    found: list[TopCampaign] = []
    for campaign_id, days in spent.items():
        before, now = days.get(yesterday), days.get(today)
        pace = paced.get(campaign_id)
        today_spent = pace.spent if pace is not None else (now.spent if now else Decimal(0))
        if (before.spent if before else 0) <= 0 and today_spent <= 0:
            continue
        name = names.get(campaign_id) or (now.name if now else "") or (before.name if before else "")
        found.append(
            TopCampaign(
                campaign_id,
                name,
                spent_yesterday=before.spent if before else Decimal(0),
                conversions_yesterday=before.conversions if before else 0,
                spent_today=today_spent,
                budget_share=pace.budget_share if pace is not None else None,
                projected=pace.projected if pace is not None else None,
            )
        )
    found.sort(key=lambda t: (-(t.spent_yesterday + t.spent_today), t.campaign_id))
    return found[:limit], max(0, len(found) - limit)


def campaign_changes(rows: Iterable[DailyRow], campaigns: Sequence[Campaign], today: date) -> list[CampaignChange]:
    """Daily budgets and working states that differ now from the ledger's last sight of them yesterday.

    A campaign the ledger did not see yesterday (no row, or none with a status) is not compared. PropellerAds
    pausing a push campaign on its own when it runs out of daily impressions (status 7) is not a stop.
    """
    yesterday = today - timedelta(days=1)
    seen = {r.campaign_id: r for r in rows if r.day == yesterday and r.status is not None}
    changes: list[CampaignChange] = []
    for c in sorted(campaigns, key=lambda c: c.id):
        before = seen.get(c.id)
        if before is None:
            continue
        if before.daily_budget != c.daily_budget:
            changes.append(CampaignChange(ChangeKind.BUDGET, c.id, c.name, before=before.daily_budget, after=c.daily_budget))
        was = before.status == CampaignStatus.WORKING
        if was != c.is_working and CampaignStatus.PAUSED not in (before.status, c.status):
            kind = ChangeKind.STARTED if c.is_working else ChangeKind.STOPPED
            changes.append(CampaignChange(kind, c.id, c.name, status=c.status))
    return changes


def decided(entries: Iterable[AuditEntry]) -> list[AuditEntry]:
    """The audit entries that end a proposal."""
    return [e for e in entries if e.action in DECIDED]
