"""The store's operations, each one short transaction: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.policy import Candidate
from core.store.tables import (
    APPLIED,
    EXPIRED,
    IN_FLIGHT_STATES,
    PENDING,
    REJECTED,
    SUPERSEDED,
    AlertRow,
    AuditRow,
    JobRunRow,
    ProposalRow,
)

BOT_ACTOR = "budget-bot"


def normalize_url(url: str) -> str:
    """Accepts the URLs people write and picks the async driver the store runs on."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


@dataclass(frozen=True)
class Proposal:
    id: int
    campaign_id: int
    campaign_name: str
    rule: str
    direction: str
    from_amount: Decimal
    to_amount: Decimal
    reason: str
    evidence: dict[str, Any]
    notes: list[str]
    state: str
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    channel: str | None
    message_ts: str | None
    detail: str | None

    @classmethod
    def of(cls, row: ProposalRow) -> "Proposal":
        return cls(
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
            state=row.state,
            created_at=row.created_at,
            expires_at=row.expires_at,
            updated_at=row.updated_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            channel=row.channel,
            message_ts=row.message_ts,
            detail=row.detail,
        )


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    campaign_id: int
    campaign_name: str
    actor: str
    action: str
    outcome: str
    proposal_id: int | None = None
    rule: str | None = None
    from_amount: Decimal | None = None
    to_amount: Decimal | None = None
    detail: str | None = None

    @classmethod
    def of(cls, row: AuditRow) -> "AuditEntry":
        return cls(
            at=row.at,
            campaign_id=row.campaign_id,
            campaign_name=row.campaign_name,
            actor=row.actor,
            action=row.action,
            outcome=row.outcome,
            proposal_id=row.proposal_id,
            rule=row.rule,
            from_amount=row.from_amount,
            to_amount=row.to_amount,
            detail=row.detail,
        )

    def row(self) -> AuditRow:
        return AuditRow(**{f: getattr(self, f) for f in self.__dataclass_fields__})


@dataclass(frozen=True)
class Alert:
    key: str
    severity: int
    active: bool
    summary: str
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None


