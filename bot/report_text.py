"""The health report for a terminal: a rich table, or JSON with money exact to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from core.health import HealthReport
from core.money import cents, fmt_days, fmt_money, fmt_percent
from core.service import MoneyWatch
from core.signals import Severity


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(cents(value))


def _share(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.0001")))


def report_json(report: HealthReport) -> dict[str, Any]:
    """The report as plain JSON values; money as strings so no cent is lost to floats."""
    money = _money

    def days(value: Decimal | None) -> float | None:
        return None if value is None else float(value)

    return {
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
        "generated_at": report.generated_at.isoformat(),
    }


def needs_attention(watch: MoneyWatch) -> bool:
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
            console.print(f"  [cyan]{signal.code.value}[/cyan]  {signal.message}", highlight=False)


def print_report(report: HealthReport, console: Console) -> None:
    summary = Table(title="Budget health", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_row("Balance", fmt_money(report.balance))
    summary.add_row("Total daily budget", fmt_money(report.total_daily_budget))
    summary.add_row("Working campaigns", str(len(report.active_campaigns)))
    summary.add_row("  of which without a daily budget", str(len(report.unlimited_campaigns)))
    summary.add_row(f"Spend, last {report.window_days} days", fmt_money(report.window_spend))
    summary.add_row("Runway at that spend", _days(report.runway_days))
    summary.add_row("Days of budget the balance covers", _days(report.budget_days))
    console.print(summary)

    if report.campaigns_at_risk:
        risks = Table(title="Campaigns at risk", title_justify="left")
        risks.add_column("ID", justify="right")
        risks.add_column("Campaign")
        risks.add_column("Daily budget", justify="right")
        risks.add_column("Share of balance", justify="right")
        risks.add_column("Risk")
        for r in report.campaigns_at_risk:
            share = "-" if r.share_of_balance is None else f"{r.share_of_balance * 100:.1f}%"
            risks.add_row(str(r.id), r.name, fmt_money(r.daily_budget), share, r.risk_level.value)
        console.print(risks)
    else:
        console.print("No campaign's daily budget is out of proportion to the balance.")

    if report.recommendations:
        console.print("\n[bold]Recommendations[/bold]")
        for rec in report.recommendations:
            console.print(f"  [cyan]{rec.code.value}[/cyan]  {rec.message}", highlight=False)


def _days(value: Decimal | None) -> str:
    return fmt_days(value, none="no spend in the window")
