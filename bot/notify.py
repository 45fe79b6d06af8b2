"""Posts to Slack what the core found: summaries, alerts, proposals and their outcomes."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.charts import Chart, NothingToDraw, account_chart, campaign_chart, pacing_chart
from bot.settings import Settings
from core.alerts import AlertChange
from core.errors import PropellerAdsError
from core.pacing import AccountPacing
from core.proposals import Decision, Proposal
from core.service import BudgetService, CheckResult, Summary

log = logging.getLogger(__name__)

SLACK_FAILURES = (SlackApiError, SlackClientError, aiohttp.ClientError, asyncio.TimeoutError, OSError)
"""What a Slack call can fail with: a refusal, or a connection that dropped or timed out."""


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class ChartPosted(enum.Enum):
    POSTED = "posted"
    SKIPPED = "skipped"
    """Nothing to draw yet (told in words when someone asked for the chart)."""
    FAILED = "failed"
    """Slack did not take it (logged)."""


class Notifier:
    def __init__(self, client: AsyncWebClient, settings: Settings, service: BudgetService) -> None:
        self.client = client
        self.settings = settings
        self.service = service
        self.latest_chart: render.SharedChart | None = None
        """The last chart this process uploaded, which App Home shows; the next summary or check sets it anew."""

    async def post(self, channel: str | None, message: dict[str, Any]) -> str | None:
        """Posts and returns the message's ts; a Slack failure is logged, never raised into a job."""
        if not channel:
            log.warning("no channel configured; message not posted: %s", message.get("text", "")[:80])
            return None
        try:
            response = await self.client.chat_postMessage(channel=channel, **message)
        except SLACK_FAILURES as exc:
            log.error("could not post to %s: %s", channel, _why(exc))
            return None
        return response.get("ts")

    async def update(self, channel: str, ts: str, message: dict[str, Any], *, what: str) -> bool:
        try:
            await self.client.chat_update(channel=channel, ts=ts, **message)
        except SLACK_FAILURES as exc:
            log.error("could not update %s: %s", what, _why(exc))
            return False
        return True

    async def post_summary(self, summary: Summary, *, title: str = "Budget health", late: str | None = None) -> str | None:
        message = render.summary(summary, title=title, late=late, currency=self.settings.currency)
        return await self.post(self.settings.channel, message)

    async def post_daily_summary(self, summary: Summary, *, late: str | None = None) -> None:
        """The morning's summary, and beside it the chart of the last 14 ad days."""
        await self.post_summary(summary, title="Daily budget summary", late=late)
        await self.post_account_chart(summary.today.pacing if summary.today is not None else None)

    async def post_chart(self, channel: str | None, draw: Callable[[], Chart], *, asked: bool = False) -> ChartPosted:
        """Draws a chart (off the event loop) and uploads it with the words that carry its figures. A chart the
        ledger cannot feed yet is told in words when someone `asked` for it (the Chart button); beside a summary,
        whose text carries the figures, it is only logged. A Slack failure is logged, never raised into a job."""
        if not channel:
            log.warning("no channel configured; chart not posted")
            return ChartPosted.FAILED
        try:
            chart = await asyncio.to_thread(draw)
        except NothingToDraw as exc:
            if asked:
                await self.post(channel, render.notice(str(exc)))
            else:
                log.info("chart skipped: %s", exc)
            return ChartPosted.SKIPPED
        try:
            response = await self.client.files_upload_v2(
                channel=channel, content=chart.png, filename=chart.filename, title=chart.title,
                alt_txt=chart.title, initial_comment=chart.text,
            )
        except SLACK_FAILURES as exc:
            log.error("could not upload %s to %s: %s", chart.filename, channel, _why(exc))
            return ChartPosted.FAILED
        shared = (response.get("file") or {}).get("id") if hasattr(response, "get") else None
        if shared:
            self.latest_chart = render.SharedChart(shared, chart.title)
        return ChartPosted.POSTED

    async def post_account_chart(self, pacing: AccountPacing | None = None) -> ChartPosted:
        """The last 14 ad days' spend against the total daily budget, and when the balance runs out."""
        history = await self.service.account_history(pacing)
        return await self.post_chart(self.settings.channel, lambda: account_chart(history, self.settings.currency))

    async def post_pacing_chart(self) -> ChartPosted:
        """Today's spend so far, of the account and its top campaigns, against an even pace."""
        curves = await self.service.today_curves()
        return await self.post_chart(self.settings.channel, lambda: pacing_chart(curves, self.settings.currency))

    async def post_campaign_chart(self, channel: str | None, campaign_id: int, name: str = "") -> ChartPosted:
        """One campaign's 14 ad days of spend and conversions."""
        history = await self.service.campaign_history(campaign_id, name)
        return await self.post_chart(channel, lambda: campaign_chart(history, self.settings.currency), asked=True)

    async def post_failure(self, exc: PropellerAdsError, *, doing: str) -> str | None:
        """One line in the channel when scheduled work could not read PropellerAds."""
        return await self.post(self.settings.channel, render.api_error(exc, doing=doing))

    async def tell_alerts(self, order: Sequence[str] = ()) -> None:
        """Tells what the channel has not heard of the alerts: new ones in one message, changes in its thread.

        What Slack refuses is tried again by the next check; in the quiet hours only critical alerts go out.
        """
        channel = self.settings.alerts_to

        async def announce(changes: list[AlertChange]) -> tuple[str, str] | None:
            message = render.alert(changes[0]) if len(changes) == 1 else render.alert_digest(changes)
            ts = await self.post(channel, message)
            return (channel, ts) if ts and channel else None

        async def follow_up(change: AlertChange, channel: str, ts: str) -> bool:
            return await self.post(channel, {**render.alert(change), "thread_ts": ts}) is not None

        quiet = self.settings.is_quiet(self.service.clock())
        await self.service.tell_alerts(announce, follow_up, order, quiet=quiet)

    async def tell_proposals(self) -> None:
        """Posts new proposals and redraws messages behind their proposal's state, once across replicas."""
        channel = self.settings.proposals_to

        async def post(proposal: Proposal) -> tuple[str, str] | None:
            ts = await self.post(channel, render.proposal(proposal, currency=self.settings.currency))
            return (channel, ts) if ts and channel else None

        async def redraw(proposal: Proposal) -> bool:
            return await self._redraw(proposal, render.proposal_outcome(proposal, currency=self.settings.currency))

        await self.service.tell_proposals(post, redraw)

    async def show_outcome(self, proposal: Proposal, decision: Decision | None = None) -> bool:
        """Rewrites a proposal's channel message to show how it ended; False when it has none or Slack failed."""
        if not proposal.channel or not proposal.message_ts:
            return False
        redrawn = await self._redraw(proposal, render.proposal_outcome(proposal, decision, currency=self.settings.currency))
        if decision is None or decision.recorded:
            await self.service.shown(proposal, redrawn=redrawn)
        return redrawn

    async def tell_undo(self, decision: Decision, body: dict[str, Any]) -> None:
        """An undo's outcome in the thread of the message whose Undo was clicked (else in the channel)."""
        container = body.get("container") or {}
        if container.get("is_ephemeral"):
            # Clicked in a private answer (/budget history): the team hears of it in the proposals channel.
            channel, thread = self.settings.proposals_to, None
        else:
            channel = (body.get("channel") or {}).get("id") or self.settings.proposals_to
            thread = container.get("message_ts")
        message = render.said(render.decision_words(decision))
        if thread:
            message["thread_ts"] = thread
        ts = await self.post(channel, message)
        if ts and decision.proposal is not None and decision.recorded:
            await self.service.shown(decision.proposal)

    async def show_pending(self, proposal: Proposal) -> None:
        """Redraws a still-pending proposal (after an edit of its amount)."""
        await self._redraw(proposal, render.proposal(proposal, currency=self.settings.currency))

    async def _redraw(self, proposal: Proposal, message: dict[str, Any]) -> bool:
        if not proposal.channel or not proposal.message_ts:
            return False
        return await self.update(proposal.channel, proposal.message_ts, message, what=f"proposal {proposal.id}")

    async def post_check(self, result: CheckResult, *, with_summary: bool) -> None:
        """Everything a check has to say in the channels, in reading order."""
        await self.post_decisions(result.reconciled)
        if with_summary:
            summary = await self.service.check_summary(result)
            if summary is not None:
                await self.post_summary(summary, title="Budget health check")
                await self.post_pacing_chart()
        await self.tell_alerts([change.key for change in result.alerts])
        await self.tell_proposals()

    async def post_decisions(self, outcomes: Sequence[tuple[Decision, Sequence[AlertChange]]]) -> None:
        for decision, _ in outcomes:
            if decision.proposal is not None:
                await self.show_outcome(decision.proposal, decision)
        if outcomes:
            await self.tell_alerts()
