"""What rules that act need remembered: the team's switches, automatic actions counted, and when each rule fired."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.proposals import BOT_ACTOR, Proposal, ProposalState, RuleMode
from core.store.database import Database
from core.store.proposals import proposal_of
from core.store.tables import ProposalRow, SwitchRow


@dataclass(frozen=True)
class Switch:
    name: str
    value: str
    changed_by: str | None
    changed_at: datetime


class AutomationRecords(Database):
    async def switch(self, name: str) -> Switch | None:
        async with self.session() as s:
            row = await s.get(SwitchRow, (self.account, name))
            return Switch(row.name, row.value, row.changed_by, row.changed_at) if row else None

    async def set_switch(self, name: str, value: str, by: str | None, now: datetime) -> Switch:
        """Sets a switch; the last writer wins, as with any setting."""
        async with self.session() as s, s.begin():
            row = await s.get(SwitchRow, (self.account, name), with_for_update=True)
            if row is None:
                s.add(SwitchRow(name=name, value=value, changed_by=by, changed_at=now))
            else:
                row.value, row.changed_by, row.changed_at = value, by, now
        return Switch(name, value, by, now)

    async def automatic_since(self, since: datetime) -> int:
        """How many changes rules applied on their own since then, whatever came of them."""
        async with self.session() as s:
            count = await s.scalar(
                select(func.count()).select_from(ProposalRow).where(
                    ProposalRow.mode == str(RuleMode.AUTO),
                    ProposalRow.decided_by == BOT_ACTOR,
                    ProposalRow.decided_at >= since,
                )
            )
            return int(count or 0)

    async def last_fired(self, rules: list[str]) -> dict[str, Proposal]:
        """Each rule's newest proposal or notice (a superseded one was replaced by the same rule's newer verdict)."""
        if not rules:
            return {}
        async with self.session() as s:
            newest = (
                select(ProposalRow.rule, func.max(ProposalRow.id).label("id"))
                .where(ProposalRow.rule.in_(rules), ProposalRow.state != str(ProposalState.SUPERSEDED))
                .group_by(ProposalRow.rule)
                .subquery()
            )
            rows = await s.scalars(select(ProposalRow).join(newest, ProposalRow.id == newest.c.id))
            return {row.rule: proposal_of(row) for row in rows}