@dataclass
class SaveOutcome:
    """What storing a check's candidates did: the new proposals and the ones they replaced."""

    created: list[Proposal] = field(default_factory=list)
    superseded: list[Proposal] = field(default_factory=list)
    kept: list[Proposal] = field(default_factory=list)


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str) -> "Store":
        url = normalize_url(url)
        if url.startswith("sqlite"):
            _ensure_parent_dir(url)
            engine = create_async_engine(url, connect_args={"timeout": 30})
            _serialize_sqlite_writes(engine)
        else:
            engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
        return cls(engine)

    async def migrate(self) -> None:
        from core.store.migrate import upgrade

        await upgrade(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()

    def session(self) -> AsyncSession:
        return self._sessions()

    # --- the scheduled-run ledger ----------------------------------------------------------

    async def claim_run(self, job: str, slot: str, owner: str, now: datetime) -> bool:
        """True for exactly one caller per (job, slot), across processes sharing the database."""
        try:
            async with self.session() as s, s.begin():
                s.add(JobRunRow(job=job, slot=slot, claimed_by=owner, claimed_at=now))
        except IntegrityError:
            return False
        return True

    # --- proposals ---------------------------------------------------------------------------

    async def save_candidates(
        self, candidates: Iterable[Candidate], *, now: datetime, ttl: timedelta
    ) -> SaveOutcome:
        """Stores a check's candidates as pending proposals.

        An undecided proposal with the same amounts, or with an amount an approver set from the
        same live budget, is kept rather than posted again; one with other amounts is superseded.
        A campaign with a change in flight, one changed by an applied proposal within the time to
        live, or the same change rejected within it, gets none.
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
        since = now - ttl
        # FOR UPDATE: a click committing between this read and the supersede below would otherwise
        # have its approval overwritten on PostgreSQL (SQLite's BEGIN IMMEDIATE already serializes).
        recent = (
            await s.scalars(
                select(ProposalRow)
                .where(
                    ProposalRow.campaign_id == c.campaign_id,
                    (ProposalRow.state.in_((PENDING, *IN_FLIGHT_STATES))) | (ProposalRow.updated_at >= since),
                )
                .with_for_update()
            )
        ).all()
        for row in recent:
            if row.state in IN_FLIGHT_STATES:
                return
            if row.state == APPLIED:
                return
            if row.state == REJECTED and (row.from_amount, row.to_amount) == (c.from_amount, c.to_amount):
                return
        pending = next((r for r in recent if r.state == PENDING), None)
        if pending is not None:
            same = (pending.from_amount, pending.to_amount) == (c.from_amount, c.to_amount)
            if same or await _amount_set_by_a_person(s, pending, c):
                outcome.kept.append(Proposal.of(pending))
                return
            pending.state = SUPERSEDED
            pending.updated_at = now
            pending.detail = "replaced by a newer check"
            s.add(_audit_for(pending, now, BOT_ACTOR, "superseded", SUPERSEDED))
            await s.flush()
            outcome.superseded.append(Proposal.of(pending))
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
            state=PENDING,
            created_at=now,
            expires_at=now + ttl,
            updated_at=now,
        )
        s.add(row)
        await s.flush()
        s.add(_audit_for(row, now, BOT_ACTOR, "proposed", PENDING))
        outcome.created.append(Proposal.of(row))

    async def get(self, proposal_id: int) -> Proposal | None:
        async with self.session() as s:
            row = await s.get(ProposalRow, proposal_id)
            return Proposal.of(row) if row else None

    async def proposals(self, states: Sequence[str], limit: int = 100) -> list[Proposal]:
        async with self.session() as s:
            rows = await s.scalars(
                select(ProposalRow).where(ProposalRow.state.in_(states)).order_by(ProposalRow.id).limit(limit)
            )
            return [Proposal.of(r) for r in rows]

    async def transition(
        self,
        proposal_id: int,
        from_states: Sequence[str],
        to_state: str,
        *,
        now: datetime,
        audit: AuditEntry | None = None,
        not_expired: bool = False,
        unchanged_since: datetime | None = None,
        **fields: Any,
    ) -> Proposal | None:
        """Moves a proposal between states atomically, with its audit entry in the same transaction.

        Returns the updated proposal, or None when it was not in one of `from_states` (another
        click, retry or replica got there first), so exactly one caller wins each transition.
        `unchanged_since` also requires it untouched since that `updated_at`.
        """
        async with self.session() as s, s.begin():
            conditions = [ProposalRow.id == proposal_id, ProposalRow.state.in_(from_states)]
            if not_expired:
                conditions.append(ProposalRow.expires_at > now)
            if unchanged_since is not None:
                conditions.append(ProposalRow.updated_at == unchanged_since)
            result = await s.execute(
                update(ProposalRow).where(*conditions).values(state=to_state, updated_at=now, **fields)
            )
            if result.rowcount != 1:
                return None
            if audit is not None:
                s.add(audit.row())
            row = await s.get(ProposalRow, proposal_id, populate_existing=True)
            assert row is not None
            return Proposal.of(row)

    async def set_message(self, proposal_id: int, channel: str, ts: str) -> None:
        async with self.session() as s, s.begin():
            await s.execute(update(ProposalRow).where(ProposalRow.id == proposal_id).values(channel=channel, message_ts=ts))

    async def expire_due(self, now: datetime) -> list[Proposal]:
        """Pending proposals past their time to live become expired."""
        expired: list[Proposal] = []
        async with self.session() as s:
            due = (
                await s.scalars(
                    select(ProposalRow.id).where(ProposalRow.state == PENDING, ProposalRow.expires_at <= now)
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
            [PENDING],
            EXPIRED,
            now=now,
            detail="nobody decided within its time to live",
            audit=audit_entry(proposal, now, BOT_ACTOR, "expired", EXPIRED),
        )

    # --- audit -------------------------------------------------------------------------------

    async def record(self, entry: AuditEntry) -> None:
        async with self.session() as s, s.begin():
            s.add(entry.row())

    async def history(self, campaign_id: int | None = None, limit: int = 20) -> list[AuditEntry]:
        async with self.session() as s:
            query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            if campaign_id is not None:
                query = query.where(AuditRow.campaign_id == campaign_id)
            return [AuditEntry.of(r) for r in await s.scalars(query)]

    async def increased_on(self, day: date) -> Decimal:
        """The sum of increases applied on a UTC day: what that day's increase cap has used."""
        return await self.increased_since(datetime.combine(day, time.min, tzinfo=timezone.utc))

    async def increased_since(self, since: datetime) -> Decimal:
        """The sum of applied increases since a time."""
        async with self.session() as s:
            rows = await s.execute(
                select(AuditRow.from_amount, AuditRow.to_amount).where(
                    AuditRow.action == "applied", AuditRow.at >= since
                )
            )
            return sum((to - frm for frm, to in rows if frm is not None and to is not None and to > frm), Decimal(0))

    # --- alerts ------------------------------------------------------------------------------

    async def alerts(self) -> dict[str, Alert]:
        async with self.session() as s:
            rows = await s.scalars(select(AlertRow))
            return {r.key: _alert(r) for r in rows}

    async def put_alert(
        self, key: str, *, severity: int, active: bool, summary: str, now: datetime, expected: Alert | None
    ) -> bool:
        """Writes an alert if it is still as the caller read it (`expected`, None: absent).

        False when another process changed it first: that process announces the change, not this one.
        """
        try:
            async with self.session() as s, s.begin():
                row = await s.get(AlertRow, key, with_for_update=True)
                if row is None or expected is None:
                    if row is not None or expected is not None:
                        return False
                    s.add(AlertRow(key=key, severity=severity, active=active, summary=summary, raised_at=now, updated_at=now))
                    return True
                if row.updated_at != expected.updated_at:
                    return False
                if active and not row.active:
                    row.raised_at = now
                    row.cleared_at = None
                if not active and row.active:
                    row.cleared_at = now
                # The stamp must move even on a frozen test clock, or a second writer would match it.
                stamp = max(now, row.updated_at + timedelta(microseconds=1))
                row.severity, row.active, row.summary, row.updated_at = severity, active, summary, stamp
                return True
        except IntegrityError:
            return False  # another process raised it first

    async def count(self, table: type[Any]) -> int:
        async with self.session() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def _amount_set_by_a_person(s: AsyncSession, pending: ProposalRow, c: Candidate) -> bool:
    """An approver edited the amount and the live budget has not moved since: their choice stands."""
    if pending.from_amount != c.from_amount:
        return False
    edited = await s.scalar(
        select(AuditRow.id).where(AuditRow.proposal_id == pending.id, AuditRow.action == "edited").limit(1)
    )
    return edited is not None


def _alert(row: AlertRow) -> Alert:
    return Alert(row.key, row.severity, row.active, row.summary, row.raised_at, row.updated_at, row.cleared_at)


def _evidence_json(c: Candidate) -> dict[str, Any]:
    e = c.evidence
    return {
        "window_days": e.window_days,
        "spent": str(e.spent),
        "conversions": e.conversions,
        "cpa": None if e.cpa is None else str(e.cpa),
        "target_cpa": str(e.target_cpa),
        "budget_use": None if e.budget_use is None else str(e.budget_use),
    }


def audit_entry(
    p: Proposal | ProposalRow, now: datetime, actor: str, action: str, outcome: str, *, detail: str | None = None
) -> AuditEntry:
    """The audit entry of something that happened to a proposal."""
    return AuditEntry(
        at=now,
        campaign_id=p.campaign_id,
        campaign_name=p.campaign_name,
        actor=actor,
        action=action,
        outcome=outcome,
        proposal_id=p.id,
        rule=p.rule,
        from_amount=p.from_amount,
        to_amount=p.to_amount,
        detail=detail,
    )


def _audit_for(row: ProposalRow, now: datetime, actor: str, action: str, outcome: str) -> AuditRow:
    return audit_entry(row, now, actor, action, outcome).row()


def _ensure_parent_dir(url: str) -> None:
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _serialize_sqlite_writes(engine: AsyncEngine) -> None:
    """SQLite allows one writer; BEGIN IMMEDIATE makes concurrent transactions queue instead of failing."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
