"""The health report for a terminal: rich tables, or JSON with money exact to the cent."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.alerts import conditions_of
from core.health import HealthReport, HealthThresholds
from core.money import DEFAULT_CURRENCY, cents, fmt_amount, fmt_days, fmt_money, fmt_percent
from core.service import MoneyWatch
from core.signals import Severity

MAX_ROWS = 10
# C0 and C1 controls (ESC starts terminal sequences: hidden links, cleared screens) and the bidi overrides.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(cents(value))


def _share(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.0001")))


def printable(text: object) -> str:
    """Outside text made safe for a terminal: every control character shown as its escape, never obeyed."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}", str(text))


def data(text: object) -> Text:
    """A cell of data: printed as it is, never read as console markup ([link=…], [/]) or emoji codes."""
    return Text(printable(text))


def needs_attention(report: HealthReport, thresholds: HealthThresholds) -> bool:
    """True when the report holds anything the channel would be alerted to (every alert is a warning or worse)."""
    return bool(conditions_of(report, thresholds.low_balance_days))


def report_json(report: HealthReport, currency: str = DEFAULT_CURRENCY) -> dict[str, Any]:
    """The report as plain JSON values; money as strings so no cent is lost to floats."""
    money = _money

    def days(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return {
        "currency": currency,
        "account_balance": money(report.balance),
        "total_daily_budget": money(report.total_daily_budget),
        "active_campaigns": len(report.active_campaigns),
        "unlimited_campaigns": [{"id": c.id, "name": c.name} for c in report.unlimited_campaigns],
        "runway_days": days(report.runway_days),
        "budget_days": days(report.budget_days),
        "window": {
            "from": report.window_from.isoformat(),
            "to": report.window_to.isoformat(),
            "days": report.window_days,
            "spend": money(report.window_spend),
            "average_daily_spend": money(report.average_daily_spend),
        },
        "campaigns_at_risk": [
            {
                "id": r.id,
                "name": r.name,
                "daily_budget": money(r.daily_budget),
                "risk_level": r.risk_level.value,
                "share_of_balance": None if r.share_of_balance is None else str(r.share_of_balance.quantize(Decimal("0.0001"))),
            }
            for r in report.campaigns_at_risk
        ],
        "recommendations": [
            {"code": r.code.value, "message": r.message, **({"campaign_id": r.campaign_id} if r.campaign_id else {})}
            for r in report.recommendations
        ],
        "campaigns": [
            {
                "id": p.id,
                "name": p.name,
                "daily_budget": money(p.daily_budget),
                "spent": money(p.spent),
                "conversions": p.conversions,
                "cpa": money(p.cpa),
            }
            for p in report.performance
        ],
        "unreadable": [
            {"what": u.what, "campaign_id": u.campaign_id, "name": u.name, "reason": u.reason} for u in report.unreadable
        ],
        "generated_at": report.generated_at.isoformat(),
    }


def signals_need_attention(watch: MoneyWatch) -> bool:
    """Whether a signal of severity warning or above holds."""
    return any(signal.severity >= Severity.WARNING for signal in watch.signals)


def watch_json(watch: MoneyWatch) -> dict[str, Any]:
    """The signals that hold and today's pacing, account and campaigns; times on the ad account's clock."""
    pacing = watch.pacing

    def moment(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "signals": [
            {"code": s.code.value, "campaign_id": s.campaign_id, "severity": s.severity.name.lower(), "message": s.message}
            for s in watch.signals
        ],
        "pacing": {
            "day": pacing.day.isoformat(),
            "day_clock": watch.day_label,
            "day_share": _share(pacing.day_share),
            "spent": _money(pacing.spent),
            "projected": _money(pacing.projected),
            "balance_runs_out_at": moment(pacing.runs_out_at),
            "campaigns": [
                {
                    "id": c.campaign_id,
                    "spent": _money(c.spent),
                    "daily_budget": _money(c.daily_budget),
                    "budget_share": _share(c.budget_share),
                    "projected": _money(c.projected),
                    "capped": c.capped,
                    "cap_at": moment(c.cap_at),
                }
                for c in pacing.campaigns
            ],
        },
    }


def print_watch(watch: MoneyWatch, console: Console) -> None:
    pacing = watch.pacing
    runs_out = pacing.runs_out_at.strftime("%a %d %b %H:%M") if pacing.runs_out_at else "not at today's rate"
    console.print(
        f"\nToday ({watch.day_label}): spent {fmt_money(pacing.spent)}, projected {fmt_money(pacing.projected)} "
        f"with {fmt_percent(pacing.day_share)} of the day gone; the balance runs out: {runs_out}",
        markup=False,
        highlight=False,
    )
    if watch.signals:
        console.print("\n[bold]Signals[/bold]")
        for signal in watch.signals:
            # The message carries campaign names: printed as data, never as console markup.
            console.print(Text.assemble(("  " + signal.code.value, "cyan"), "  ", printable(signal.message)), highlight=False)


def print_report(report: HealthReport, console: Console, currency: str = DEFAULT_CURRENCY) -> None:
    def money(value: Decimal | None) -> str:
        return fmt_amount(value, currency)

    summary = Table(title=f"Budget health (amounts in {currency})", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("Balance", money(report.balance))
    summary.add_row("Total daily budget", money(report.total_daily_budget))
    summary.add_row("Working campaigns", str(len(report.active_campaigns)))
    summary.add_row("  of which without a daily budget", str(len(report.unlimited_campaigns)))
    summary.add_row(f"Spend, last {report.window_days} days", money(report.window_spend))
    # Side by side: how long the balance lasts at what is spent, and at what may be spent.
    summary.add_row("Runway", f"{_days(report.runway_days)} at the {money(report.average_daily_spend)} a day spent")
    summary.add_row("Budget covered", f"{_days(report.budget_days)} at the {money(report.total_daily_budget)} a day budgeted")
    console.print(summary)

    spenders = [p for p in report.performance if p.spent > 0][:MAX_ROWS]
    if spenders:
        top = Table(title=f"Top spenders, last {report.window_days} days", title_justify="left")
        for column in ("ID", "Campaign", "Daily budget", "Spent", "Conversions", "CPA"):
            top.add_column(column, justify="left" if column == "Campaign" else "right")
        for p in spenders:
            cpa = fmt_money(p.cpa) if p.cpa is not None else "-"
            top.add_row(str(p.id), data(p.name), fmt_money(p.daily_budget), fmt_money(p.spent), str(p.conversions), cpa)
        console.print(top)
    else:
        console.print(f"No campaign spent in the last {report.window_days} days.")

    if report.campaigns_at_risk:
        risks = Table(title="Campaigns at risk", title_justify="left")
        risks.add_column("ID", justify="right")
        risks.add_column("Campaign")
        risks.add_column("Daily budget", justify="right")
        risks.add_column("Share of balance", justify="right")
        risks.add_column("Risk")
        for r in report.campaigns_at_risk:
            share = "-" if r.share_of_balance is None else fmt_percent(r.share_of_balance)
            risks.add_row(str(r.id), data(r.name), fmt_money(r.daily_budget), share, r.risk_level.value)
        console.print(risks)
    else:
        console.print("No campaign's daily budget is out of proportion to the balance.")

    if report.recommendations:
        console.print(Text("\nRecommendations", style="bold"))
        for rec in report.recommendations:
            console.print(Text.assemble("  ", (rec.code.value, "cyan"), "  ", printable(rec.message)))


def _days(value: Decimal | None) -> str:
    return fmt_days(value, none="no spend in the window")
