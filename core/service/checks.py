"""The health check: alerts from the account's condition, proposals from the rules, and telling the channel of alerts."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from core import alerts as alert_rules
from core.alerts import AlertChange, ChangeKind, Condition
from core.errors import AuthenticationError, PermissionDeniedError, PropellerAdsError
from core.health import AccountSnapshot, CampaignPerformance, HealthReport, analyze
from core.models import Campaign, CampaignStats, sum_by_campaign
from core.policy import (
    Candidate,
    HeldBack,
    held_back,
    Direction,
    GuardrailBudget,
    Refusal,
    Rule,
    evaluate,
    guard,
    rule_for,
)
from core.pacing import account_pacing
from core.proposals import TELLING_HOLD, RuleMode
from core.signals import Signal, detect
from core.snapshot import trailing_window
from core.alerts import Alert
from core.service.values import CheckResult, MoneyWatch, Summary
from core.service.rules import RuleActions

log = logging.getLogger(__name__)
SIGNAL_PREFIX = "signal:"


def signal_condition(signal: Signal) -> Condition:
    """A signal as an alert: raised once, threaded when it worsens or resolves, snoozable. An alert is at least
    a warning, so a signal worth less is told as one."""
    where = "" if signal.campaign_id is None else f":{signal.campaign_id}"
    severity = max(int(signal.severity), alert_rules.WARNING)
    return Condition(f"{SIGNAL_PREFIX}{signal.code.value}{where}", severity, signal.message)


class HealthChecks(RuleActions):
    """Runs the health check and keeps the alerts; the guardrails' budget for a pass over the account."""

    async def run_check(self, *, reuse_recent_read: bool = False) -> CheckResult:
        """Reads the account afresh, updates alerts, and turns rule verdicts into proposals.

        With `reuse_recent_read` (a check asked for in Slack) a read younger than the snapshot TTL is
        used instead: checks asked for one after another cost PropellerAds one read, not one each.
        """
        result = CheckResult()
        now = self.clock()
        result.expired = await self.store.expire_due(now)
        result.reconciled = await self.reconcile_quietly()
        try:
            snap = await self.snapshot(fresh=not reuse_recent_read, with_today=True)
        except (AuthenticationError, PermissionDeniedError) as exc:
            result.error = exc
            async with self._alerts_lock:
                previous = await self.store.alerts()
                result.alerts = await self._update_alerts(previous, [alert_rules.token_refused(exc.detail)], judged=[])
            return result
        except PropellerAdsError as exc:
            result.error = exc
            await self.note_api_trouble(exc.summary())
            return result
        report = analyze(snap, self.config.thresholds)
        result.report = report
        result.watch = await self.watch_money(snap, now)
        conditions = alert_rules.conditions_of(report, self.config.thresholds.low_balance_days)
        conditions += [signal_condition(signal) for signal in result.watch.signals]
        async with self._alerts_lock:
            previous = await self.store.alerts()
            judged = [k for k in previous if k != alert_rules.WRITE_DENIED]
            result.alerts = await self._update_alerts(previous, conditions, judged=judged)

        candidates, result.refused = await self._candidates(snap, report, now, result.watch)
        saved = await self.store.save_candidates(candidates, now=now, ttl=self.config.proposal_ttl)
        result.created, result.superseded, result.kept = saved.created, saved.superseded, saved.kept
        result.automatic, result.automation_held = await self.act_automatically(saved.created)
        if result.automation_held is not None:
            await self.store.note_held([p.id for p in saved.created if p.mode is RuleMode.AUTO], result.automation_held)
        return result

    async def watch_money(self, snap: AccountSnapshot, now: datetime) -> MoneyWatch:
        """Today into the spend ledger (as the snapshot read it), the last days re-read while conversions
        settle (hourly), and pacing and signals worked out from what the ledger holds.

        A failed read leaves the ledger as it was: pacing and signals then come from what is there.
        """
        try:
            if snap.today is None:
                await self.ledger.read_today(now, snap.seen)
            else:  # sampled when it was read, which a reused snapshot did a little before `now`
                await self.ledger.read_today(snap.taken_at, snap.seen, snap.today)
            await self.ledger.settle(now)
        except PropellerAdsError as exc:
            log.warning("spend ledger not updated: %s", exc)
        return await self._money_in_ledger(snap.balance, now)

    async def money_today(self, balance: Decimal | None) -> MoneyWatch:
        """Today's pacing and signals from what the spend ledger holds (the last check's reading) and a balance
        the caller read: no call to PropellerAds."""
        return await self._money_in_ledger(balance, self.clock())

    async def _money_in_ledger(self, balance: Decimal | None, now: datetime) -> MoneyWatch:
        rows, samples = await self.ledger_today(now)
        rules = self.cpa_rules
        target_cpa = {i: r.target_cpa for i in {row.campaign_id for row in rows} if (r := rule_for(rules, i))}
        signals = self.config.signals
        return MoneyWatch(
            pacing=account_pacing(now, self.ad_day, rows, samples, balance),
            signals=detect(now, self.ad_day, rows, samples, balance, signals, target_cpa) if signals.enabled else [],
            day_label=self.ad_day.label,
        )

    def held_back(self, result: CheckResult) -> HeldBack | None:
        """The winners this check's guardrails kept from scaling for lack of money, and the top-up they wait for."""
        if result.report is None:
            return None
        return held_back(result.refused, result.report.balance, result.report.total_daily_budget,
                         self.config.thresholds.low_balance_days)

    async def summary_now(self) -> Summary:
        """What the daily summary shows, from one fresh read: the health, today's money, and the winners the
        guardrails hold back (the rules judged again on that read, nothing saved)."""
        snap = await self.snapshot(fresh=True)
        report = analyze(snap, self.config.thresholds)
        today = await self.money_today(report.balance)
        held = None
        try:
            _, refused = await self._candidates(snap, report, self.clock(), None)
            held = held_back(refused, report.balance, report.total_daily_budget, self.config.thresholds.low_balance_days)
        except PropellerAdsError as exc:  # the summary goes out without them rather than not at all
            log.warning("could not judge the rules for the summary: %s", exc)
        return await self._summary(report, today, held, snap.seen)

    async def check_summary(self, result: CheckResult) -> Summary | None:
        """The summary a check posts when asked (`/budget check`), from the check's own read."""
        if result.report is None:
            return None
        return await self._summary(result.report, result.watch, self.held_back(result), (await self.snapshot()).seen)

    async def _summary(
        self, report: HealthReport, today: MoneyWatch | None, held: HeldBack | None, campaigns: Sequence[Campaign]
    ) -> Summary:
        now = self.clock()
        pacing = today.pacing if today is not None else None
        digest = await self.digest(now, pacing, campaigns)
        return Summary(report, today, held, digest, await self.open_alerts())

    async def look(self) -> tuple[HealthReport, MoneyWatch]:
        """The account read afresh and today's money, kept in the spend ledger; no alert or proposal changes."""
        snap = await self.snapshot(fresh=True, with_today=True)
        return analyze(snap, self.config.thresholds), await self.watch_money(snap, self.clock())

    async def backfill_ledger(self, *, max_chunks: int | None = None) -> int:
        """Reads the past days the spend ledger lacks (30), a chunk at a time; how many chunks it read. Its reads are
        background work: they give way to checks and commands on the statistics limit."""
        with self.api.background():
            return await self.ledger.backfill(self.clock(), max_chunks=max_chunks)

    async def _update_alerts(
        self, previous: Mapping[str, Alert], conditions: list[Condition], *, judged: Iterable[str]
    ) -> list[AlertChange]:
        """Stores the conditions and returns the changes to announce: only those this process wrote first."""
        now = self.clock()
        changes = {c.key: c for c in alert_rules.diff(previous, conditions, judged=judged)}
        holding = [(c.key, c.severity, c.summary, True) for c in conditions]
        cleared = [(c.key, c.severity, c.summary, False) for c in changes.values() if c.kind is ChangeKind.RESOLVED]
        written: set[str] = set()
        for key, severity, summary, active in holding + cleared:
            stored = await self.store.put_alert(
                key, severity=severity, active=active, summary=summary, now=now, expected=previous.get(key)
            )
            if stored:
                written.add(key)
        return [change for key, change in changes.items() if key in written]

    @property
    def cpa_rules(self) -> list[Rule]:
        return [r for r in self.config.rules if isinstance(r, Rule)]

    async def _candidates(
        self, snap: AccountSnapshot, report: HealthReport, now: datetime, watch: MoneyWatch | None
    ) -> tuple[list[Candidate], list[Refusal]]:
        """The rules' verdicts trimmed by the guardrails: decreases first (they free room for increases), then the rest.

        A campaign gets one change at a time: a CPA rule's verdict first, else the first condition rule's.
        A notice (notify mode) is judged by the guardrails too, so it says what would really be done.
        """
        verdicts = await self._cpa_verdicts(snap, report, now)
        changing = {c.campaign_id for c in verdicts}
        for candidate in await self.condition_candidates(snap, now, watch.pacing if watch else None):
            if candidate.mode is RuleMode.NOTIFY or candidate.campaign_id not in changing:
                verdicts.append(candidate)
                if candidate.mode is not RuleMode.NOTIFY:
                    changing.add(candidate.campaign_id)
        if not verdicts:
            return [], []
        budget = await self._guardrail_budget(report, now)
        accepted: list[Candidate] = []
        refused: list[Refusal] = []
        verdicts.sort(key=lambda c: (c.mode is RuleMode.NOTIFY, c.direction is Direction.INCREASE, c.campaign_id))
        for candidate in verdicts:
            # A notice changes nothing: it is judged on a copy, so it takes no room from real changes.
            guarded = guard(candidate, self.config.guardrails, replace(budget) if candidate.mode is RuleMode.NOTIFY else budget)
            (refused if isinstance(guarded, Refusal) else accepted).append(guarded)
        return accepted, refused

    async def _cpa_verdicts(self, snap: AccountSnapshot, report: HealthReport, now: datetime) -> list[Candidate]:
        rules = self.cpa_rules
        if not rules:
            return []
        performance = {p.id: p for p in report.performance}
        windows = {r.window_days for r in rules} - {snap.window_days}
        by_window = {snap.window_days: performance}
        for days in sorted(windows):
            by_window[days] = await self._performance_over(snap, days, now)
        verdicts = []
        for campaign in report.active_campaigns:
            rule = rule_for(rules, campaign.id)
            perf = by_window.get(rule.window_days, {}).get(campaign.id) if rule else None
            candidate = evaluate(rule, perf) if rule and perf else None
            if candidate:
                verdicts.append(candidate)
        return verdicts

    async def _performance_over(self, snap: AccountSnapshot, days: int, now: datetime) -> dict[int, CampaignPerformance]:
        window_from, window_to = trailing_window(self.ad_day.today(now), days)
        stats = sum_by_campaign(
            await self.api.statistics(window_from, window_to, group_by=("campaign_id",), ad_day=self.ad_day)
        )
        result = {}
        for c in snap.campaigns:
            s = stats.get(c.id) or CampaignStats(campaign_id=c.id)
            result[c.id] = CampaignPerformance(
                c.id, c.name, c.status, c.daily_budget, s.spent, s.conversions, s.impressions, days
            )
        return result


    async def tell_alerts(
        self,
        announce: Callable[[list[AlertChange]], Awaitable[tuple[str, str] | None]],
        follow_up: Callable[[AlertChange, str, str], Awaitable[bool]],
        order: Sequence[str] = (),
        *,
        quiet: bool = False,
    ) -> None:
        """Tells the channel every alert change it has not heard, once across replicas, without spam.

        New alerts go out together in one message (`announce`: one alert alone, several as a digest);
        a change of an alert already told (worse, resolved, back soon after resolving) goes to the
        thread of its first message (`follow_up`). A snoozed alert waits for its snooze to end; while
        `quiet`, only critical ones are told. What Slack refuses stays untold for the next check.
        `order` lists keys in the order a check found them (the worst campaigns first); the rest follow,
        the account's before the campaigns'.
        """
        now = self.clock()
        rank = {key: i for i, key in enumerate(order)}
        first_told: list[tuple[Alert, AlertChange]] = []
        untold = [a.key for a in (await self.store.alerts()).values() if alert_rules.untold(a) and not a.snoozed(now)]
        # One claim for all: alerts another process is telling are left to it.
        claimed_all = await self.store.claim_alerts_telling(untold, now, now + TELLING_HOLD)
        for claimed in sorted(claimed_all, key=lambda a: (rank.get(a.key, len(rank)), ":" in a.key, a.key)):
            change = alert_rules.to_tell(claimed)
            if change is None:  # only better: nothing to say
                await self.store.alert_told(claimed.key, (claimed.severity, claimed.active))
            elif quiet and change.severity < alert_rules.CRITICAL:
                await self.store.alert_told(claimed.key, None)
            elif change.kind is ChangeKind.RAISED or not claimed.message_channel or not claimed.message_ts:
                first_told.append((claimed, change))
            else:
                told = False
                try:
                    told = await follow_up(change, claimed.message_channel, claimed.message_ts)
                finally:
                    await self.store.alert_told(claimed.key, (claimed.severity, claimed.active) if told else None)
        if not first_told:
            return
        where: tuple[str, str] | None = None
        try:
            where = await announce([change for _, change in first_told])
        finally:
            for claimed, _ in first_told:
                told = (claimed.severity, claimed.active) if where else None
                await self.store.alert_told(claimed.key, told, message=where)

    async def snooze_alert(self, key: str, user: str, until: datetime | None) -> list[Alert]:
        """Snoozes an alert until a time, or (None) acknowledges it; the alerts of its message, to redraw it."""
        alert = await self.store.snooze_alert(key, user, until)
        if alert is None or not alert.message_channel or not alert.message_ts:
            return [alert] if alert else []
        return await self.store.alerts_in_message(alert.message_channel, alert.message_ts)

    async def _guardrail_budget(self, report: HealthReport, now: datetime) -> GuardrailBudget:
        return GuardrailBudget(
            balance=report.balance,
            total_daily_budget=report.total_daily_budget,
            increased_today=await self.store.increased_since(self.day_start(now)),
            low_balance_days=self.config.thresholds.low_balance_days,
        )
