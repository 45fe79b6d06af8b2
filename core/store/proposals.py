"""Proposals in the store: saving a check's candidates, state transitions, approval units, leases, telling."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.policy import Candidate
from core.proposals import (
    BOT_ACTOR,
    COUNTS_AGAINST_CAP,
    IN_FLIGHT,
    OPEN,
    ActionKind,
    AuditAction,
    AuditEntry,
    Proposal,
    ProposalState,
    RuleMode,
)
from core.store.audit import audit_row
from core.store.database import Database
from core.store.tables import AuditRow, ProposalRow

# Any fixed number, moved by the account's hash: on PostgreSQL the approvals of one account take turns at
# checking today's increase cap, while another account's go their own way.
APPROVAL_LOCK_ID = 7_305_512_002


def proposal_of(row: ProposalRow) -> Proposal:
    return Proposal(
        id=row.id,
        campaign_id=row.campaign_id,
        campaign_name=row.campaign_name,
        rule=row.rule,
        direction=row.direction,
        from_amount=row.from_amount,
        to_amount=row.to_amount,
        reason=row.reason,
        evidence=json.loads(row.evidence or "{}"),
        notes=json.loads(row.notes or "[]"),
        state=ProposalState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        channel=row.channel,
        message_ts=row.message_ts,
        detail=row.detail,
        version=row.version or 1,
        action=ActionKind(row.action or ActionKind.SET_DAILY_BUDGET),
        edited_by=row.edited_by,
        shown=ProposalState(row.shown_state) if row.shown_state else None,
        undoes=row.undoes,
        mode=RuleMode(row.mode or RuleMode.PROPOSE),
    )


@dataclass
class SaveOutcome:
    """What storing a check's candidates did: the new proposals and the ones they replaced."""

    created: list[Proposal] = field(default_factory=list)
    superseded: list[Proposal] = field(default_factory=list)
    kept: list[Proposal] = field(default_factory=list)


