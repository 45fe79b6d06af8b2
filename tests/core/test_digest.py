"""The summary's digest: the top campaigns by spend and what changed since the ledger last saw yesterday."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

from core.digest import CampaignChange, ChangeKind, decided, campaign_changes, top_campaigns
from core.ledger_types import DailyRow
from core.models import Campaign, CampaignStatus
from core.proposals import AuditAction, AuditEntry

TODAY = date(2025, 9, 29)
YESTERDAY = date(2025, 9, 28)


def row(campaign_id: int, day: date, spent: str, conversions: int = 0, budget: str | None = "100", status: int = 6) -> DailyRow:
    return DailyRow(campaign_id, day, D(spent), conversions=conversions, daily_budget=D(budget) if budget else None,
                    status=status, name=f"Campaign {campaign_id}")


def campaign(campaign_id: int, budget: str | None = "100", status: int = 6) -> Campaign:
    return Campaign(id=campaign_id, name=f"C{campaign_id}", status=status, limit_daily_amount=D(budget) if budget else None)


def test_top_campaigns_rank_by_yesterday_and_today_together_and_count_the_rest() -> None:
    rows = [row(i, YESTERDAY, str(10 * i), conversions=i) for i in range(1, 14)]  # 10.00 … 130.00
    rows += [row(1, TODAY, "500"), row(99, TODAY, "0"), row(98, date(2025, 9, 27), "900")]
    top, more = top_campaigns(rows, None, TODAY, {1: "Named one"})
    # 1 spent 10 + 500 = 510, then 13 (130), 12 (120) …; 99 spent nothing and 98 only before yesterday.
    assert [t.campaign_id for t in top] == [1, 13, 12, 11, 10, 9, 8, 7, 6, 5]
    assert more == 3
    assert top[0].name == "Named one" and top[1].name == "Campaign 13"
    assert (top[0].spent_yesterday, top[0].spent_today, top[0].cpa_yesterday) == (D("10"), D("500"), D("10"))
    assert top[1].cpa_yesterday == D("10")


def test_changes_name_budgets_starts_and_stops_but_not_what_propellerads_pauses_itself() -> None:
    rows = [
        row(1, YESTERDAY, "50", budget="200"),  # budget cut to 160
        row(2, YESTERDAY, "50", status=CampaignStatus.WORKING),  # rejected by moderation
        row(3, YESTERDAY, "0", status=CampaignStatus.STOPPED),  # started
        row(4, YESTERDAY, "50", status=CampaignStatus.WORKING),  # status 7: out of daily impressions
        row(5, YESTERDAY, "50"),  # steady
        row(6, TODAY, "5", budget="300"),  # not seen yesterday: not compared
    ]
    now = [
        campaign(1, "160"), campaign(2, status=CampaignStatus.REJECTED), campaign(3), campaign(4, status=CampaignStatus.PAUSED),
        campaign(5), campaign(6, "999"),
    ]
    assert campaign_changes(rows, now, TODAY) == [
        CampaignChange(ChangeKind.BUDGET, 1, "C1", before=D("200"), after=D("160")),
        CampaignChange(ChangeKind.STOPPED, 2, "C2", status=CampaignStatus.REJECTED),
        CampaignChange(ChangeKind.STARTED, 3, "C3", status=CampaignStatus.WORKING),
    ]


def test_decided_keeps_the_entries_that_end_a_proposal() -> None:
    at = datetime(2025, 9, 29, 12, tzinfo=timezone.utc)
    entries = [AuditEntry(at, 1, "C1", "U1", str(action), "x") for action in AuditAction]
    assert sorted(e.action for e in decided(entries)) == sorted(["applied", "rejected", "failed", "expired"])
