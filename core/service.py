"""The service layer the Slack handlers and the scheduler call: health, campaign status, checks, decisions."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

from core import alerts as alert_rules
from core.alerts import AlertChange, ChangeKind, Condition
from core.errors import AuthenticationError, PermissionDeniedError, PropellerAdsError
from core.executor import Decision, Executor, Outcome
from core.health import AccountSnapshot, CampaignPerformance, HealthReport, HealthThresholds, analyze
from core.models import Campaign, CampaignStats, StatisticsRow, sum_by_campaign
from core.money import cents, fmt_money, parse_amount
from core.policy import (
    Candidate,
    Direction,
    Evidence,
    GuardrailBudget,
    Guardrails,
    Refusal,
    Rule,
    apply_guardrails,
    edited_note,
    evaluate,
    rule_for,
)
from core.propellerads import PropellerAdsClient
from core.snapshot import read_snapshot, trailing_window
from core.store import Store
from core.store.store import Alert, Proposal, audit_entry
from core.store.tables import PENDING

log = logging.getLogger(__name__)

MAX_PICK_LIST = 10
T = TypeVar("T")


@dataclass(frozen=True)
class ServiceConfig:
    thresholds: HealthThresholds = field(default_factory=HealthThresholds)
    guardrails: Guardrails = field(default_factory=Guardrails)
    rules: tuple[Rule, ...] = ()
    approvers: frozenset[str] = frozenset()
    proposal_ttl: timedelta = timedelta(hours=24)
    snapshot_ttl: timedelta = timedelta(seconds=60)


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
    """Share of today (UTC) already gone, 0..1."""

    @property
    def window_cpa(self) -> Decimal | None:
        s = self.window
        return cents(s.spent / s.conversions) if s.conversions else None

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


@dataclass
class CheckResult:
    report: HealthReport | None = None
    error: PropellerAdsError | None = None
    alerts: list[AlertChange] = field(default_factory=list)
    created: list[Proposal] = field(default_factory=list)
    superseded: list[Proposal] = field(default_factory=list)
    kept: list[Proposal] = field(default_factory=list)
    expired: list[Proposal] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    reconciled: list[tuple[Decision, list[AlertChange]]] = field(default_factory=list)
    """Proposals a stopped process had left mid-apply, finished by this check."""


@dataclass(frozen=True)
class EditResult:
    proposal: Proposal | None
    error: str | None = None


class SharedReads:
    """Values read from the ad platform, kept for a while; one fetch per value at a time, shared by all
    who ask meanwhile. A kept value young enough is answered at once, even while a fresh read is under
    way: a status read never queues behind a check that waits out PropellerAds' statistics limit."""

    def __init__(self, ttl: timedelta) -> None:
        self.ttl = ttl.total_seconds()
        self._values: dict[str, tuple[Any, float]] = {}
        self._fetching: dict[str, asyncio.Future[Any]] = {}
        self._generation = 0

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        kept = self._values.get(key)
        if kept and not fresh and time.monotonic() - kept[1] < self.ttl:
            return kept[0]
        running = self._fetching.get(key)
        if running is None:  # a read already under way is as fresh as a new one would be
            running = self._fetching[key] = asyncio.ensure_future(self._fetch(key, fetch))
        # One caller giving up (a Slack request cancelled) must not cancel the read the others wait for.
        return await asyncio.shield(running)

    async def _fetch(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        generation = self._generation
        try:
            value = await fetch()
        finally:
            if self._fetching.get(key) is asyncio.current_task():  # after clear() another may have begun
                del self._fetching[key]
        if generation == self._generation:  # not kept if the account was written meanwhile
            self._values[key] = (value, time.monotonic())
        return value

    def clear(self) -> None:
        self._values.clear()
        self._fetching.clear()
        self._generation += 1


class BudgetService:
    def __init__(
        self,
        api: PropellerAdsClient,
        store: Store,
        config: ServiceConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        reconcile_after: timedelta = timedelta(minutes=5),
    ) -> None:
        self.api = api
        self.store = store
        self.config = config
        self.clock = clock
        self.executor = Executor(
            store,
            api,
            clock=clock,
            reconcile_after=reconcile_after,
            max_daily_increase=config.guardrails.max_daily_increase,
        )
        # Reads of the account are shared for snapshot_ttl, one fetch at a time: fifty people
        # asking at once cost one read, which matters under a statistics limit of 2 a minute.
        self._reads = SharedReads(config.snapshot_ttl)
        # Alerts are compared with what the store remembers and then stored: two checks doing that at
        # once would both see the same condition as new and both announce it.
        self._alerts_lock = asyncio.Lock()

    # --- reading ----------------------------------------------------------------------------

    async def snapshot(self, *, fresh: bool = False) -> AccountSnapshot:
        async def read() -> AccountSnapshot:
            now = self.clock()
            return await read_snapshot(self.api, today=now.date(), window_days=self.config.thresholds.window_days, now=now)

        return await self._reads.get("snapshot", read, fresh=fresh)

    async def health(self, *, fresh: bool = False) -> HealthReport:
        return analyze(await self.snapshot(fresh=fresh), self.config.thresholds)

    def forget_reads(self) -> None:
        """Drops cached reads, after a write changed the account."""
        self._reads.clear()

    async def find_campaign(self, query: str) -> CampaignLookup:
        """By ID, or by a part of the name (case-insensitive); one match comes with its status."""
        query = query.strip()
        if query.isascii() and query.isdigit():  # not "²": str.isdigit() takes digits int() refuses
            try:
                matches = [await self.api.campaign(int(query))]
            except PropellerAdsError as exc:
                if exc.status == 404:
                    matches = []
                else:
                    raise
        else:
            needle = query.casefold()
            campaigns = await self._all_campaigns()
            matches = [c for c in campaigns if needle in c.name.casefold()]
            current = [c for c in matches if not c.is_archived]
            matches = sorted(current or matches, key=lambda c: (not c.is_working, c.name, c.id))
        if len(matches) != 1:
            return CampaignLookup(query, matches[:MAX_PICK_LIST], total=len(matches))
        return CampaignLookup(query, matches, await self._status_of(matches[0]), total=1)

    async def _all_campaigns(self) -> list[Campaign]:
        return await self._reads.get("campaigns", self.api.campaigns)

    async def _recent_days(self) -> list[StatisticsRow]:
        """Yesterday's and today's statistics of every campaign: one grouped call shared by all lookups."""

        async def read() -> list[StatisticsRow]:
            today = self.clock().date()
            return await self.api.statistics(today - timedelta(days=1), today, group_by=("campaign_id", "date_time"))

        return await self._reads.get("recent_days", read)

    async def _status_of(self, campaign: Campaign) -> CampaignStatusReport:
        # The window's figures come from the shared snapshot, the last two days from one shared read:
        # looking up campaigns one after another costs no statistics call per campaign.
        snap = await self.snapshot()
        rows = [r for r in await self._recent_days() if r.campaign_id == campaign.id]
        now = self.clock()
        today = now.date()

        def on(day: date) -> CampaignStats:
            return sum_by_campaign([r for r in rows if r.day == day]).get(campaign.id) or CampaignStats(
                campaign_id=campaign.id
            )

        seconds = Decimal(now.hour * 3600 + now.minute * 60 + now.second)
        return CampaignStatusReport(
            campaign=campaign,
            today=on(today),
            yesterday=on(today - timedelta(days=1)),
            window=snap.stats.get(campaign.id) or CampaignStats(campaign_id=campaign.id),
            window_days=snap.window_days,
            day_elapsed=seconds / Decimal(86400),
        )

    # --- the health check --------------------------------------------------------------------

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
            snap = await self.snapshot(fresh=not reuse_recent_read)
        except (AuthenticationError, PermissionDeniedError) as exc:
            result.error = exc
            async with self._alerts_lock:
                previous = await self.store.alerts()
                result.alerts = await self._update_alerts(previous, [alert_rules.token_refused(exc.detail)], judged=[])
            return result
        except PropellerAdsError as exc:
            result.error = exc
            return result
        report = analyze(snap, self.config.thresholds)
        result.report = report
        conditions = alert_rules.conditions_of(report, self.config.thresholds.low_balance_days)
        async with self._alerts_lock:
            previous = await self.store.alerts()
            judged = [k for k in previous if k != alert_rules.WRITE_DENIED]
            result.alerts = await self._update_alerts(previous, conditions, judged=judged)

        candidates, result.refused = await self._candidates(snap, report, now)
        saved = await self.store.save_candidates(candidates, now=now, ttl=self.config.proposal_ttl)
        result.created, result.superseded, result.kept = saved.created, saved.superseded, saved.kept
        return result

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

    async def _candidates(
        self, snap: AccountSnapshot, report: HealthReport, now: datetime
    ) -> tuple[list[Candidate], list[Refusal]]:
        if not self.config.rules:
            return [], []
        performance = {p.id: p for p in report.performance}
        windows = {r.window_days for r in self.config.rules} - {snap.window_days}
        by_window = {snap.window_days: performance}
        for days in sorted(windows):
            by_window[days] = await self._performance_over(snap, days, now)
        budget = await self._guardrail_budget(report, now)
        accepted: list[Candidate] = []
        refused: list[Refusal] = []
        # Decreases first: they free room that increases may then use.
        verdicts = []
        for campaign in report.active_campaigns:
            rule = rule_for(list(self.config.rules), campaign.id)
            perf = by_window.get(rule.window_days, {}).get(campaign.id) if rule else None
            candidate = evaluate(rule, perf) if rule and perf else None
            if candidate:
                verdicts.append(candidate)
        verdicts.sort(key=lambda c: (c.to_amount > c.from_amount, c.campaign_id))
        for candidate in verdicts:
            guarded = apply_guardrails(candidate, self.config.guardrails, budget)
            (refused if isinstance(guarded, Refusal) else accepted).append(guarded)
        return accepted, refused

    async def _performance_over(self, snap: AccountSnapshot, days: int, now: datetime) -> dict[int, CampaignPerformance]:
        window_from, window_to = trailing_window(now.date(), days)
        stats = sum_by_campaign(await self.api.statistics(window_from, window_to, group_by=("campaign_id",)))
        result = {}
        for c in snap.campaigns:
            s = stats.get(c.id) or CampaignStats(campaign_id=c.id)
            result[c.id] = CampaignPerformance(
                c.id, c.name, c.status, c.daily_budget, s.spent, s.conversions, s.impressions, days
            )
        return result

    # --- decisions ---------------------------------------------------------------------------

    def may_decide(self, user: str) -> bool:
        return user in self.config.approvers

    async def decide(self, proposal_id: int, user: str, *, approve: bool) -> tuple[Decision, list[AlertChange]]:
        if not self.may_decide(user):
            proposal = await self.store.get(proposal_id)
            return Decision(Outcome.NOT_ALLOWED, proposal, "Only the configured approvers can decide on budget proposals; nothing was changed."), []
        if not approve:
            return await self.executor.reject(proposal_id, user), []
        decision = await self.executor.approve(proposal_id, user)
        return decision, await self._after_write(decision)

    async def reconcile(self) -> list[tuple[Decision, list[AlertChange]]]:
        """Finishes proposals a stopped process left approved or mid-apply; raises if PropellerAds fails."""
        decisions = await self.executor.reconcile()
        return [(d, await self._after_write(d)) for d in decisions]

    async def reconcile_quietly(self) -> list[tuple[Decision, list[AlertChange]]]:
        """Reconciles, but an unreachable ad platform must not stop a check or a start-up."""
        try:
            return await self.reconcile()
        except PropellerAdsError as exc:
            log.warning("could not reconcile proposals: %s", exc)
            return []

    async def _after_write(self, decision: Decision) -> list[AlertChange]:
        if decision.outcome is Outcome.APPLIED:
            self.forget_reads()
        async with self._alerts_lock:
            previous = await self.store.alerts()
            if decision.write_denied:
                # Which change and PropellerAds' words; the decision's own sentence holds a mention the alert cannot show.
                p = decision.proposal
                change = (
                    f"{p.campaign_name} ({p.campaign_id}) {fmt_money(p.from_amount)} → {fmt_money(p.to_amount)}"
                    if p is not None
                    else "a daily budget"
                )
                condition = alert_rules.write_denied(f"{change}: {decision.api_words}")
                return await self._update_alerts(previous, [condition], judged=[])
            if decision.outcome is Outcome.APPLIED:
                return await self._update_alerts(previous, [], judged=[alert_rules.WRITE_DENIED])
            return []

    async def edit_amount(self, proposal_id: int, user: str, text: str) -> EditResult:
        """Changes a pending proposal's amount, re-checked against the guardrails."""
        if not self.may_decide(user):
            return EditResult(None, "Only the configured approvers can change a proposal.")
        proposal = await self.store.get(proposal_id)
        if proposal is None or proposal.state != PENDING:
            return EditResult(proposal, "This proposal is no longer pending.")
        try:
            amount = parse_amount(text)
        except ValueError as exc:
            return EditResult(proposal, str(exc))
        if not amount.is_finite() or amount <= 0:
            return EditResult(proposal, "The daily budget must be a positive amount.")
        g = self.config.guardrails
        if not g.min_daily_budget <= amount <= g.max_daily_budget:
            return EditResult(proposal, f"The daily budget must be between {fmt_money(g.min_daily_budget)} and {fmt_money(g.max_daily_budget)}.")
        if amount == proposal.from_amount:
            return EditResult(proposal, f"{fmt_money(amount)} is the current daily budget; reject the proposal to keep it.")
        now = self.clock()
        budget = await self._guardrail_budget(await self.health(), now)
        wanted = Candidate(
            proposal.campaign_id, proposal.campaign_name, proposal.rule,
            Direction.INCREASE if amount > proposal.from_amount else Direction.DECREASE,
            proposal.from_amount, amount, proposal.reason,
            Evidence(0, Decimal(0), 0, None, Decimal(1), None),
        )
        guarded = apply_guardrails(wanted, g, budget)
        if isinstance(guarded, Refusal):
            return EditResult(proposal, f"The guardrails forbid {fmt_money(amount)}: {guarded.reason}.")
        if guarded.to_amount != amount:
            bound = "at most" if wanted.direction is Direction.INCREASE else "at least"
            return EditResult(proposal, f"The guardrails allow {bound} {fmt_money(guarded.to_amount)} ({'; '.join(guarded.notes)}).")
        edited = await self.store.transition(
            proposal_id, [PENDING], PENDING, now=now, not_expired=True,
            to_amount=amount, direction=wanted.direction.value,
            notes=json.dumps([edited_note(user, proposal.to_amount)]),
            audit=audit_entry(replace(proposal, to_amount=amount), now, user, "edited", PENDING, detail=f"it was {fmt_money(proposal.to_amount)}"),
        )
        if edited is None:
            return EditResult(await self.store.get(proposal_id), "This proposal is no longer pending.")
        return EditResult(edited)

    async def _guardrail_budget(self, report: HealthReport, now: datetime) -> GuardrailBudget:
        return GuardrailBudget(
            balance=report.balance,
            total_daily_budget=report.total_daily_budget,
            increased_today=await self.store.increased_on(now.date()),
            low_balance_days=self.config.thresholds.low_balance_days,
        )

