"""Posts to Slack what the core found: summaries, alerts, proposals and their outcomes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.settings import Settings
from core.alerts import AlertChange
from core.errors import PropellerAdsError
from core.executor import Decision
from core.health import HealthReport
from core.service import BudgetService, CheckResult
from core.store.store import Proposal

log = logging.getLogger(__name__)

FIRST_POST_GRACE = timedelta(minutes=1)
"""A kept proposal without a message is posted by a later check only once its first post has had this long:
a check running beside the one that created it (another person's, another replica's) must not post it twice."""


class Notifier:
    def __init__(self, client: AsyncWebClient, settings: Settings, service: BudgetService) -> None:
        self.client = client
        self.settings = settings
        self.service = service

    async def post(self, channel: str | None, message: dict[str, Any]) -> str | None:
        """Posts and returns the message's ts; a Slack failure is logged, never raised into a job."""
        if not channel:
            log.warning("no channel configured; message not posted: %s", message.get("text", "")[:80])
            return None
        try:
            response = await self.client.chat_postMessage(channel=channel, **message)
        except SlackApiError as exc:
            log.error("Slack refused chat.postMessage to %s: %s", channel, exc.response.get("error"))
            return None
        return response.get("ts")

    async def post_summary(self, report: HealthReport, *, title: str = "Budget health") -> str | None:
        return await self.post(self.settings.channel, render.health_summary(report, title=title, currency=self.settings.currency))

    async def post_failure(self, exc: PropellerAdsError, *, doing: str) -> str | None:
        """One line in the channel when scheduled work could not read PropellerAds."""
        return await self.post(self.settings.channel, render.api_error(exc, doing=doing))

    async def post_alerts(self, changes: Sequence[AlertChange]) -> None:
        for change in changes:
            await self.post(self.settings.alerts_to, render.alert(change))

    async def post_proposals(self, proposals: Sequence[Proposal]) -> None:
        channel = self.settings.proposals_to
        for proposal in proposals:
            ts = await self.post(channel, render.proposal(proposal, currency=self.settings.currency))
            if ts and channel:
                await self.service.store.set_message(proposal.id, channel, ts)

    async def show_outcome(self, proposal: Proposal, decision: Decision | None = None) -> bool:
        """Rewrites a proposal's channel message to show how it ended; False when it has none."""
        if not proposal.channel or not proposal.message_ts:
            return False
        try:
            await self.client.chat_update(
                channel=proposal.channel, ts=proposal.message_ts, **render.proposal_outcome(proposal, decision, currency=self.settings.currency)
            )
        except SlackApiError as exc:
            log.error("Slack refused chat.update of proposal %s: %s", proposal.id, exc.response.get("error"))
            return False
        return True

    async def show_pending(self, proposal: Proposal) -> None:
        """Redraws a still-pending proposal (after an edit of its amount)."""
        if proposal.channel and proposal.message_ts:
            try:
                await self.client.chat_update(channel=proposal.channel, ts=proposal.message_ts, **render.proposal(proposal, currency=self.settings.currency))
            except SlackApiError as exc:
                log.error("Slack refused chat.update of proposal %s: %s", proposal.id, exc.response.get("error"))

    async def post_check(self, result: CheckResult, *, with_summary: bool) -> None:
        """Everything a check has to say in the channels, in reading order."""
        await self.post_decisions(result.reconciled)
        if with_summary and result.report is not None:
            await self.post_summary(result.report, title="Budget health check")
        await self.post_alerts(result.alerts)
        for old in [*result.superseded, *result.expired]:
            await self.show_outcome(old)
        # A kept proposal whose first post failed (Slack down, rate limited) gets its message now.
        now = self.service.clock()
        unposted = [p for p in result.kept if not p.message_ts and now - p.created_at >= FIRST_POST_GRACE]
        await self.post_proposals([*result.created, *unposted])

    async def post_decisions(self, outcomes: Sequence[tuple[Decision, Sequence[AlertChange]]]) -> None:
        for decision, changes in outcomes:
            if decision.proposal is not None:
                await self.show_outcome(decision.proposal, decision)
            await self.post_alerts(changes)
