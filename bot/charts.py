"""PNG charts of the spend ledger for Slack, drawn with matplotlib's Agg canvas, and the words that say the same figures.

matplotlib is imported inside the drawing function only: the idle bot never loads it.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.render import escape
from core.models import named
from core.money import fmt_amount, fmt_money
from core.service import SpendHistory, TodayCurves

# Okabe & Ito's palette, told apart with every common colour-vision deficiency.
BLACK, ORANGE, SKY_BLUE, GREEN, BLUE, VERMILLION, PURPLE = (
    "#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
)
CAMPAIGN_COLOURS = (SKY_BLUE, GREEN, PURPLE)
SIZE_INCHES, DPI = (8.0, 5.0), 125
"""1000 × 625 pixels: Slack shows it across a phone's width, where 16-point type still reads."""
FONT_SIZE = 16
_DRAWING = threading.Lock()
"""matplotlib's settings are global: one chart is drawn at a time."""


class NothingToDraw(ValueError):
    """The ledger holds nothing for this chart yet; the message says what is missing."""


@dataclass(frozen=True)
class Chart:
    """A PNG and the words that carry its figures, posted together."""

    filename: str
    title: str
    text: str
    png: bytes


def account_chart(history: SpendHistory, currency: str) -> Chart:
    """Spend per whole ad day against the total daily budget, with the balance's projected run-out."""
    days = history.days
    if not days:
        raise NothingToDraw("No account chart yet: the spend ledger holds no whole ad day.")
    span = f"{days[0].day:%b %d} – {days[-1].day:%b %d}"
    title = f"Spend per ad day ({history.day_label}), {span}, {currency}"
    run_out = _run_out(history, currency)
    words = [
        f"*Spend per ad day* ({history.day_label}), {span}: {fmt_amount(history.spent, currency)} over {len(days)} days.",
        "By day: " + ", ".join(f"{d.day:%m-%d} {fmt_money(d.spent)}" for d in days) + ".",
    ]
    if history.last_budget is not None:
        words.append(f"Total daily budget on {days[-1].day:%b %d}: {fmt_amount(history.last_budget, currency)}.")
    if run_out:
        words.append(run_out + ".")

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        x = range(len(days))
        ax.bar(x, [float(d.spent) for d in days], color=BLUE, label="Spend")
        # Each day's budget across the whole width of its bar: steps from edge to edge.
        budgets = [float(d.daily_budget) if d.daily_budget is not None else float("nan") for d in days]
        edges = [i - 0.5 for i in range(len(days) + 1)]
        ax.step(edges, budgets + budgets[-1:], where="post", color=ORANGE, linewidth=3, linestyle="--", label="Total daily budget")
        _day_ticks(ax, [d.day for d in days])
        ax.set_ylim(bottom=0)
        fig.legend(loc="lower center", ncols=2, frameon=False)
        _titled(ax, title, run_out)
        _margins(fig, legend_below=True)

    return Chart(f"spend-{days[-1].day.isoformat()}.png", title, escape("\n".join(words)), _render(draw))


def campaign_chart(history: SpendHistory, currency: str) -> Chart:
    """One campaign's spend and conversions per whole ad day."""
    days = history.days
    assert history.campaign_id is not None
    who = named(history.name or f"Campaign {history.campaign_id}", history.campaign_id)
    if not days:
        raise NothingToDraw(f"No chart for {who} yet: the spend ledger holds no whole ad day of it.")
    span = f"{days[0].day:%b %d} – {days[-1].day:%b %d}"
    title = f"{who}: spend and conversions ({history.day_label}), {span}, {currency}"
    text = "\n".join(
        [
            f"*{who}*, {span} ({history.day_label}): spent {fmt_amount(history.spent, currency)}, "
            f"{history.conversions} conversions over {len(days)} days.",
            "By day: " + ", ".join(f"{d.day:%m-%d} {fmt_money(d.spent)} / {d.conversions}" for d in days) + ".",
        ]
    )

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        x = range(len(days))
        ax.bar(x, [float(d.spent) for d in days], color=BLUE, label=f"Spend ({currency})")
        _day_ticks(ax, [d.day for d in days])
        right = ax.twinx()
        right.plot(x, [d.conversions for d in days], color=VERMILLION, linewidth=3, marker="o", markersize=9, label="Conversions")
        right.set_ylabel("Conversions")
        right.set_ylim(bottom=0)
        right.yaxis.get_major_locator().set_params(integer=True)
        right.spines["top"].set_visible(False)
        fig.legend(loc="lower center", ncols=2, frameon=False)
        _titled(ax, _clip(who, 40), f"spend ({currency}) and conversions, {span} ({history.day_label})")
        _margins(fig, legend_below=True, right_axis=True)

    return Chart(f"campaign-{history.campaign_id}-{days[-1].day.isoformat()}.png", title, escape(text), _render(draw))