class ApprovalUnit:
    """One approval's check-and-claim: a transaction the database serializes against every other.

    On SQLite every write transaction begins IMMEDIATE (one writer at a time); on PostgreSQL the unit
    takes a transaction-scoped advisory lock. Either way two approvals cannot both read today's
    increases and both claim room under the cap.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.s = session

    async def proposal(self, proposal_id: int) -> ProposalRow | None:
        return await self.s.get(ProposalRow, proposal_id, with_for_update=True)

    async def increases(self, since: datetime, *, excluding: int) -> tuple[Decimal, Decimal]:
        """(applied since `since`, approved and not yet known to have failed): today's increases so far.

        One statement, so one snapshot: an apply finishing between two reads would otherwise leave
        both of them, the applied ones and the open ones, and go uncounted.
        """
        applied = (
            select(_increase_sum(AuditRow))
            .where(AuditRow.action == str(AuditAction.APPLIED), AuditRow.at >= since)
            .scalar_subquery()
        )
        open_ = (
            select(_increase_sum(ProposalRow))
            .where(ProposalRow.state.in_([str(s) for s in COUNTS_AGAINST_CAP]), ProposalRow.id != excluding)
            .scalar_subquery()
        )
        row = (await self.s.execute(select(applied, open_))).one()
        return _from_cents(row[0]), _from_cents(row[1])

    async def open_undo(self, original: Proposal, user: str, now: datetime, **claim: Any) -> ProposalRow | None:
        """Inserts the undo of an applied proposal, approved by `user` and claimed for writing.

        None when it was undone already, or another change of the campaign is in flight. A pending
        proposal for the campaign is superseded: the person just decided what its budget should be.
        """
        undone = await self.s.scalar(
            select(ProposalRow.id).where(
                ProposalRow.undoes == original.id,
                ProposalRow.state.in_([str(st) for st in (*OPEN, ProposalState.APPLIED)]),
            )
        )
        if undone is not None:
            return None
        for pending in await self.s.scalars(
            select(ProposalRow).where(
                ProposalRow.campaign_id == original.campaign_id, ProposalRow.state == str(ProposalState.PENDING)
            )
        ):
            self.move(pending, ProposalState.SUPERSEDED, now,
                      AuditEntry.of(proposal_of(pending), now, BOT_ACTOR, AuditAction.SUPERSEDED,
                                    outcome=ProposalState.SUPERSEDED),
                      detail="replaced by an undo")
        row = ProposalRow(
            campaign_id=original.campaign_id,
            campaign_name=original.campaign_name,
            rule=f"undo of #{original.id}",
            direction="decrease" if original.to_amount > original.from_amount else "increase",
            from_amount=original.to_amount,
            to_amount=original.from_amount,
            reason=f"Undo of proposal #{original.id}.",
            evidence="{}",
            notes="[]",
            state=str(ProposalState.APPLYING),
            created_at=now,
            expires_at=now,
            updated_at=now,
            version=1,
            action=str(ActionKind(original.action).inverse),
            undoes=original.id,
            decided_by=user,
            decided_at=now,
            **claim,
        )
        try:
            async with self.s.begin_nested():
                self.s.add(row)
                await self.s.flush()
        except IntegrityError:
            return None
        undo = proposal_of(row)
        self.s.add(audit_row(AuditEntry.of(undo, now, user, AuditAction.APPROVED, outcome=ProposalState.APPROVED,
                                           detail=f"undo of #{original.id}")))
        return row

    def move(self, row: ProposalRow, state: ProposalState, now: datetime, *audit: AuditEntry, **fields: Any) -> Proposal:
        row.state = str(state)
        row.updated_at = max(now, row.updated_at + timedelta(microseconds=1))
        for name, value in fields.items():
            setattr(row, name, value)
        for entry in audit:
            self.s.add(audit_row(entry))
        return proposal_of(row)


class ProposalRecords(Database):
    async def save_candidates(
        self, candidates: Iterable[Candidate], *, now: datetime, ttl: timedelta
    ) -> SaveOutcome:
        """Stores a check's candidates as pending proposals.

        An undecided proposal with the same amounts, or with an amount an approver set from the
        same live budget, is kept rather than posted again; one with other amounts is superseded.
        A campaign with a change in flight or unconfirmed, one changed by an applied proposal within
        the time to live, or the same change rejected within it, gets none.
        """
        outcome = SaveOutcome()
        for candidate in candidates:
            try:
                async with self.session() as s, s.begin():
                    await self._save_one(s, candidate, now, ttl, outcome)
            except IntegrityError:
                continue  # another replica opened a proposal for this campaign first
        return outcome

    async def _save_one(
        self, s: AsyncSession, c: Candidate, now: datetime, ttl: timedelta, outcome: SaveOutcome
    ) -> None:
        if c.cooldown is not None and await self._cooling(s, c, now - c.cooldown):
            return
        if c.mode is RuleMode.NOTIFY:
            # Told, never written: it neither waits for a decision nor stands in another proposal's way.
            outcome.created.append(await self._add_proposal(s, c, now, ttl, ProposalState.NOTIFIED))
            return
        since = now - ttl
        # FOR UPDATE: a click committing between this read and the supersede below would otherwise
        # have its approval overwritten on PostgreSQL (SQLite's BEGIN IMMEDIATE already serializes).
        recent = (
            await s.scalars(
                select(ProposalRow)
                .where(
                    ProposalRow.campaign_id == c.campaign_id,
                    (ProposalRow.state.in_([str(st) for st in OPEN])) | (ProposalRow.updated_at >= since),
                )
                .with_for_update()
            )
        ).all()
        for row in recent:
            state = ProposalState(row.state)
            if state in OPEN and state is not ProposalState.PENDING:
                return  # being applied, or its write is not confirmed yet: the campaign rests
            if state is ProposalState.APPLIED:
                return
            if state is ProposalState.REJECTED and (row.from_amount, row.to_amount) == (c.from_amount, c.to_amount):
                return
        pending = next((r for r in recent if r.state == ProposalState.PENDING), None)
        if pending is not None:
            same = (pending.from_amount, pending.to_amount) == (c.from_amount, c.to_amount)
            if same or (pending.edited_by is not None and pending.from_amount == c.from_amount):
                # Same change, or an approver's own amount from the same live budget: their choice stands.
                outcome.kept.append(proposal_of(pending))
                return
            pending.state = str(ProposalState.SUPERSEDED)
            pending.updated_at = now
            pending.detail = "replaced by a newer check"
            s.add(audit_row(AuditEntry.of(proposal_of(pending), now, BOT_ACTOR, AuditAction.SUPERSEDED)))
            await s.flush()
            outcome.superseded.append(proposal_of(pending))
        outcome.created.append(await self._add_proposal(s, c, now, ttl, ProposalState.PENDING))

    async def _add_proposal(self, s: AsyncSession, c: Candidate, now: datetime, ttl: timedelta, state: ProposalState) -> Proposal:
        row = ProposalRow(
            campaign_id=c.campaign_id,
            campaign_name=c.campaign_name,
            rule=c.rule,
            direction=c.direction.value,
            from_amount=c.from_amount,
            to_amount=c.to_amount,
            reason=c.reason,
            evidence=json.dumps(_evidence_json(c)),
            notes=json.dumps(list(c.notes)),
            state=str(state),
            created_at=now,
            expires_at=now + ttl,
            updated_at=now,
            version=1,
            action=str(c.action),
            mode=str(c.mode),
        )
        s.add(row)
        await s.flush()
        created = proposal_of(row)
        s.add(audit_row(AuditEntry.of(created, now, BOT_ACTOR, AuditAction.PROPOSED)))
        return created

    async def _cooling(self, s: AsyncSession, c: Candidate, since: datetime) -> bool:
        """Whether the rule fired for the campaign since then (a proposal still pending is judged afresh)."""
        fired = await s.scalar(
            select(ProposalRow.id).where(
                ProposalRow.rule == c.rule,
                ProposalRow.campaign_id == c.campaign_id,
                ProposalRow.created_at >= since,
                ProposalRow.state.not_in([str(ProposalState.PENDING), str(ProposalState.SUPERSEDED)]),
            ).limit(1)
        )
        return fired is not None

    async def note_held(self, proposal_ids: Sequence[int], why: str) -> None:
        """Why pending proposals of rules in auto mode wait for a person, for their message to say."""
        if not proposal_ids:
            return
        async with self.session() as s, s.begin():
            await s.execute(
                update(ProposalRow)
                .where(ProposalRow.id.in_(list(proposal_ids)), ProposalRow.state == str(ProposalState.PENDING))
                .values(detail=why)
            )

    async def get(self, proposal_id: int) -> Proposal | None:
        async with self.session() as s:
            row = await s.get(ProposalRow, proposal_id)
            return proposal_of(row) if row else None

    async def proposals(self, states: Sequence[ProposalState], limit: int = 100) -> list[Proposal]:
        async with self.session() as s:
            rows = await s.scalars(
                select(ProposalRow)
                .where(ProposalRow.state.in_([str(st) for st in states]))
                .order_by(ProposalRow.id)
                .limit(limit)
            )
            return [proposal_of(r) for r in rows]

    async def undo_of(self, proposal_id: int) -> Proposal | None:
        """The undo under way or applied of a proposal, if it has one."""
        async with self.session() as s:
            row = await s.scalar(
                select(ProposalRow).where(
                    ProposalRow.undoes == proposal_id,
                    ProposalRow.state.in_([str(st) for st in (*OPEN, ProposalState.APPLIED)]),
                )
            )
            return proposal_of(row) if row is not None else None

    @asynccontextmanager
    async def approval_unit(self) -> AsyncIterator[ApprovalUnit]:
        """The unit of work an approval's check-and-claim runs in; it commits when the block ends without error."""
        async with self.session() as s, s.begin():
            if s.bind.dialect.name == "postgresql":
                await s.execute(
                    text("SELECT pg_advisory_xact_lock(:id + hashtext(:account))"),
                    {"id": APPROVAL_LOCK_ID, "account": self.account},
                )
            yield ApprovalUnit(s)

    async def transition(
        self,
        proposal_id: int,
        from_states: Sequence[ProposalState],
        to_state: ProposalState,
        *,
        now: datetime,
        audit: AuditEntry | None = None,
        not_expired: bool = False,
        version: int | None = None,
        bump_version: bool = False,
        lease_owner: str | None = None,
        **fields: Any,
    ) -> Proposal | None:
        """Moves a proposal between states atomically, with its audit entry in the same transaction.

        Returns the updated proposal, or None when it was not in one of `from_states` (another
        click, retry or replica got there first), so exactly one caller wins each transition.
        `version` also requires that version (`bump_version` moves it on), `lease_owner` that the
        caller still holds the lease.
        """
        async with self.session() as s, s.begin():
            conditions = [ProposalRow.id == proposal_id, ProposalRow.state.in_([str(st) for st in from_states])]
            if not_expired:
                conditions.append(ProposalRow.expires_at > now)
            if version is not None:
                conditions.append(ProposalRow.version == version)
            if lease_owner is not None:
                conditions.append(ProposalRow.lease_owner == lease_owner)
            if bump_version:
                fields["version"] = ProposalRow.version + 1
            result = await s.execute(
                update(ProposalRow).where(*conditions).values(state=str(to_state), updated_at=now, **fields)
            )
            if result.rowcount != 1:
                return None
            if audit is not None:
                s.add(audit_row(audit))
            row = await s.get(ProposalRow, proposal_id, populate_existing=True)
            assert row is not None
            return proposal_of(row)

    # --- leases: who is applying (or confirming) a proposal -----------------------------------------

    async def renew_lease(self, proposal_id: int, owner: str, until: datetime) -> bool:
        """Extends the caller's lease; False when it is no longer the caller's."""
        async with self.session() as s, s.begin():
            result = await s.execute(
                update(ProposalRow)
                .where(ProposalRow.id == proposal_id, ProposalRow.lease_owner == owner)
                .values(lease_until=until)
            )
            return result.rowcount == 1

    async def lapsed(self, now: datetime, lease: timedelta) -> list[Proposal]:
        """Approved, applying or unconfirmed proposals whose lease has lapsed: nobody is working on them."""
        async with self.session() as s:
            rows = await s.scalars(
                select(ProposalRow)
                .where(
                    ProposalRow.state.in_([str(st) for st in (*IN_FLIGHT, ProposalState.UNCONFIRMED)]),
                    (ProposalRow.lease_until <= now)
                    | (ProposalRow.lease_until.is_(None) & (ProposalRow.updated_at <= now - lease)),
                )
                .order_by(ProposalRow.id)
            )
            return [proposal_of(r) for r in rows]

    async def next_lapse(self, lease: timedelta) -> datetime | None:
        """When the first lease of an approved or applying proposal lapses, if any is held."""
        async with self.session() as s:
            rows = await s.execute(
                select(ProposalRow.lease_until, ProposalRow.updated_at).where(
                    ProposalRow.state.in_([str(st) for st in IN_FLIGHT])
                )
            )
            times = [until or updated + lease for until, updated in rows]
        return min(times, default=None)

    async def take_over(self, proposal: Proposal, owner: str, now: datetime, until: datetime) -> Proposal | None:
        """Takes a lapsed proposal's lease; None when another process took it, or it moved, first."""
        async with self.session() as s, s.begin():
            row = await s.get(ProposalRow, proposal.id, with_for_update=True)
            if row is None or row.state != proposal.state or row.updated_at != proposal.updated_at:
                return None
            if row.lease_until is not None and row.lease_until > now:
                return None
            row.lease_owner, row.lease_until = owner, until
            row.updated_at = max(now, row.updated_at + timedelta(microseconds=1))
            await s.flush()
            return proposal_of(row)

    # --- telling the channel: each proposal's message posted once, and kept up to date -------------

    async def untold(self, now: datetime) -> list[Proposal]:
        """Proposals whose message is missing (pending, a notice, what a rule did on its own) or shows an earlier
        state, and nobody is posting.

        One being applied is left to the process applying it: its message changes when the apply ends.
        """
        async with self.session() as s:
            rows = await s.scalars(
                select(ProposalRow)
                .where(
                    (ProposalRow.telling_until.is_(None)) | (ProposalRow.telling_until <= now),
                    (
                        ProposalRow.message_ts.is_(None)
                        & (
                            ProposalRow.state.in_([str(ProposalState.PENDING), str(ProposalState.NOTIFIED)])
                            # What a rule did on its own is told once it is done, with its Undo.
                            | ((ProposalRow.mode == str(RuleMode.AUTO)) & (ProposalRow.decided_by == BOT_ACTOR)
                               & ProposalRow.state.not_in([str(st) for st in IN_FLIGHT]))
                        )
                    )
                    | (
                        ProposalRow.message_ts.is_not(None)
                        & (ProposalRow.shown_state != ProposalRow.state)
                        & ProposalRow.state.not_in([str(st) for st in IN_FLIGHT])
                    ),
                )
                .order_by(ProposalRow.id)
            )
            return [proposal_of(r) for r in rows]

    async def claim_telling(self, proposal_id: int, now: datetime, until: datetime) -> Proposal | None:
        """The right to post or redraw this proposal's message until `until`; None when another holds it."""
        async with self.session() as s, s.begin():
            free = (ProposalRow.telling_until.is_(None)) | (ProposalRow.telling_until <= now)
            result = await s.execute(
                update(ProposalRow).where(ProposalRow.id == proposal_id, free).values(telling_until=until)
            )
            if result.rowcount != 1:
                return None
            row = await s.get(ProposalRow, proposal_id, populate_existing=True)
            return None if row is None else proposal_of(row)

    async def told(self, proposal_id: int, shown: ProposalState | None, *, channel: str | None = None,
                   ts: str | None = None) -> None:
        """Records what the message now shows (None: it could not be posted) and releases the claim."""
        values: dict[str, Any] = {"telling_until": None}
        if shown is not None:
            values["shown_state"] = str(shown)
        if ts is not None:
            values.update(channel=channel, message_ts=ts)
        async with self.session() as s, s.begin():
            await s.execute(update(ProposalRow).where(ProposalRow.id == proposal_id).values(**values))

    async def expire_due(self, now: datetime) -> list[Proposal]:
        """Pending proposals past their time to live become expired."""
        expired: list[Proposal] = []
        async with self.session() as s:
            due = (
                await s.scalars(
                    select(ProposalRow.id).where(
                        ProposalRow.state == str(ProposalState.PENDING), ProposalRow.expires_at <= now
                    )
                )
            ).all()
        for proposal_id in due:
            current = await self.get(proposal_id)
            if current is not None and (done := await self.expire(current, now)):
                expired.append(done)
        return expired

    async def expire(self, proposal: Proposal, now: datetime) -> Proposal | None:
        """Marks a pending proposal expired, with its audit entry; None when it was no longer pending."""
        return await self.transition(
            proposal.id,
            [ProposalState.PENDING],
            ProposalState.EXPIRED,
            now=now,
            detail="nobody decided within its time to live",
            audit=AuditEntry.of(proposal, now, BOT_ACTOR, AuditAction.EXPIRED, outcome=ProposalState.EXPIRED),
        )

    async def increased_since(self, since: datetime) -> Decimal:
        """What counts against the increase cap since a time: applied increases, and those approved or unconfirmed."""
        async with self.session() as s:
            return sum(await ApprovalUnit(s).increases(since, excluding=0), Decimal(0))

    async def account_of_proposal(self, proposal_id: int) -> str | None:
        """The ad account a proposal belongs to, whichever account this store is limited to; None when none has it."""
        async with self.session_across_accounts() as s:
            return await s.scalar(select(ProposalRow.account).where(ProposalRow.id == proposal_id))


def _increase_sum(table: type[AuditRow] | type[ProposalRow]) -> Any:
    """The increases among the rows, in whole cents (as the Cents columns hold them)."""
    raised = case((table.to_amount > table.from_amount, table.to_amount - table.from_amount), else_=0)
    return func.coalesce(func.sum(raised), 0)


def _from_cents(value: Any) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(Decimal("0.01"))


def _evidence_json(c: Candidate) -> dict[str, Any]:
    e = c.evidence
    found: dict[str, Any] = {
        "window_days": e.window_days,
        "spent": str(e.spent),
        "conversions": e.conversions,
        "cpa": None if e.cpa is None else str(e.cpa),
        "target_cpa": None if e.target_cpa is None else str(e.target_cpa),
        "budget_use": None if e.budget_use is None else str(e.budget_use),
    }
    if e.window is not None:
        found["window"] = e.window
    return found
