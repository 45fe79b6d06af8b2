"""The scheduled-run ledger: each job's fire time is claimed by one process across replicas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from core.store.database import Database
from core.store.tables import JobRunRow


class RunLedger(Database):
    async def claim_run(self, job: str, slot: str, owner: str, now: datetime) -> bool:
        """True for exactly one caller per (job, slot), across processes sharing the database."""
        try:
            async with self.session() as s, s.begin():
                s.add(JobRunRow(job=job, slot=slot, claimed_by=owner, claimed_at=now))
        except IntegrityError:
            return False
        return True

    async def has_run(self, job: str, slot: str) -> bool:
        async with self.session() as s:
            return await s.get(JobRunRow, (self.account, job, slot)) is not None
