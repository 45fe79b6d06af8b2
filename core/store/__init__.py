"""The bot's memory: proposals, their audit log, alert state and the scheduled-run ledger."""

from core.store.store import Store, normalize_url

__all__ = ["Store", "normalize_url"]
