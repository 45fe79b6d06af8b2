"""The service layer the Slack handlers and the scheduler call: health, campaign status, checks, decisions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from core.backtest import Backtest, BacktestRefused, BacktestRow, RuleTotals
from core.executor import Executor
from core.ledger import LedgerSync
from core.propellerads import PropellerAdsClient
from core.store import Store
from core.service.backtest import Backtests
from core.service.charts import ChartReads, SpendCurve, SpendHistory, TodayCurves
from core.service.checks import HealthChecks
from core.service.decisions import Decisions
from core.service.reads import AccountReads, SharedReads, campaign_id_in
from core.service.rules import RuleReport
from core.service.summary import Summaries
from core.service.values import CampaignLookup, CampaignStatusReport, CheckResult, EditResult, MoneyWatch, ServiceConfig, Summary


__all__ = [
    "Backtest", "BacktestRefused", "BacktestRow", "RuleTotals", "BudgetService", "CampaignLookup", "CampaignStatusReport", "CheckResult", "EditResult", "MoneyWatch", "ServiceConfig",
    "RuleReport", "SharedReads", "Summary", "campaign_id_in", "SpendCurve", "SpendHistory", "TodayCurves",
]


class BudgetService(AccountReads, HealthChecks, Decisions, Backtests, Summaries, ChartReads):
    """The one door handlers, renderers and jobs go through: reads, checks and decisions over one store and client."""

    def __init__(
        self,
        api: PropellerAdsClient,
        store: Store,
        config: ServiceConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.api = api
        self.store = store
        self.config = config
        self.clock = clock
        self.ad_day = config.ad_day
        self.day_start = config.ad_day.day_start
        self.ledger = LedgerSync(api, store.ledger, config.ad_day)
        """Where "today" starts for the increase cap: the ad account's day, as its daily budgets count."""
        self.executor = Executor(
            store,
            api,
            clock=clock,
            lease=lease,
            guardrails=config.guardrails,
            low_balance_days=config.thresholds.low_balance_days,
            day_start=self.day_start,
        )
        # Reads of the account are shared for snapshot_ttl, one fetch at a time: fifty people
        # asking at once cost one read, which matters under a statistics limit of 2 a minute.
        self._reads = SharedReads(config.snapshot_ttl)
        # Alerts are compared with what the store remembers and then stored: two checks doing that at
        # once would both see the same condition as new and both announce it.
        self._alerts_lock = asyncio.Lock()
