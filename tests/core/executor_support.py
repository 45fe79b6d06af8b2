"""What the executor's tests share: the sandbox ad platform over HTTP, a bot process on a store, proposals to decide.

The account is `exact_account`: 101 "Winner & Co <US>" at 100.00 a day, 102 "Loser DE" at 200.00.
Proposals are the two the CPA rule makes of it (101: 100.00 → 120.00, 102: 200.00 → 160.00).
Each `Process` with its own `Store`, client and `Executor` plays one process or replica.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.executor import Executor
from core.policy import Candidate, Direction, Evidence
from core.propellerads import ClientOptions, PropellerAdsClient
from core.proposals import AuditEntry, Proposal, ProposalState
from core.store import Store
from sandbox.adplatform import SANDBOX_KEY, ManualClock, Sandbox, SandboxConfig, start_sandbox
from tests.harness import APPROVER, NOW, exact_account

TTL = timedelta(hours=24)
TOKEN = "executor-test-token"
# Retries as in production, without waiting half a second between them.
FAST_RETRIES = ClientOptions(timeout=5, attempts=4, backoff_initial=0.001, backoff_max=0.002)

WINNER = Candidate(
    101, "Winner & Co <US>", "cpa-target", Direction.INCREASE, Decimal("100.00"), Decimal("120.00"),
    "CPA 7.16 beats the 10.00 target.", Evidence(7, Decimal("630"), 88, Decimal("7.16"), Decimal("10"), Decimal("0.9")),
)
LOSER = Candidate(
    102, "Loser DE", "cpa-target", Direction.DECREASE, Decimal("200.00"), Decimal("160.00"),
    "CPA 150.00 misses the 10.00 target.", Evidence(7, Decimal("1050"), 7, Decimal("150"), Decimal("10"), Decimal("0.75")),
)


class Ads:
    """The sandbox ad platform over HTTP, and what it was asked."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.server = start_sandbox(
            exact_account(NOW.date()), token=TOKEN, config=config or SandboxConfig(rate_limits={"statistics": None})
        )

    @property
    def sandbox(self) -> Sandbox:
        return self.server.app[SANDBOX_KEY]

    @property
    def url(self) -> str:
        return self.server.url + "/v5"

    def patches(self, campaign_id: int | None = None) -> list[Any]:
        path = "/adv/campaigns/" + ("" if campaign_id is None else str(campaign_id))
        return self.sandbox.requests.entries("PATCH", path)

    def budget(self, campaign_id: int) -> Decimal | None:
        return self.sandbox.account.campaigns[campaign_id].limit_daily_amount

    def set_budget(self, campaign_id: int, amount: str) -> None:
        """Someone changes the daily budget on PropellerAds' own page (no API request logged)."""
        self.sandbox.account.update(campaign_id, self.sandbox.now(), limit_daily_amount=Decimal(amount))

    def effective_budgets(self, campaign_id: int) -> list[Decimal | None]:
        """The daily budget's history as the platform keeps it: one entry per change that took effect."""
        return [s.limit for s in self.sandbox.account.settings_history(campaign_id)]


class Process:
    """One running bot process: its own store connection, PropellerAds client and executor."""

    def __init__(self, db_url: str, ads: Ads, clock: ManualClock, **executor: Any) -> None:
        self.store = Store.connect(db_url)
        self.api = PropellerAdsClient(TOKEN, ads.url, options=FAST_RETRIES)
        self.executor = Executor(self.store, self.api, clock=clock, **executor)

    async def start(self) -> "Process":
        await self.store.migrate()
        return self

    async def stop(self) -> None:
        await self.api.aclose()
        await self.store.close()


async def propose(store: Store, *candidates: Candidate) -> list[Proposal]:
    return (await store.save_candidates(candidates or (WINNER,), now=NOW, ttl=TTL)).created


async def trail(store: Store, proposal_id: int) -> list[tuple[str, str, str | None]]:
    """The proposal's audit entries, oldest first: (action, actor, detail)."""
    return [(e.action, e.actor, e.detail) for e in reversed(await store.history(limit=100)) if e.proposal_id == proposal_id]


async def left_mid_apply(store: Store, p: Proposal, state: str, at: datetime) -> Proposal:
    """The state a stopped process leaves behind: approved by a person, then (perhaps) claimed for applying."""
    approved = await store.transition(
        p.id, [ProposalState.PENDING], ProposalState.APPROVED, now=at, decided_by=APPROVER, decided_at=at,
        audit=AuditEntry.of(p, at, APPROVER, "approved", outcome=ProposalState.APPROVED),
    )
    assert approved is not None
    if state == ProposalState.APPROVED:
        return approved
    applying = await store.transition(p.id, [ProposalState.APPROVED], ProposalState.APPLYING, now=at)
    assert applying is not None
    return applying
