"""The bot's store as one object: proposals, the audit log, alerts and the scheduled-run ledger."""

from __future__ import annotations

from core.alerts import Alert
from core.store.alerts import AlertRecords
from core.store.audit import AuditLog, audit_of, audit_row
from core.store.database import normalize_url
from core.store.proposals import ApprovalUnit, ProposalRecords, SaveOutcome, proposal_of
from core.store.runs import RunLedger

__all__ = [
    "Alert", "ApprovalUnit", "SaveOutcome", "Store", "audit_of", "audit_row", "normalize_url", "proposal_of",
]


class Store(ProposalRecords, AuditLog, AlertRecords, RunLedger):
    """Every table of the store behind one connection; each module holds one room of it."""
