"""Which ad account a command or a click is about: named in the command, implied by the channel, or found from the
proposal a button names. With one account there is nothing to choose."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.accounts import Account
from bot.settings import Settings
from handlers.context import BotContext

ACCOUNT_BLOCK = "account|"
"""App Home's blocks of one account carry its name in their block_id: "account|<name>|…" (no name holds a "|")."""


def of_account(ctx: BotContext, account: Account) -> BotContext:
    """The context whose settings, service and notifier are `account`'s."""
    return replace(ctx, settings=account.settings, service=account.service, notifier=account.notifier)


def channels_of(settings: Settings) -> set[str]:
    return {c for c in (settings.channel, settings.alert_channel, settings.approval_channel) if c}


def for_command(ctx: BotContext, channel: str | None, words: list[str]) -> tuple[BotContext | list[str], list[str]]:
    """The account a command's `words` (after the verb) are about, and the words left; or the names to pick from.

    A first word that is an account's name picks it; else the channel's account; else, outside any account's
    channel, a first word that starts the names of some accounts narrows the pick to them.
    """
    accounts = ctx.accounts
    if accounts is None or len(accounts) == 1:
        return ctx, words
    if words:
        named = [a for a in accounts if a.name.casefold() == words[0].casefold()]
        if named:
            return of_account(ctx, named[0]), words[1:]
    here = [a for a in accounts if channel in channels_of(a.settings)]
    if len(here) == 1:
        return of_account(ctx, here[0]), words
    candidates = here or list(accounts)
    if words and not here:
        started = [a for a in candidates if a.name.casefold().startswith(words[0].casefold())]
        if len(started) == 1:
            return of_account(ctx, started[0]), words[1:]
        candidates = started or candidates
    return [a.name for a in candidates], words


async def for_click(ctx: BotContext, body: dict[str, Any], *, proposal_id: int | None = None) -> BotContext:
    """The account a button, menu or form is about: its block's account (App Home), the proposal it names
    (`proposal_id`), or the channel it was clicked in; the first account when none of these tells."""
    accounts = ctx.accounts
    if accounts is None or len(accounts) == 1:
        return ctx
    action = ((body.get("actions") or [{}])[0]) or {}
    block_id = str(action.get("block_id") or "")
    if block_id.startswith(ACCOUNT_BLOCK):
        name = block_id[len(ACCOUNT_BLOCK):].split("|", 1)[0]
        if name in accounts.names:
            return of_account(ctx, accounts.get(name))
    if proposal_id is not None:
        owner = await ctx.service.proposal_account(proposal_id)
        if owner in accounts.names:
            return of_account(ctx, accounts.get(owner))
    channel = (body.get("channel") or {}).get("id")
    here = [a for a in accounts if channel and channel in channels_of(a.settings)]
    return of_account(ctx, here[0]) if len(here) == 1 else ctx
