"""The ad accounts the bot watches, by name in the order of the configuration, each with its own pieces."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bot.notify import Notifier
from bot.scheduler import Jobs
from bot.settings import Settings
from core.service import BudgetService


class UnknownAccount(LookupError):
    """A name that is none of the configured accounts; the message lists the ones there are."""

    def __init__(self, name: str, names: list[str]) -> None:
        super().__init__(f"no ad account is named {name!r}; the accounts are {', '.join(names)}")


@dataclass
class Account:
    """One ad account's pieces: its settings, its service (with its own client and store), notifier and jobs."""

    settings: Settings
    service: BudgetService
    notifier: Notifier
    jobs: Jobs

    @property
    def name(self) -> str:
        return self.settings.account


class Accounts:
    """Name → account, in configuration order; the first is the one today's single-account code talks to."""

    def __init__(self, accounts: list[Account]) -> None:
        if not accounts:
            raise ValueError("at least one ad account is needed")
        self._by_name = {account.name: account for account in accounts}

    def __iter__(self) -> Iterator[Account]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    @property
    def first(self) -> Account:
        return next(iter(self._by_name.values()))

    def get(self, name: str) -> Account:
        """The account of that name; UnknownAccount (listing the names) when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownAccount(name, self.names) from None

    def select(self, name: str | None) -> list[Account]:
        """The named account alone, or every account when no name is given."""
        return list(self) if name is None else [self.get(name)]
