"""The bot's store as one object: proposals, the audit log, alerts, the scheduled-run ledger, switches and the spend ledger."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from core.alerts import Alert
from core.store.alerts import AlertRecords
from core.store.automation import AutomationRecords, Switch
from core.store.audit import AuditLog, audit_of, audit_row
from core.store.database import normalize_url
from core.store.ledger import SpendLedger
from core.store.proposals import ApprovalUnit, ProposalRecords, SaveOutcome, proposal_of
from core.store.runs import RunLedger
from core.store.tables import DEFAULT_ACCOUNT

__all__ = [
    "Alert", "ApprovalUnit", "SaveOutcome", "Store", "Switch", "audit_of", "audit_row", "normalize_url", "proposal_of",
]


class Store(ProposalRecords, AuditLog, AlertRecords, RunLedger, AutomationRecords):
    """Every table of the store behind one connection; each module holds one room of it."""

    def __init__(self, engine: AsyncEngine, account: str = DEFAULT_ACCOUNT) -> None:
        super().__init__(engine, account)
        self.ledger = SpendLedger(self.engine, account)
        """The ad account's spend history, on the same connection."""

    def for_account(self, name: str) -> "Store":
        """A store on the same connection whose every read and write is limited to the ad account `name`."""
        return Store(self.engine, name)
