"""Rules that act: condition rules judged over the spend ledger, automatic actions behind their brakes, the switch."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.automation import API_TROUBLE, AUTOMATION_SWITCH, AutomationState, hold_reason
from core.health import AccountSnapshot
from core.ledger_types import DailyRow
from core.pacing import AccountPacing
from core.policy import Candidate
from core.proposals import BOT_ACTOR, Decision, Outcome, Proposal, ProposalState, RuleMode
from core.rules import ConditionRule, figures_of, judge
from core.service.reads import ServiceParts

log = logging.getLogger(__name__)

TROUBLED = (Outcome.FAILED, Outcome.MANUAL_REVIEW, Outcome.UNCONFIRMED)
"""Outcomes of an automatic write that say PropellerAds is not answering as it should."""


@dataclass(frozen=True)
class RuleReport:
    """A rule as `/budget rules` shows it: its words, its mode, and its latest proposal or notice."""

    name: str
    words: str
    mode: RuleMode
    last: Proposal | None


class RuleActions(ServiceParts):
    """Condition rules over the spend ledger, and what rules in auto mode may do on their own."""

    @property
    def condition_rules(self) -> list[ConditionRule]:
        return [r for r in self.config.rules if isinstance(r, ConditionRule)]

    async def condition_candidates(self, snap: AccountSnapshot, now: datetime, pacing: AccountPacing | None) -> list[Candidate]:
        """Each covered campaign's first verdict among the condition rules, in the order of the file.

        A rule whose window reaches past days the spend ledger does not hold yet (its backfill is still
        running) waits: judged on missing days, "conversions == 0" would hold for every campaign.
        """
        rules = self.condition_rules
        if not rules:
            return []
        today = self.ad_day.today(now)
        held = await self.store.ledger.coverage()
        spans = {}
        for rule in rules:
            first, last = rule.span_window.span(today, rule.exclude_today)
            past_last = min(last, today - timedelta(days=1))
            if first <= past_last and (held.first_day is None or held.last_day is None
                                       or held.first_day > first or held.last_day < past_last):
                log.info("rule %r waits for the spend ledger to hold %s..%s", rule.name, first, past_last)
                continue
            spans[rule.name] = (first, last)
        if not spans:
            return []
        rows: dict[int, list[DailyRow]] = defaultdict(list)
        for row in await self.store.ledger.days(min(f for f, _ in spans.values()), max(l for _, l in spans.values())):
            rows[row.campaign_id].append(row)
        projected = {
            c.campaign_id: c.projected / c.daily_budget
            for c in (pacing.campaigns if pacing else ()) if c.daily_budget
        }
        found: list[Candidate] = []
        for campaign in snap.seen or snap.campaigns:
            acting = False
            for rule in rules:
                if rule.name not in spans or not rule.covers(campaign.id, campaign.status):
                    continue
                if acting and rule.mode is not RuleMode.NOTIFY:
                    continue  # one change at a time per campaign: the first acting rule in the file has it
                first, last = spans[rule.name]
                window = [r for r in rows.get(campaign.id, ()) if first <= r.day <= last]
                figures = figures_of(window, (last - first).days + 1, campaign.daily_budget, projected.get(campaign.id))
                candidate = judge(rule, campaign.id, campaign.name, campaign.daily_budget, figures)
                if candidate is not None:
                    found.append(candidate)
                    acting = acting or rule.mode is not RuleMode.NOTIFY
        return found

    # --- automation -----------------------------------------------------------------------------

    async def automation(self) -> AutomationState:
        """The switch as stored (or as configured, until someone flips it), and what holds automatic actions now."""
        now = self.clock()
        switch = await self.store.switch(AUTOMATION_SWITCH)
        on = self.config.automation.enabled if switch is None else switch.value == "on"
        trouble = await self.store.switch(API_TROUBLE)
        held = hold_reason(
            self.config.automation,
            now,
            await self.store.automatic_since(now - timedelta(hours=1)),
            await self.store.automatic_since(now - timedelta(days=1)),
            trouble.changed_at if trouble else None,
            trouble.value if trouble else None,
        )
        return AutomationState(on, switch.changed_by if switch else None, switch.changed_at if switch else None, held)

    async def switch_automation(self, on: bool, user: str) -> AutomationState | None:
        """An approver turns automatic actions on or off, for every replica; None when the user may not."""
        if user not in self.config.approvers:
            return None
        await self.store.set_switch(AUTOMATION_SWITCH, "on" if on else "off", user, self.clock())
        return await self.automation()

    async def note_api_trouble(self, words: str) -> None:
        """PropellerAds failed the bot: automatic actions wait a while."""
        await self.store.set_switch(API_TROUBLE, words[:200], None, self.clock())

    async def act_automatically(self, created: Sequence[Proposal]) -> tuple[list[Decision], str | None]:
        """Applies new proposals of rules in auto mode, one at a time while the brakes allow.

        What the brakes hold stays pending, with its buttons, for a person to decide; the reason is returned.
        """
        automatic = [p for p in created if p.mode is RuleMode.AUTO and p.state is ProposalState.PENDING]
        decisions: list[Decision] = []
        held: str | None = None
        for proposal in automatic:
            state = await self.automation()
            if not state.on:
                held = "automation is off"
                break
            if state.held is not None:
                held = state.held
                break
            decision = await self.executor.approve(proposal.id, BOT_ACTOR, version=proposal.version)
            decisions.append(decision)
            if decision.recorded:
                # Nobody clicked: the check that made the change posts it, right after (tell_proposals).
                await self.store.told(proposal.id, None)
            if decision.changed_budget:
                self.forget_reads()
            if decision.outcome in TROUBLED:
                await self.note_api_trouble(decision.detail or decision.outcome.value)
        return decisions, held

    async def rules_report(self) -> list[RuleReport]:
        """Every rule in plain words with its mode and what it last did."""
        last = await self.store.last_fired([r.name for r in self.config.rules])
        reports = []
        for rule in self.config.rules:
            if isinstance(rule, ConditionRule):
                reports.append(RuleReport(rule.name, rule.words(), rule.mode, last.get(rule.name)))
            else:
                reports.append(RuleReport(rule.name, rule.words(), RuleMode.PROPOSE, last.get(rule.name)))
        return reports
