"""Alert state: which conditions hold, since when, and what the channel was last told of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.store.database import Database
from core.store.tables import AlertRow


@dataclass(frozen=True)
class Alert:
    key: str
    severity: int
    active: bool
    summary: str
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    told_severity: int | None = None
    told_active: bool | None = None
    """What the channel last heard: None when it heard nothing of this alert yet."""


class AlertRecords(Database):
    async def alerts(self) -> dict[str, Alert]:
        async with self.session() as s:
            rows = await s.scalars(select(AlertRow))
            return {r.key: _alert(r) for r in rows}

    async def put_alert(
        self, key: str, *, severity: int, active: bool, summary: str, now: datetime, expected: Alert | None
    ) -> bool:
        """Writes an alert if it is still as the caller read it (`expected`, None: absent).

        False when another process changed it first.
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

    async def claim_alert_telling(self, key: str, now: datetime, until: datetime) -> Alert | None:
        """The right to announce this alert's change until `until`; None when another process holds it."""
        row = await self.claim_telling_of(AlertRow, key, now, until)
        return None if row is None else _alert(row)

    async def alert_told(self, key: str, told: tuple[int, bool] | None) -> None:
        """Records what the channel heard (severity, holding) and releases the claim; None: nothing got through."""
        values: dict[str, Any] = {"telling_until": None}
        if told is not None:
            values.update(told_severity=told[0], told_active=told[1])
        async with self.session() as s, s.begin():
            await s.execute(update(AlertRow).where(AlertRow.key == key).values(**values))


def _alert(row: AlertRow) -> Alert:
    return Alert(
        row.key, row.severity, row.active, row.summary, row.raised_at, row.updated_at, row.cleared_at,
        row.told_severity, row.told_active,
    )
