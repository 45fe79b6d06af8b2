"""Applies approved proposals to PropellerAds exactly once: read fresh, check and claim, write, verify, record.

The check and the claim happen in one unit of work the database serializes (see
`Store.approval_unit`): the proposal must still be pending, of the version the approver saw, and
every guardrail must hold on fresh reads, with today's increase cap counting the increases already
applied, those being applied and those whose write was not confirmed. The claim takes a lease that
the running apply renews while it works, so reconciliation never takes over a live write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy.exc import SQLAlchemyError

from core import failpoints
from core.errors import NotFoundError, PermissionDeniedError, PropellerAdsError, TransportError, ValidationError
from core.health import total_daily_budget
from core.models import Campaign
from core.money import cents, fmt_money
from core.policy import Candidate, Direction, Evidence, GuardrailBudget, Guardrails, Refusal, apply_guardrails
from core.propellerads import PropellerAdsClient
from core.proposals import (
    BOT_ACTOR,
    ActionKind,
    TELLING_HOLD,
    FINISHED_BY,
    IN_FLIGHT,
    OUTCOME_OF,
    AuditAction,
    AuditEntry,
    Decision,
    Outcome,
    Proposal,
    ProposalState,
)
from core.store import Store
from core.store.store import ApprovalUnit, proposal_of

log = logging.getLogger(__name__)

PENDING, APPLYING, UNCONFIRMED = ProposalState.PENDING, ProposalState.APPLYING, ProposalState.UNCONFIRMED


def utc_day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(timezone.utc).date(), time.min, tzinfo=timezone.utc)


@dataclass(frozen=True)
class FreshReads:
    """What PropellerAds says right before the claim; the balance and the total only for an increase."""

    live: Campaign | None
    error: PropellerAdsError | None = None
    balance: Decimal | None = None
    total_daily_budget: Decimal | None = None


class Executor:
    def __init__(
        self,
        store: Store,
        api: PropellerAdsClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        lease: timedelta = timedelta(minutes=5),
        guardrails: Guardrails | None = None,
        low_balance_days: Decimal = Decimal(3),
        day_start: Callable[[datetime], datetime] = utc_day_start,
        settle: timedelta = timedelta(minutes=30),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.api = api
        self.clock = clock
        self.lease = lease
        """How long a claim holds without renewal; the running apply renews it every third of that."""
        self.guardrails = guardrails
        self.low_balance_days = low_balance_days
        self.day_start = day_start
        """Where today's increase cap starts counting."""
        self.settle = settle
        """How long an unconfirmed write may still land; after it, the live budget says whether it did."""
        self.sleep = sleep
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    # --- decisions --------------------------------------------------------------------------------

    async def approve(self, proposal_id: int, user: str, *, version: int | None = None) -> Decision:
        """Approves and applies the version the approver saw. A second click, a retry or another replica changes nothing."""
        proposal = await self.store.get(proposal_id)
        if proposal is None:
            return Decision(Outcome.NOT_FOUND, None, user)
        if proposal.state is not PENDING:
            return await self._not_pending(proposal_id, user)
        if version is not None and version != proposal.version:
            return Decision(Outcome.OUTDATED, proposal, user)
        # Reads before the claim, so no database lock is held while PropellerAds answers.
        fresh = await self._fresh(proposal) if proposal.expires_at > self.clock() else FreshReads(None)
        now = self.clock()
        async with self.store.approval_unit() as uow:
            row = await uow.proposal(proposal_id)
            current = proposal_of(row) if row is not None else None
            if current is None or current.state is not PENDING:
                claimed = None
            elif current.expires_at <= now:
                expired = uow.move(
                    row, ProposalState.EXPIRED, now,
                    AuditEntry.of(current, now, BOT_ACTOR, AuditAction.EXPIRED, outcome=ProposalState.EXPIRED),
                    detail="nobody decided within its time to live",
                )
                return Decision(Outcome.EXPIRED, expired, user)
            elif version is not None and version != current.version:
                return Decision(Outcome.OUTDATED, current, user)
            else:
                approval = AuditEntry.of(current, now, user, AuditAction.APPROVED, outcome=ProposalState.APPROVED)
                decided = {"decided_by": user, "decided_at": now}
                if fresh.error is not None:
                    ended, detail = ProposalState.MANUAL_REVIEW, f"could not read the campaign before writing: {fresh.error.detail}"
                else:
                    ended, detail = ProposalState.STALE, await self._refusal(uow, current, fresh, now)
                if detail is not None:
                    done = uow.move(row, ended, now, approval, self._audit(current, now, ended, detail, user),
                                    detail=detail, telling_until=now + TELLING_HOLD, **decided)
                    return Decision(OUTCOME_OF[ended], done, user, detail,
                                    api_words=fresh.error.detail if fresh.error is not None else None)
                claimed = uow.move(row, APPLYING, now, approval, lease_owner=self.owner,
                                   lease_until=now + self.lease, **decided)
        if claimed is None:
            return await self._not_pending(proposal_id, user)
        await failpoints.reached(failpoints.AFTER_APPROVAL)
        return await self._write(claimed)

    async def reject(self, proposal_id: int, user: str, *, version: int | None = None) -> Decision:
        proposal = await self.store.get(proposal_id)
        if proposal is None:
            return Decision(Outcome.NOT_FOUND, None, user)
        now = self.clock()
        rejected = await self.store.transition(
            proposal_id,
            [PENDING],
            ProposalState.REJECTED,
            now=now,
            not_expired=True,
            version=version,
            decided_by=user,
            decided_at=now,
            detail="rejected",
            telling_until=now + TELLING_HOLD,
            audit=AuditEntry.of(proposal, now, user, AuditAction.REJECTED, outcome=ProposalState.REJECTED),
        )
        if rejected is None:
            current = await self.store.get(proposal_id)
            if current is not None and current.state is PENDING and version is not None and version != current.version:
                return Decision(Outcome.OUTDATED, current, user)
            return await self._not_pending(proposal_id, user)
        return Decision(Outcome.REJECTED, rejected, user)

    async def undo(self, proposal_id: int, user: str) -> Decision:
        """Reverses an applied change, once, and only while PropellerAds still shows what the bot set.

        The undo is a proposal of its own, approved by the one who asked: written once, verified and
        recorded as any other, exempt from the step limit but not from the other guardrails.
        """
        original = await self.store.get(proposal_id)
        if original is None:
            return Decision(Outcome.NOT_FOUND, None, user)
        if original.state is not ProposalState.APPLIED:
            return Decision(Outcome.CANNOT_UNDO, original, user, f"it is {original.state.words}, not applied")
        done = await self.store.undo_of(original.id)
        if done is not None:
            return Decision(Outcome.CANNOT_UNDO, original, user, f"proposal #{done.id} undid it already")
        try:
            live = await self.api.campaign(original.campaign_id)
        except PropellerAdsError as exc:
            return Decision(Outcome.CANNOT_UNDO, original, user, f"could not read the campaign: {exc.detail}")
        if not _landed(original, live):
            return Decision(
                Outcome.CANNOT_UNDO, original, user,
                f"PropellerAds now shows a {_noun(original)} of {_seen(original, live)}, not the {_wanted(original)} "
                "the bot set; someone changed it since",
            )
        reverse = replace(original, from_amount=original.to_amount, to_amount=original.from_amount,
                          action=original.action.inverse, undoes=original.id)
        fresh = await self._fresh(reverse)
        if fresh.error is not None:
            return Decision(Outcome.CANNOT_UNDO, original, user, f"could not read the account: {fresh.error.detail}")
        now = self.clock()
        async with self.store.approval_unit() as uow:
            row = await uow.open_undo(original, user, now, lease_owner=self.owner, lease_until=now + self.lease)
            if row is None:
                return Decision(Outcome.CANNOT_UNDO, original, user,
                                "it was undone already, or another change of the campaign is under way")
            undo = proposal_of(row)
            reason = await self._refusal(uow, undo, fresh, now)
            if reason is not None:
                done = uow.move(row, ProposalState.STALE, now, self._audit(undo, now, ProposalState.STALE, reason, user),
                                detail=reason)
                return Decision(Outcome.STALE, done, user, reason)
        return await self._write(undo)

    async def _not_pending(self, proposal_id: int, user: str) -> Decision:
        current = await self.store.get(proposal_id)
        if current is None:
            return Decision(Outcome.NOT_FOUND, None, user)
        if current.state is PENDING:  # still pending, so the transition failed on its time to live
            expired = await self.store.expire(current, self.clock())
            return Decision(Outcome.EXPIRED, expired or current, user)
        if current.state in IN_FLIGHT:
            return Decision(Outcome.IN_PROGRESS, current, user)
        return Decision(Outcome.ALREADY_DECIDED, current, user)

    # --- reconciliation -----------------------------------------------------------------------------

    async def reconcile(self) -> list[Decision]:
        """Finishes what a stopped process left approved or mid-apply, and settles unconfirmed writes.

        Only proposals whose lease has lapsed: a running apply renews its lease, so it is never taken over.
        """
        decisions = []
        now = self.clock()
        for proposal in await self.store.lapsed(now, self.lease):
            claimed = await self.store.take_over(proposal, self.owner, now, now + self.lease)
            if claimed is None:
                continue  # another replica took it first
            log.info("reconciling proposal %s left %s", claimed.id, claimed.state)
            decision = await (self._settle(claimed) if claimed.state is UNCONFIRMED else self._resume(claimed))
            if decision is not None:
                decisions.append(decision)
        return decisions

    async def _resume(self, proposal: Proposal) -> Decision:
        fresh = await self._fresh(proposal)
        now = self.clock()
        if fresh.error is not None:
            detail = f"could not read the campaign before writing: {fresh.error.detail}"
            return await self._finish(proposal, ProposalState.MANUAL_REVIEW, detail, error=fresh.error)
        if fresh.live is not None and _landed(proposal, fresh.live):
            # The write reached PropellerAds before the process stopped: record it, do not write again.
            return await self._finish(proposal, ProposalState.APPLIED, f"confirmed after a restart: the live {_noun(proposal)} already matches")
        async with self.store.approval_unit() as uow:
            row = await uow.proposal(proposal.id)
            if row is None or row.lease_owner != self.owner or ProposalState(row.state) not in IN_FLIGHT:
                return Decision(Outcome.IN_PROGRESS, proposal_of(row) if row else None, proposal.decided_by)
            reason = await self._refusal(uow, proposal, fresh, now)
            if reason is None:
                claimed = uow.move(row, APPLYING, now, lease_until=now + self.lease)
        if reason is not None:
            return await self._finish(proposal, ProposalState.STALE, reason)
        return await self._write(claimed)

    async def _settle(self, proposal: Proposal) -> Decision | None:
        """An unconfirmed write: the live budget says whether it landed; until `settle` has passed it may still."""
        try:
            live = await self.api.campaign(proposal.campaign_id)
        except PropellerAdsError as exc:
            log.warning("could not settle proposal %s: %s", proposal.id, exc)
            await self.store.renew_lease(proposal.id, self.owner, self.clock())
            return None
        noun, seen = _noun(proposal), _seen(proposal, live)
        if _landed(proposal, live):
            return await self._finish(proposal, ProposalState.APPLIED, f"confirmed later: the live {noun} matches", from_states=[UNCONFIRMED])
        if _stale_reason(proposal, live) is not None:
            detail = f"the write was not confirmed, and the live {noun} is now {seen}"
            return await self._finish(proposal, ProposalState.MANUAL_REVIEW, detail, from_states=[UNCONFIRMED])
        since = proposal.decided_at or proposal.updated_at
        if self.clock() - since >= self.settle:
            detail = f"the write never landed: PropellerAds still shows {seen}"
            return await self._finish(proposal, ProposalState.FAILED, detail, from_states=[UNCONFIRMED])
        await self.store.renew_lease(proposal.id, self.owner, self.clock())  # lapse now: the next check looks again
        return None

    # --- the checks --------------------------------------------------------------------------------

    async def _fresh(self, proposal: Proposal) -> FreshReads:
        try:
            live = await self.api.campaign(proposal.campaign_id)
            if proposal.adds_spend <= 0 or self.guardrails is None:
                return FreshReads(live)
            balance = await self.api.balance()
            total = total_daily_budget(await self.api.campaigns())
        except PropellerAdsError as exc:
            return FreshReads(None, exc)
        return FreshReads(live, balance=balance, total_daily_budget=total)

    async def _refusal(self, uow: ApprovalUnit, proposal: Proposal, fresh: FreshReads, now: datetime) -> str | None:
        """Why the change may not be written now, or None: the live campaign, the cap, every guardrail."""
        assert fresh.live is not None
        stale = _stale_reason(proposal, fresh.live)
        if stale or self.guardrails is None:
            return stale
        g = self.guardrails
        increase = proposal.increase
        applied, in_flight = await uow.increases(self.day_start(now), excluding=proposal.id)
        counted = applied + in_flight
        if increase > 0 and counted + increase > g.max_daily_increase:
            return (
                f"today's increases already add {fmt_money(counted)} of the {fmt_money(g.max_daily_increase)} cap, "
                f"so {fmt_money(increase)} more would cross it"
            )
        budget = GuardrailBudget(balance=Decimal(0), total_daily_budget=Decimal(0), increased_today=counted,
                                 low_balance_days=self.low_balance_days)
        if increase > 0:
            assert fresh.balance is not None and fresh.total_daily_budget is not None
            budget.balance = fresh.balance
            # Increases approved elsewhere and not yet written will add to the live total too.
            budget.total_daily_budget = fresh.total_daily_budget + in_flight
        if proposal.action is ActionKind.PAUSE:
            return None  # stopping spends nothing: no guardrail holds it back
        if proposal.action is ActionKind.RESUME:
            assert fresh.balance is not None and fresh.total_daily_budget is not None
            room = fresh.balance / self.low_balance_days - fresh.total_daily_budget - in_flight
            if proposal.adds_spend > room:
                return (
                    f"resuming its {fmt_money(proposal.adds_spend)} a day would leave the balance covering under "
                    f"{self.low_balance_days} days of budget"
                )
            return None
        guarded = apply_guardrails(_as_candidate(proposal), g, budget, step_limit=proposal.undoes is None)
        if isinstance(guarded, Refusal):
            return f"the guardrails now forbid it: {guarded.reason}"
        if guarded.to_amount != proposal.to_amount:
            bound = "most" if guarded.to_amount < proposal.to_amount else "least"
            return f"the guardrails now allow at {bound} {fmt_money(guarded.to_amount)} ({'; '.join(guarded.notes)})"
        return None

    # --- the write ----------------------------------------------------------------------------------

    async def _write(self, proposal: Proposal) -> Decision:
        async with self._lease_kept(proposal.id):
            write_error: PropellerAdsError | None = None
            try:
                await self._send(proposal)
                await failpoints.reached(failpoints.AFTER_PATCH)
            except PermissionDeniedError as exc:
                return await self._finish(proposal, ProposalState.FAILED, f"insufficient permissions: {exc.detail}", error=exc)
            except (ValidationError, NotFoundError) as exc:
                return await self._finish(proposal, ProposalState.MANUAL_REVIEW, f"PropellerAds refused the change: {exc.detail}", error=exc)
            except PropellerAdsError as exc:
                # A timeout or 5xx after retries: the write may or may not have landed. Verify decides.
                write_error = exc

            try:
                after = await self.api.campaign(proposal.campaign_id)
            except PropellerAdsError as exc:
                cause = write_error or exc
                return await self._finish(proposal, UNCONFIRMED, f"could not verify the change: {cause.detail}", error=cause, wrote=True)
            await failpoints.reached(failpoints.AFTER_VERIFY)
            noun, seen = _noun(proposal), _seen(proposal, after)
            if _landed(proposal, after):
                return await self._finish(proposal, ProposalState.APPLIED, f"verified: the live {noun} matches", wrote=True)
            if isinstance(write_error, TransportError):
                # No answer is not a no: a write that timed out can still land after this re-read.
                unconfirmed = (
                    f"PropellerAds did not confirm the change ({write_error.detail}) and still shows "
                    f"{seen}; it may yet apply it"
                )
                return await self._finish(proposal, UNCONFIRMED, unconfirmed, error=write_error, wrote=True)
            if write_error is not None:
                return await self._finish(proposal, ProposalState.MANUAL_REVIEW, f"the change did not go through: {write_error.detail}", error=write_error)
            return await self._finish(
                proposal, ProposalState.MANUAL_REVIEW,
                f"after the write PropellerAds shows a {noun} of {seen}, not {_wanted(proposal)}",
            )

    async def _send(self, proposal: Proposal) -> None:
        """The one write a proposal makes."""
        if proposal.action is ActionKind.PAUSE:
            await self.api.stop_campaigns([proposal.campaign_id])
        elif proposal.action is ActionKind.RESUME:
            await self.api.start_campaigns([proposal.campaign_id])
        else:
            await self.api.set_daily_budget(proposal.campaign_id, proposal.to_amount)

    @contextlib.asynccontextmanager
    async def _lease_kept(self, proposal_id: int) -> AsyncIterator[None]:
        """Renews the claim while the apply runs: however slow the write, nobody takes it over."""

        async def beat() -> None:
            while True:
                await self.sleep(self.lease.total_seconds() / 3)
                try:
                    if not await self.store.renew_lease(proposal_id, self.owner, self.clock() + self.lease):
                        log.warning("proposal %s: lost the lease while applying it", proposal_id)
                        return
                except SQLAlchemyError as exc:  # a database blip: try again at the next beat
                    log.warning("proposal %s: could not renew the lease: %s", proposal_id, exc)

        heartbeat = asyncio.create_task(beat())
        try:
            yield
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _finish(
        self,
        proposal: Proposal,
        state: ProposalState,
        detail: str,
        *,
        error: PropellerAdsError | None = None,
        wrote: bool = False,
        from_states: list[ProposalState] | None = None,
    ) -> Decision:
        """Records how the apply ended. `wrote`: PropellerAds may have the change, so a failed record must not hide it."""
        now = self.clock()
        actor = proposal.decided_by or BOT_ACTOR
        if error is not None:
            log.warning("proposal %s ended %s: %s", proposal.id, state, error)
        try:
            done = await self.store.transition(
                proposal.id,
                from_states or list(IN_FLIGHT),
                state,
                now=now,
                lease_owner=self.owner,
                detail=detail,
                lease_until=now,
                # Whoever made the decision redraws its message; a check does only if that never happens.
                telling_until=now + TELLING_HOLD,
                audit=self._audit(proposal, now, state, detail, actor),
            )
            final = done or await self.store.get(proposal.id)
        except SQLAlchemyError as exc:
            if not wrote:
                raise
            # The change is (or may be) on PropellerAds: say so; reconciliation records it once the lease lapses.
            log.error("proposal %s: %s on PropellerAds but not recorded: %s", proposal.id, state, exc)
            return Decision(OUTCOME_OF[state], _as_state(proposal, state, detail), proposal.decided_by, detail, recorded=False)
        return Decision(
            OUTCOME_OF[state],
            final,
            proposal.decided_by,
            detail,
            write_denied=isinstance(error, PermissionDeniedError),
            api_words=error.detail if error is not None else None,
        )

    @staticmethod
    def _audit(p: Proposal, now: datetime, state: ProposalState, detail: str, actor: str) -> AuditEntry:
        return AuditEntry.of(p, now, actor, FINISHED_BY[state], detail=detail, outcome=state)


