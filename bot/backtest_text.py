"""The backtest for a terminal: rich tables of per-rule totals and the first rows, or JSON with money exact to the cent."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bot.report_text import data
from core.money import DEFAULT_CURRENCY, cents, fmt_money
from core.service import Backtest

MAX_ROWS = 50
ASSUMES = (
    "Each morning is judged on the ledger as it stood: the daily budget and status it saw that day (else the day "
    "before's), each rule on its own, the step limit and the min/max daily budget applied; the balance and the "
    "day's cap on increases are unknown for past days and limit nothing. A \"today\" window sees the whole day. "
    "The history is what happened: a paused campaign's later spend is what the pause would have saved."
)


def backtest_json(bt: Backtest, currency: str = DEFAULT_CURRENCY) -> dict[str, Any]:
    """Rows and per-rule totals as plain JSON values; money as strings so no cent is lost to floats."""
    return {
        "currency": currency,
        "first_day": bt.first_day.isoformat(),
        "last_day": bt.last_day.isoformat(),
        "days": bt.days,
        "campaigns": bt.campaigns,
        "rows": [
            {
                "day": r.day.isoformat(),
                "campaign_id": r.campaign_id,
                "campaign_name": r.campaign_name,
                "rule": r.rule,
                "action": r.action,
                "from_amount": str(cents(r.from_amount)),
                "to_amount": str(cents(r.to_amount)),
                "spent": str(cents(r.spent)),
                "conversions": r.conversions,
                "spent_after": str(cents(r.spent_after)),
                "conversions_after": r.conversions_after,
                "notes": list(r.notes),
            }
            for r in bt.rows
        ],
        "totals": [
            {
                "rule": t.rule,
                "mode": t.mode.value,
                "actions": t.actions,
                "campaigns": t.campaigns,
                "spent": str(cents(t.spent)),
                "conversions": t.conversions,
                "spent_after": str(cents(t.spent_after)),
                "conversions_after": t.conversions_after,
                "refused": t.refused,
                "days_waiting": t.days_waiting,
            }
            for t in bt.totals
        ],
        "notes": list(bt.notes),
    }


def print_backtest(bt: Backtest, console: Console, currency: str = DEFAULT_CURRENCY) -> None:
    span = f"{bt.first_day:%Y-%m-%d} to {bt.last_day:%Y-%m-%d} ({bt.days} days, {bt.campaigns} campaigns in the ledger)"
    totals = Table(title=f"Backtest, {span}", title_justify="left")
    for column in ("rule", "mode", "actions", "campaigns", f"spent those days ({currency})", "conversions",
                   f"spent from then on ({currency})", "conversions from then on", "refused", "days not judged"):
        totals.add_column(column, justify="left" if column in ("rule", "mode") else "right")
    for t in bt.totals:
        totals.add_row(
            data(t.rule), t.mode.value, str(t.actions), str(t.campaigns), fmt_money(t.spent), str(t.conversions),
            fmt_money(t.spent_after), str(t.conversions_after), str(t.refused), str(t.days_waiting),
        )
    console.print(totals)
    if bt.rows:
        shown = bt.rows[:MAX_ROWS]
        more = f", the first {len(shown)} of {len(bt.rows)} (--json for all)" if len(bt.rows) > len(shown) else ""
        rows = Table(title=f"What the rules would have done{more}", title_justify="left")
        for column in ("day", "campaign", "rule", "action", f"daily budget ({currency})", "spent that day",
                       "conversions", "spent from then on", "conversions from then on"):
            rows.add_column(column, justify="right" if column.startswith(("spent", "conversions")) else "left")
        for r in shown:
            budget = fmt_money(r.from_amount) if r.action in ("pause", "resume") else f"{fmt_money(r.from_amount)} → {fmt_money(r.to_amount)}"
            rows.add_row(
                f"{r.day:%Y-%m-%d}", data(f"{r.campaign_name} ({r.campaign_id})" if r.campaign_name else r.campaign_id),
                data(r.rule), r.action, budget, fmt_money(r.spent), str(r.conversions), fmt_money(r.spent_after),
                str(r.conversions_after),
            )
        console.print(rows)
    else:
        console.print("No rule would have acted on any of these days.", highlight=False)
    for note in bt.notes:
        console.print(data(f"Note: {note}."), highlight=False)
    console.print(ASSUMES, highlight=False, style="dim")
