"""The audit log: what happened to each proposal, by whom and when, newest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core.proposals import AuditEntry
from core.store.database import Database
from core.store.tables import AuditRow


def audit_of(row: AuditRow) -> AuditEntry:
    return AuditEntry(
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


def audit_row(entry: AuditEntry) -> AuditRow:
    return AuditRow(**{f: getattr(entry, f) for f in entry.__dataclass_fields__})


class AuditLog(Database):
    async def record(self, entry: AuditEntry) -> None:
        async with self.session() as s, s.begin():
            s.add(audit_row(entry))

    async def history(self, campaign_id: int | None = None, limit: int = 20) -> list[AuditEntry]:
        async with self.session() as s:
            query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            if campaign_id is not None:
                query = query.where(AuditRow.campaign_id == campaign_id)
            return [audit_of(r) for r in await s.scalars(query)]

    async def audit_since(self, since: datetime) -> list[AuditEntry]:
        """Every entry from `since` on, newest first."""
        async with self.session() as s:
            query = select(AuditRow).where(AuditRow.at >= since).order_by(AuditRow.at.desc(), AuditRow.id.desc())
            return [audit_of(r) for r in await s.scalars(query)]