def _budget(campaign: Campaign) -> Decimal | None:
    return None if campaign.daily_budget is None else cents(campaign.daily_budget)


def _noun(proposal: Proposal) -> str:
    return "daily budget" if proposal.action is ActionKind.SET_DAILY_BUDGET else "status"


def _seen(proposal: Proposal, live: Campaign) -> str:
    return fmt_money(_budget(live)) if proposal.action is ActionKind.SET_DAILY_BUDGET else live.status_label


def _wanted(proposal: Proposal) -> str:
    return {ActionKind.PAUSE: "stopped", ActionKind.RESUME: "working"}.get(proposal.action, fmt_money(proposal.to_amount))


def _landed(proposal: Proposal, live: Campaign) -> bool:
    """PropellerAds shows what the proposal writes."""
    if proposal.action is ActionKind.PAUSE:
        return not live.is_working
    if proposal.action is ActionKind.RESUME:
        return live.is_working
    return _budget(live) == proposal.to_amount


RESUMABLE = {7, 8}
"""Paused and stopped: the statuses a campaign can be started again from."""


def _stale_reason(proposal: Proposal, live: Campaign) -> str | None:
    """Why the live campaign no longer is what the proposal started from, or None."""
    if proposal.action is ActionKind.RESUME:
        return None if live.status in RESUMABLE else f"the campaign is not paused or stopped (now {live.status_label})"
    if not live.is_working:
        return f"the campaign is no longer working (now {live.status_label})"
    if proposal.action is ActionKind.PAUSE:
        return None
    live_budget = _budget(live)
    if live_budget != proposal.from_amount:
        return (
            f"the live daily budget is {fmt_money(live_budget)}, no longer the {fmt_money(proposal.from_amount)} "
            "this proposal started from"
        )
    return None


def _as_candidate(p: Proposal) -> Candidate:
    """The proposal as the guardrails see a rule's verdict."""
    direction = Direction.INCREASE if p.to_amount > p.from_amount else Direction.DECREASE
    return Candidate(p.campaign_id, p.campaign_name, p.rule, direction, p.from_amount, p.to_amount, p.reason,
                     Evidence(0, Decimal(0), 0, None, Decimal(1), None))


def _as_state(p: Proposal, state: ProposalState, detail: str) -> Proposal:
    return replace(p, state=state, detail=detail)
