"""Applies approved proposals to PropellerAds exactly once: claim, check, write, verify, record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum

from core import failpoints
from core.errors import NotFoundError, PermissionDeniedError, PropellerAdsError, TransportError, ValidationError
from core.models import Campaign
from core.money import cents, fmt_money
from core.propellerads import PropellerAdsClient
from core.store import Store
from core.store.store import BOT_ACTOR, Proposal, audit_entry
from core.store.tables import (
    APPLIED,
    APPLYING,
    APPROVED,
    FAILED,
    MANUAL_REVIEW,
    PENDING,
    REJECTED,
    STALE,
)

log = logging.getLogger(__name__)


class Outcome(str, Enum):
    APPLIED = "applied"
    REJECTED = "rejected"
    STALE = "stale"
    FAILED = "failed"
    MANUAL_REVIEW = "needs_manual_review"
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    EXPIRED = "expired"
    NOT_FOUND = "not_found"
    IN_PROGRESS = "in_progress"


# Outcomes that change nothing and concern only the person who clicked.
PRIVATE_OUTCOMES = {Outcome.NOT_ALLOWED, Outcome.ALREADY_DECIDED, Outcome.NOT_FOUND, Outcome.IN_PROGRESS}


@dataclass(frozen=True)
class Decision:
    """What came of a click (or of a reconciliation): the outcome, the proposal as it now stands, in words."""

    outcome: Outcome
    proposal: Proposal | None
    message: str
    write_denied: bool = False
    """PropellerAds refused the write for lack of permission: the channel should hear of it."""
    api_words: str | None = None
    """What PropellerAds said when it refused, if it did."""

    @property
    def is_private(self) -> bool:
        return self.outcome in PRIVATE_OUTCOMES


class Executor:
    def __init__(
        self,
        store: Store,
        api: PropellerAdsClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        reconcile_after: timedelta = timedelta(minutes=5),
        max_daily_increase: Decimal | None = None,
    ) -> None:
        self.store = store
        self.api = api
        self.clock = clock
        self.reconcile_after = reconcile_after
        self.max_daily_increase = max_daily_increase
        """Checked again at write time: edits and several approvals in a day must not add up past it."""

    async def approve(self, proposal_id: int, user: str) -> Decision:
        """Approves and applies. A second click, a retry or another replica gets ALREADY_DECIDED."""
        proposal = await self.store.get(proposal_id)
        if proposal is None:
            return Decision(Outcome.NOT_FOUND, None, "That proposal no longer exists.")
        now = self.clock()
        approved = await self.store.transition(
            proposal_id,
            [PENDING],
            APPROVED,
            now=now,
            not_expired=True,
            decided_by=user,
            decided_at=now,
            audit=audit_entry(proposal, now, user, "approved", APPROVED),
        )
        if approved is None:
            return await self._not_pending(proposal_id, now)
        await failpoints.reached(failpoints.AFTER_APPROVAL)
        return await self._apply(approved)

    async def reject(self, proposal_id: int, user: str) -> Decision:
        proposal = await self.store.get(proposal_id)
        if proposal is None:
            return Decision(Outcome.NOT_FOUND, None, "That proposal no longer exists.")
        now = self.clock()
        rejected = await self.store.transition(
            proposal_id,
            [PENDING],
            REJECTED,
            now=now,
            not_expired=True,
            decided_by=user,
            decided_at=now,
            detail="rejected",
            audit=audit_entry(proposal, now, user, "rejected", REJECTED),
        )
        if rejected is None:
            return await self._not_pending(proposal_id, now)
        return Decision(Outcome.REJECTED, rejected, f"Rejected by <@{user}>. The daily budget stays at {fmt_money(rejected.from_amount)}.")

    async def reconcile(self) -> list[Decision]:
        """Finishes proposals left approved or mid-apply by a stopped process, reading the live budget.

        Only those untouched for `reconcile_after`, so a replica still applying one is left alone.
        """
        cutoff = self.clock() - self.reconcile_after
        decisions = []
        for proposal in await self.store.proposals([APPROVED, APPLYING]):
            if proposal.updated_at > cutoff:
                continue
            # Claim it first, so replicas starting together do not all write it: only the one that
            # still finds it as listed moves it on (the timestamp moves even on a frozen clock).
            claimed = await self.store.transition(
                proposal.id,
                [proposal.state],
                proposal.state,
                now=max(self.clock(), proposal.updated_at + timedelta(microseconds=1)),
                unchanged_since=proposal.updated_at,
            )
            if claimed is None:
                continue
            log.info("reconciling proposal %s left %s", proposal.id, proposal.state)
            decisions.append(await self._apply(claimed, resuming=True))
        return decisions

    async def _not_pending(self, proposal_id: int, now: datetime) -> Decision:
        current = await self.store.get(proposal_id)
        if current is None:
            return Decision(Outcome.NOT_FOUND, None, "That proposal no longer exists.")
        if current.state == PENDING:  # still pending, so the transition failed on its time to live
            expired = await self.store.expire(current, now)
            return Decision(Outcome.EXPIRED, expired or current, "This proposal expired; the next check will propose again if it still applies.")
        if current.state in (APPROVED, APPLYING):
            return Decision(Outcome.IN_PROGRESS, current, f"<@{current.decided_by}> already approved this; it is being applied.")
        who = f" by <@{current.decided_by}>" if current.decided_by else ""
        return Decision(Outcome.ALREADY_DECIDED, current, f"Already decided{who}: {current.state.replace('_', ' ')}. Nothing more was changed.")

    async def _apply(self, proposal: Proposal, *, resuming: bool = False) -> Decision:
        now = self.clock()
        if proposal.state == APPROVED:
            claimed = await self.store.transition(proposal.id, [APPROVED], APPLYING, now=now)
            if claimed is None:
                current = await self.store.get(proposal.id)
                return Decision(Outcome.IN_PROGRESS, current, "This proposal is already being applied.")
            proposal = claimed

        try:
            live = await self.api.campaign(proposal.campaign_id)
        except PropellerAdsError as exc:
            return await self._finish(proposal, MANUAL_REVIEW, f"could not read the campaign before writing: {exc.detail}", error=exc)

        if resuming and live.daily_budget is not None and cents(live.daily_budget) == proposal.to_amount:
            # The write reached PropellerAds before the process stopped: record it, do not write again.
            return await self._finish(proposal, APPLIED, "confirmed after a restart: the live daily budget already matches")

        stale = _stale_reason(proposal, live) or await self._over_increase_cap(proposal)
        if stale:
            return await self._finish(proposal, STALE, stale)

        write_error: PropellerAdsError | None = None
        try:
            await self.api.set_daily_budget(proposal.campaign_id, proposal.to_amount)
            await failpoints.reached(failpoints.AFTER_PATCH)
        except PermissionDeniedError as exc:
            return await self._finish(proposal, FAILED, f"insufficient permissions: {exc.detail}", error=exc)
        except (ValidationError, NotFoundError) as exc:
            return await self._finish(proposal, MANUAL_REVIEW, f"PropellerAds refused the change: {exc.detail}", error=exc)
        except PropellerAdsError as exc:
            # A timeout or 5xx after retries: the write may or may not have landed. Verify decides.
            write_error = exc

        try:
            after = await self.api.campaign(proposal.campaign_id)
        except PropellerAdsError as exc:
            cause = write_error or exc
            return await self._finish(proposal, MANUAL_REVIEW, f"could not verify the change: {cause.detail}", error=cause)
        await failpoints.reached(failpoints.AFTER_VERIFY)
        if after.daily_budget is not None and cents(after.daily_budget) == proposal.to_amount:
            return await self._finish(proposal, APPLIED, "verified: the live daily budget matches")
        if isinstance(write_error, TransportError):
            # No answer is not a no: a write that timed out can still land after this re-read.
            unconfirmed = (
                f"PropellerAds did not confirm the change ({write_error.detail}) and still shows "
                f"{fmt_money(after.daily_budget)}; it may yet apply it. Check the campaign before changing it again"
            )
            return await self._finish(proposal, MANUAL_REVIEW, unconfirmed, error=write_error)
        if write_error is not None:
            return await self._finish(proposal, MANUAL_REVIEW, f"the change did not go through: {write_error.detail}", error=write_error)
        seen = fmt_money(after.daily_budget)
        return await self._finish(proposal, MANUAL_REVIEW, f"after the write PropellerAds shows a daily budget of {seen}, not {fmt_money(proposal.to_amount)}")

    async def _finish(
        self, proposal: Proposal, state: str, detail: str, *, error: PropellerAdsError | None = None
    ) -> Decision:
        now = self.clock()
        actor = proposal.decided_by or BOT_ACTOR
        action = {APPLIED: "applied", STALE: "stale", FAILED: "failed", MANUAL_REVIEW: "manual_review"}[state]
        done = await self.store.transition(
            proposal.id,
            [APPROVED, APPLYING],
            state,
            now=now,
            detail=detail,
            audit=audit_entry(proposal, now, actor, action, state, detail=detail),
        )
        final = done or await self.store.get(proposal.id)
        outcome = {APPLIED: Outcome.APPLIED, STALE: Outcome.STALE, FAILED: Outcome.FAILED, MANUAL_REVIEW: Outcome.MANUAL_REVIEW}[state]
        who = f"<@{proposal.decided_by}>" if proposal.decided_by else "the bot"
        amounts = f"{fmt_money(proposal.from_amount)} → {fmt_money(proposal.to_amount)}"
        said = detail.rstrip(".")  # the API's words often end in a full stop of their own
        message = {
            APPLIED: f"Approved by {who} and applied: daily budget {amounts}.",
            STALE: f"Approved by {who} but not applied: {said}. The proposal is stale; the next check will look again.",
            FAILED: f"Approved by {who} but PropellerAds refused the write: {said}.",
            MANUAL_REVIEW: f"Approved by {who}; needs manual review: {said}.",
        }[state]
        if error is not None:
            log.warning("proposal %s ended %s: %s", proposal.id, state, error)
        return Decision(
            outcome,
            final,
            message,
            write_denied=isinstance(error, PermissionDeniedError),
            api_words=error.detail if error is not None else None,
        )


    async def _over_increase_cap(self, proposal: Proposal) -> str | None:
        increase = proposal.to_amount - proposal.from_amount
        if self.max_daily_increase is None or increase <= 0:
            return None
        now = self.clock()
        used = await self.store.increased_on(now.date())
        if used + increase <= self.max_daily_increase:
            return None
        return (
            f"today's increases already add {fmt_money(used)} of the {fmt_money(self.max_daily_increase)} cap, "
            f"so {fmt_money(increase)} more would cross it"
        )


def _stale_reason(proposal: Proposal, live: Campaign) -> str | None:
    if not live.is_working:
        return f"the campaign is no longer working (now {live.status_label})"
    live_budget = None if live.daily_budget is None else cents(live.daily_budget)
    if live_budget != proposal.from_amount:
        return (
            f"the live daily budget is {fmt_money(live_budget)}, no longer the {fmt_money(proposal.from_amount)} "
            "this proposal started from"
        )
    return None
