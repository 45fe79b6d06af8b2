"""Decisions on proposals: approvals, rejections, edits, reconciliation, and telling the channel of proposals."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
import json
from dataclasses import replace
from decimal import Decimal

from core import alerts as alert_rules
from core.alerts import AlertChange
from core.errors import PropellerAdsError
from core.money import fmt_money, parse_amount
from core.policy import Candidate, Direction, Evidence, Refusal, apply_guardrails
from core.proposals import TELLING_HOLD, AuditAction, AuditEntry, Decision, Outcome, Proposal, ProposalState
from core.service.values import EditResult
from core.service.reads import ServiceParts, campaign_id_in

PENDING = ProposalState.PENDING

log = logging.getLogger(__name__)


class Decisions(ServiceParts):
    """Approving, rejecting and editing proposals, finishing what stopped processes left, and posting proposals once."""

    async def proposal_account(self, proposal_id: int) -> str | None:
        """Which ad account proposal `proposal_id` belongs to (a click names the proposal, not the account)."""
        return await self.store.account_of_proposal(proposal_id)

    def may_decide(self, user: str) -> bool:
        return user in self.config.approvers

    async def decide(
        self, proposal_id: int, user: str, *, approve: bool, version: int | None = None
    ) -> tuple[Decision, list[AlertChange]]:
        """An approver's click, bound to the version of the proposal they saw (None: whatever it is now)."""
        if not self.may_decide(user):
            return Decision(Outcome.NOT_ALLOWED, await self.store.get(proposal_id), user), []
        if not approve:
            return await self.executor.reject(proposal_id, user, version=version), []
        decision = await self.executor.approve(proposal_id, user, version=version)
        return decision, await self._after_write(decision)

    async def undo(self, proposal_id: int, user: str) -> tuple[Decision, list[AlertChange]]:
        """An approver's Undo of an applied change."""
        if not self.may_decide(user):
            return Decision(Outcome.NOT_ALLOWED, await self.store.get(proposal_id), user), []
        decision = await self.executor.undo(proposal_id, user)
        return decision, await self._after_write(decision)

    async def reconcile(self) -> list[tuple[Decision, list[AlertChange]]]:
        """Finishes proposals a stopped process left approved or mid-apply; raises if PropellerAds fails."""
        decisions = await self.executor.reconcile()
        return [(d, await self._after_write(d)) for d in decisions]

    async def next_lapse(self) -> datetime | None:
        """When an apply left by a stopped process may be finished, if one waits for its lease to lapse."""
        return await self.store.next_lapse(self.executor.lease)

    async def reconcile_quietly(self) -> list[tuple[Decision, list[AlertChange]]]:
        """Reconciles, but an unreachable ad platform must not stop a check or a start-up."""
        try:
            return await self.reconcile()
        except PropellerAdsError as exc:
            log.warning("could not reconcile proposals: %s", exc)
            return []

    async def _after_write(self, decision: Decision) -> list[AlertChange]:
        if decision.changed_budget:
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

    async def open_edit(self, proposal_id: int | None, user: str) -> EditResult:
        """The proposal an approver may edit now, or why not."""
        if not self.may_decide(user):
            return EditResult(None, "Only the configured approvers can change a proposal.")
        proposal = await self.store.get(proposal_id) if proposal_id is not None else None
        if proposal is None or proposal.state is not PENDING:
            return EditResult(proposal, "This proposal is no longer pending.")
        return EditResult(proposal)

    async def edit_amount(self, proposal_id: int, user: str, text: str, *, version: int | None = None) -> EditResult:
        """Changes a pending proposal's amount, re-checked against the guardrails; the edit moves its version."""
        opened = await self.open_edit(proposal_id, user)
        proposal = opened.proposal
        if opened.error or proposal is None:
            return opened
        if version is not None and version != proposal.version:
            return EditResult(proposal, "This proposal changed since you opened it; open Edit amount again.")
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
            bound = "most" if guarded.to_amount < amount else "least"
            return EditResult(proposal, f"The guardrails allow at {bound} {fmt_money(guarded.to_amount)} ({'; '.join(guarded.notes)}).")
        edited = await self.store.transition(
            proposal_id, [PENDING], PENDING, now=now, not_expired=True, version=proposal.version, bump_version=True,
            to_amount=amount, direction=wanted.direction.value, edited_by=user,
            notes=json.dumps([f"it was {fmt_money(proposal.to_amount)}"]),
            audit=AuditEntry.of(replace(proposal, to_amount=amount), now, user, AuditAction.EDITED,
                                detail=f"it was {fmt_money(proposal.to_amount)}"),
        )
        if edited is None:
            return EditResult(await self.store.get(proposal_id), "This proposal changed or is no longer pending; open it again.")
        return EditResult(edited)


    async def pending_proposals(self) -> list[Proposal]:
        return await self.store.proposals([PENDING])

    async def history(self, query: str = "", limit: int = 20) -> list[AuditEntry]:
        """The audit log, newest first: all of it, one campaign's by ID, or by a part of the campaign's name."""
        query = query.strip()
        if not query:
            return await self.store.history(limit=limit)
        campaign_id = campaign_id_in(query)
        if campaign_id is not None:
            # Past the 64-bit range no campaign exists, and the database refuses the number.
            return await self.store.history(campaign_id, limit=limit) if campaign_id < 2**63 else []
        needle = query.casefold()
        return [e for e in await self.store.history(limit=500) if needle in e.campaign_name.casefold()][:limit]

    async def claim_run(
        self, job: str, slot: str, owner: str, at: datetime, *, stale_after: timedelta | None = None
    ) -> bool:
        """True for exactly one process per scheduled job and fire time of this account (and, with
        `stale_after`, for one other once the claim's process has left it unfinished that long)."""
        return await self.store.claim_run(job, slot, owner, at, stale_after=stale_after)

    async def finish_run(self, job: str, slot: str, owner: str, at: datetime) -> bool:
        return await self.store.finish_run(job, slot, owner, at)

    async def has_run(
        self, job: str, slot: str, *, now: datetime | None = None, stale_after: timedelta | None = None
    ) -> bool:
        return await self.store.has_run(job, slot, now=now, stale_after=stale_after)

    async def tell_proposals(
        self,
        post: Callable[[Proposal], Awaitable[tuple[str, str] | None]],
        redraw: Callable[[Proposal], Awaitable[bool]],
    ) -> None:
        """Posts each pending proposal, notice and automatic change once, and redraws each message behind its
        proposal's state, once across replicas."""
        now = self.clock()
        for untold in await self.store.untold(now):
            claimed = await self.store.claim_telling(untold.id, now, now + TELLING_HOLD)
            if claimed is None:
                continue  # another process is posting it
            shown: ProposalState | None = None
            where: tuple[str, str] | None = None
            try:
                if claimed.message_ts is None:
                    if (where := await post(claimed)) is not None:
                        shown = claimed.state
                elif claimed.shown is not claimed.state and await redraw(claimed):
                    shown = claimed.state
            finally:
                channel, ts = where or (None, None)
                await self.store.told(claimed.id, shown, channel=channel, ts=ts)

    async def shown(self, proposal: Proposal, *, redrawn: bool = True) -> None:
        """The decider redrew the proposal's message (or could not): a later check redraws it only if not."""
        await self.store.told(proposal.id, proposal.state if redrawn else None)
