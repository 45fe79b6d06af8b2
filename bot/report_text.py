"""The health report for a terminal: a rich table, or JSON with money exact to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from core.health import HealthReport
from core.money import cents, fmt_money


def report_json(report: HealthReport) -> dict[str, Any]:
    """The report as plain JSON values; money as strings so no cent is lost to floats."""

    def money(value: Decimal | None) -> str | None:
        return None if value is None else str(cents(value))

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
        "unreadable": [
            {"what": u.what, "campaign_id": u.campaign_id, "name": u.name, "reason": u.reason} for u in report.unreadable
        ],
        "generated_at": report.generated_at.isoformat(),
    }


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
    return "no spend in the window" if value is None else f"{value} days"
