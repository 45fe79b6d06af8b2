"""The charts' data from a real SQLite spend ledger through the service, and the PNGs drawn from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from bot.charts import NothingToDraw, account_chart, campaign_chart, pacing_chart
from core.adday import AdDay
from core.ledger_types import DailyRow, IntradaySample
from core.propellerads import PropellerAdsClient
from core.service import BudgetService, ServiceConfig
from core.service.charts import account_steps
from core.store import Store
from sandbox.slack.model import png_size

EST = AdDay.parse("-05:00")
TODAY = date(2024, 3, 4)
NOW = EST.start(TODAY) + timedelta(hours=6)
"""06:00 on the ad account's clock: a quarter of the ad day gone."""
WORKING, PAUSED = 6, 7


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[BudgetService]:
    store = Store.connect(f"sqlite+aiosqlite:///{tmp_path / 'charts.db'}")
    await store.migrate()
    # Charts read the ledger only: a client that could reach nothing proves no call is made.
    async with PropellerAdsClient("token", "http://127.0.0.1:9/v5") as api:
        yield BudgetService(api, store, ServiceConfig(ad_day=EST), clock=lambda: NOW)
    await store.close()


async def fill(service: BudgetService) -> None:
    """Campaign 1 (budget 100) spends 80 + day-number a day, 4 conversions; campaign 2 (budget 50) spends 30 and
    is paused today; 20 days back, so 14 whole days are asked of more."""
    rows = []
    for back in range(0, 21):
        day = TODAY - timedelta(days=back)
        rows.append(DailyRow(1, day, Decimal(80 + day.day), conversions=4, daily_budget=Decimal(100), status=WORKING, name="Alpha US"))
        rows.append(DailyRow(2, day, Decimal(30) if back else Decimal(10), conversions=1, daily_budget=Decimal(50),
                             status=PAUSED if not back else WORKING, name="Beta DE"))
    ledger = service.store.ledger
    await ledger.upsert_days(rows, NOW, seen=True)
    start = EST.start(TODAY)
    await ledger.record_samples([
        IntradaySample(1, start + timedelta(hours=1), TODAY, Decimal("5.00"), 0, WORKING),
        IntradaySample(2, start + timedelta(hours=1), TODAY, Decimal("10.00"), 0, WORKING),
    ])
    await ledger.record_samples([IntradaySample(1, start + timedelta(hours=5), TODAY, Decimal("21.50"), 1, WORKING)])


async def test_the_account_history_adds_up_the_last_fourteen_whole_ad_days(service: BudgetService) -> None:
    await fill(service)
    history = await service.account_history()
    assert [d.day for d in history.days] == [TODAY - timedelta(days=back) for back in range(14, 0, -1)]
    assert history.days[-1].spent == Decimal(80 + 3 + 30) and history.days[-1].daily_budget == Decimal(150)
    assert history.days[-1].conversions == 5 and history.day_label == "EST"
    assert all(isinstance(getattr(d, f.name), (Decimal, date, int, type(None))) for d in history.days for f in fields(d))


async def test_a_campaign_history_is_that_campaign_alone_named_from_the_ledger(service: BudgetService) -> None:
    await fill(service)
    history = await service.campaign_history(2)
    assert history.name == "Beta DE" and history.spent == Decimal(30 * 14) and history.conversions == 14


async def test_todays_curves_step_the_account_up_and_pace_only_working_budgets(service: BudgetService) -> None:
    await fill(service)
    curves = await service.today_curves()
    start = EST.local(EST.start(TODAY))
    assert curves.account.points == (
        (start + timedelta(hours=1), Decimal("15.00")),
        (start + timedelta(hours=5), Decimal("31.50")),
    )
    assert [(c.name, c.spent) for c in curves.campaigns] == [("Alpha US", Decimal("21.50")), ("Beta DE", Decimal("10.00"))]
    assert curves.daily_budget == Decimal(100), "Beta DE is paused today: its 50 is not paced"
    assert curves.even_now == Decimal(25), "a quarter of the day at an even pace of 100"


def test_account_steps_hold_each_campaigns_figure_until_its_next_sample() -> None:
    at = datetime(2024, 3, 4, 6, tzinfo=timezone.utc)
    samples = [
        IntradaySample(1, at, TODAY, Decimal(1)),
        IntradaySample(2, at, TODAY, Decimal(2)),
        IntradaySample(2, at + timedelta(minutes=15), TODAY, Decimal(5)),
    ]
    assert account_steps(samples) == [(at, Decimal(3)), (at + timedelta(minutes=15), Decimal(6))]


async def test_the_three_charts_are_phone_sized_pngs_with_their_figures_in_words(service: BudgetService) -> None:
    await fill(service)
    drawn = [
        account_chart(await service.account_history(), "EUR"),
        pacing_chart(await service.today_curves(), "EUR"),
        campaign_chart(await service.campaign_history(1), "EUR"),
    ]
    for chart in drawn:
        assert chart.png.startswith(b"\x89PNG\r\n\x1a\n") and png_size(chart.png) == (1000, 625)
        assert "EUR" in chart.title and "EST" in chart.title
    assert "Spend per ad day" in drawn[0].text and "03-03 113.00" in drawn[0].text
    assert "31.50 EUR against 25.00 EUR at an even pace of 100.00 EUR" in drawn[1].text
    assert drawn[2].text.startswith("*Alpha US (1)*") and "56 conversions over 14 days" in drawn[2].text


async def test_an_empty_ledger_has_nothing_to_draw_and_says_what_is_missing(service: BudgetService) -> None:
    with pytest.raises(NothingToDraw, match="holds no whole ad day"):
        account_chart(await service.account_history(), "USD")
    with pytest.raises(NothingToDraw, match="no spend has been sampled today"):
        pacing_chart(await service.today_curves(), "USD")
    with pytest.raises(NothingToDraw, match="No chart for Campaign 7 yet"):
        campaign_chart(await service.campaign_history(7), "USD")