def pacing_chart(curves: TodayCurves, currency: str) -> Chart:
    """Today's cumulative spend of the account and its top campaigns against an even pace of the daily budget."""
    if not curves.account.points:
        raise NothingToDraw("No pacing chart yet: no spend has been sampled today.")
    day = f"{curves.day:%a %b %d} ({curves.day_label})"
    title = f"Spend today, {day}, {currency}"
    words = [f"*Spend today* {day}, at {curves.now:%H:%M}: {fmt_amount(curves.account.spent, currency)}"]
    if curves.daily_budget is not None and curves.even_now is not None:
        words[0] += (
            f" against {fmt_amount(curves.even_now, currency)} at an even pace of "
            f"{fmt_amount(curves.daily_budget, currency)} total daily budget"
        )
    words[0] += "."
    if curves.campaigns:
        words.append("Top campaigns: " + ", ".join(
            f"{named(c.name, c.campaign_id or 0)} {fmt_amount(c.spent, currency)}" for c in curves.campaigns
        ) + ".")

    def hours(at: datetime) -> float:
        return (at - curves.starts) / timedelta(hours=1)

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        length = hours(curves.ends)
        if curves.daily_budget is not None:
            ax.plot([0, length], [0, float(curves.daily_budget)], color=ORANGE, linewidth=3, linestyle="--", label="Even pace")
        _curve(ax, curves.account.points, hours, hours(curves.now), color=BLACK, width=4, label="Account")
        for colour, curve in zip(CAMPAIGN_COLOURS, curves.campaigns):
            _curve(ax, curve.points, hours, hours(curves.now), color=colour, width=2.5, label=_clip(curve.name, 18))
        ticks = [h for h in range(0, int(length) + 1, 6)]
        ax.set_xticks(ticks, [(curves.starts + timedelta(hours=h)).strftime("%H:%M") for h in ticks])
        ax.set_xlim(0, length)
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", frameon=False, fontsize=FONT_SIZE - 3)
        _titled(ax, f"Spend today, {curves.day:%b %d} ({curves.day_label})", f"at {curves.now:%H:%M}: {fmt_amount(curves.account.spent, currency)}")
        _margins(fig)

    return Chart(f"pacing-{curves.day.isoformat()}.png", title, escape("\n".join(words)), _render(draw))


def _curve(ax: Any, points: Sequence[tuple[datetime, Decimal]], hours: Any, now: float, **style: Any) -> None:
    """A cumulative spend as steps from the day's start at zero to now, each figure holding until the next."""
    xs = [0.0] + [hours(at) for at, _ in points] + [now]
    ys = [0.0] + [float(spent) for _, spent in points] + [float(points[-1][1])]
    ax.step(xs, ys, where="post", color=style["color"], linewidth=style["width"], label=style["label"])


def _run_out(history: SpendHistory, currency: str) -> str:
    if history.balance is None:
        return ""
    balance = f"Balance {fmt_amount(history.balance, currency)}"
    if history.runs_out_at is None:
        return f"{balance}, no run-out in sight"
    return f"{balance}, runs out about {history.runs_out_at:%b %d %H:%M} ({history.day_label})"


def _day_ticks(ax: Any, days: Sequence[Any]) -> None:
    every = max(1, len(days) // 7)
    shown = range(0, len(days), every)
    # The month is named on the first day shown and where it changes.
    labels, month = [], None
    for i in shown:
        labels.append(f"{days[i]:%d}" if days[i].month == month else f"{days[i]:%b %d}")
        month = days[i].month
    ax.set_xticks(list(shown), labels)


def _titled(ax: Any, title: str, subtitle: str) -> None:
    """The title and its second line above the plot; money on the axis with thousands separators (the currency
    is in the title)."""
    ax.yaxis.set_major_formatter("{x:,.0f}")
    ax.set_title(title + ("\n" + subtitle if subtitle else ""), loc="left", fontsize=FONT_SIZE + 1)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis="y", alpha=0.3)


def _margins(fig: Any, *, legend_below: bool = False, right_axis: bool = False) -> None:
    """Fixed margins for the fixed size and type: a layout engine would measure every label and draw twice."""
    fig.subplots_adjust(left=0.11, right=0.9 if right_axis else 0.95, top=0.85, bottom=0.18 if legend_below else 0.09)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(draw: Any) -> bytes:
    """One figure on its own Agg canvas (no pyplot: no global state shared between threads) as PNG bytes."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _DRAWING, rc_context({"font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1, "axes.labelsize": FONT_SIZE}):
        fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
        FigureCanvasAgg(fig)
        draw(fig)
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
