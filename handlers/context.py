"""What every listener is handed: the bot's settings, service and notifier, kept under one context key."""

from __future__ import annotations

from dataclasses import dataclass

from bot.accounts import Accounts
from bot.notify import Notifier
from bot.settings import Settings
from core.service import BudgetService

CONTEXT_KEY = "budget"


@dataclass
class BotContext:
    """What a listener needs, handed to it as context["budget"] by the app's middleware.

    `settings`, `service` and `notifier` are the first ad account's; `accounts` holds every account by name."""

    settings: Settings
    service: BudgetService
    notifier: Notifier
    accounts: Accounts | None = None
