"""The summary's reading of the store: the campaigns the money went to and what changed since yesterday."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from core.alerts import Alert
from core.digest import Digest, campaign_changes, decided, top_campaigns
from core.models import Campaign
from core.pacing import AccountPacing
from core.service.reads import ServiceParts

SINCE_YESTERDAY = timedelta(hours=24)


class Summaries(ServiceParts):
    async def digest(self, now: datetime, pacing: AccountPacing | None, campaigns: Sequence[Campaign]) -> Digest:
        """Yesterday's and today's top campaigns from the spend ledger, the budgets and working states that
        changed since the ledger last saw them yesterday, and how proposals ended in the last 24 hours."""
        today = self.ad_day.today(now)
        rows = await self.ledger.ledger.days(today - timedelta(days=1), today)
        names = {c.id: c.name for c in campaigns}
        top, more = top_campaigns(rows, pacing, today, names)
        ended = decided(await self.store.audit_since(now - SINCE_YESTERDAY))
        return Digest(today, top, more, campaign_changes(rows, campaigns, today), ended)

    async def open_alerts(self) -> list[Alert]:
        """The alerts that hold now, the most severe first, then the oldest."""
        held = [a for a in (await self.store.alerts()).values() if a.active]
        return sorted(held, key=lambda a: (-a.severity, a.raised_at, a.key))
