"""The scheduled-run ledger: each account's job for a fire time is claimed by one process across replicas.

A claim records when its run finished. A claim left unfinished longer than a timeout belongs to a replica
that died mid-run: one other replica may take it over, by an UPDATE whose condition the database checks
against the row as committed, so two replicas racing for it cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from core.store.database import Database
from core.store.tables import JobRunRow


class RunLedger(Database):
    async def claim_run(
        self, job: str, slot: str, owner: str, now: datetime, *, stale_after: timedelta | None = None
    ) -> bool:
        """True for exactly one caller per (account, job, slot), across processes sharing the database; with
        `stale_after`, also for one caller once the claim has stayed unfinished that long."""
        try:
            async with self.session() as s, s.begin():
                s.add(JobRunRow(job=job, slot=slot, claimed_by=owner, claimed_at=now))
            return True
        except IntegrityError:
            if stale_after is None:
                return False
        return await self._take_over(job, slot, owner, now, now - stale_after)

    async def _take_over(self, job: str, slot: str, owner: str, now: datetime, claimed_before: datetime) -> bool:
        async with self.session() as s, s.begin():
            result = await s.execute(
                update(JobRunRow)
                .where(
                    JobRunRow.job == job,
                    JobRunRow.slot == slot,
                    JobRunRow.finished_at.is_(None),
                    JobRunRow.claimed_at <= claimed_before,
                )
                .values(claimed_by=owner, claimed_at=now)
            )
            return result.rowcount == 1

    async def finish_run(self, job: str, slot: str, owner: str, now: datetime) -> bool:
        """Records that the caller's run ended; False when its claim was taken over meanwhile."""
        async with self.session() as s, s.begin():
            result = await s.execute(
                update(JobRunRow)
                .where(JobRunRow.job == job, JobRunRow.slot == slot, JobRunRow.claimed_by == owner)
                .values(finished_at=now)
            )
            return result.rowcount == 1

    async def has_run(
        self, job: str, slot: str, *, now: datetime | None = None, stale_after: timedelta | None = None
    ) -> bool:
        """Whether the run was claimed; with `stale_after`, a claim left unfinished that long before `now` counts
        as not run (its replica died), so that it is made up for."""
        async with self.session() as s:
            row = await s.get(JobRunRow, (self.account, job, slot))
        if row is None:
            return False
        if stale_after is None or now is None or row.finished_at is not None:
            return True
        return row.claimed_at > now - stale_after
