"""Alert state: which conditions hold, since when, and what the channel was last told of each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.alerts import Alert
from core.store.database import Database
from core.store.tables import AlertRow


class AlertRecords(Database):
    async def alerts(self) -> dict[str, Alert]:
        """Every alert, the account's own before its campaigns' (keys with a campaign ID after a colon)."""
        async with self.session() as s:
            rows = await s.scalars(select(AlertRow).order_by(AlertRow.key.contains(":"), AlertRow.key))
            return {r.key: _alert(r) for r in rows}

    async def put_alert(
        self, key: str, *, severity: int, active: bool, summary: str, now: datetime, expected: Alert | None
    ) -> bool:
        """Writes an alert if it is still as the caller read it (`expected`, None: absent).

        False when another process changed it first.
        """
        try:
            async with self.session() as s, s.begin():
                row = await s.get(AlertRow, (self.account, key), with_for_update=True)
                if row is None or expected is None:
                    if row is not None or expected is not None:
                        return False
                    s.add(AlertRow(key=key, severity=severity, active=active, summary=summary, raised_at=now, updated_at=now))
                    return True
                if row.updated_at != expected.updated_at:
                    return False
                if active and not row.active:
                    row.raised_at = now  # cleared_at stays: a return soon after it is a flapping condition
                    row.acknowledged_by = None
                if not active and row.active:
                    row.cleared_at = now
                # The stamp must move even on a frozen test clock, or a second writer would match it.
                stamp = max(now, row.updated_at + timedelta(microseconds=1))
                row.severity, row.active, row.summary, row.updated_at = severity, active, summary, stamp
                return True
        except IntegrityError:
            return False  # another process raised it first

    async def claim_alerts_telling(self, keys: list[str], now: datetime, until: datetime) -> list[Alert]:
        """The right to tell these alerts until `until`, taken in one statement: of the alerts nobody
        else is telling, all go to one caller, so one check's new alerts stay together in one message."""
        if not keys:
            return []
        async with self.session() as s, s.begin():
            free = (AlertRow.telling_until.is_(None)) | (AlertRow.telling_until <= now)
            claimed = (
                await s.scalars(
                    update(AlertRow).where(AlertRow.key.in_(keys), free).values(telling_until=until).returning(AlertRow)
                )
            ).all()
            return [_alert(row) for row in claimed]

    async def alert_told(
        self, key: str, told: tuple[int, bool] | None, *, message: tuple[str, str] | None = None
    ) -> None:
        """Records what the channel heard (severity, holding) and releases the claim; None: nothing got through.

        `message` is the (channel, ts) of a first telling, where later changes are threaded.
        """
        values: dict[str, Any] = {"telling_until": None}
        if told is not None:
            values.update(told_severity=told[0], told_active=told[1])
        if message is not None:
            values.update(message_channel=message[0], message_ts=message[1])
        async with self.session() as s, s.begin():
            await s.execute(update(AlertRow).where(AlertRow.key == key).values(**values))

    async def snooze_alert(self, key: str, user: str, until: datetime | None) -> Alert | None:
        """Snoozes an alert until a time (None: acknowledges it instead); None when no such alert."""
        values: dict[str, Any] = (
            {"snoozed_until": until, "snoozed_by": user} if until is not None else {"acknowledged_by": user}
        )
        async with self.session() as s, s.begin():
            result = await s.execute(update(AlertRow).where(AlertRow.key == key).values(**values))
            if result.rowcount != 1:
                return None
            row = await s.get(AlertRow, (self.account, key), populate_existing=True)
            return None if row is None else _alert(row)

    async def alerts_in_message(self, channel: str, ts: str) -> list[Alert]:
        async with self.session() as s:
            rows = await s.scalars(
                select(AlertRow)
                .where(AlertRow.message_channel == channel, AlertRow.message_ts == ts)
                .order_by(AlertRow.severity.desc(), AlertRow.key)
            )
            return [_alert(r) for r in rows]


def _alert(row: AlertRow) -> Alert:
    return Alert(
        row.key, row.severity, row.active, row.summary, row.raised_at, row.updated_at, row.cleared_at,
        row.told_severity, row.told_active, row.message_channel, row.message_ts, row.snoozed_until,
        row.snoozed_by, row.acknowledged_by,
    )
