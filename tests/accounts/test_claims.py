"""Scheduled runs across replicas, per ad account, on SQLite and PostgreSQL with an injected clock: each
account's job for a fire time is claimed once; a claim left unfinished past the timeout is taken over by
exactly one other replica; a finished one never is."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from core.store import Store
from tests.core.test_store import close_all, db_url, replicas  # noqa: F401  (db_url is a fixture)
from tests.harness import NOW

JOB, SLOT = "health_check", "2024-03-04T12:00Z"
STALE = timedelta(minutes=15)


def of(stores: list[Store], account: str) -> list[Store]:
    return [store.for_account(account) for store in stores]


async def test_each_accounts_slot_is_claimed_by_one_of_many_replicas(db_url: str) -> None:
    stores = await replicas(db_url, 4)
    try:
        for account in ("acme", "beta"):
            won = await asyncio.gather(
                *(s.claim_run(JOB, SLOT, f"replica-{i}", NOW, stale_after=STALE) for i, s in enumerate(of(stores, account)))
            )
            assert sorted(won) == [False, False, False, True], account
    finally:
        await close_all(stores)


async def test_an_unfinished_claim_is_taken_over_by_one_replica_after_the_timeout(db_url: str) -> None:
    stores = await replicas(db_url, 4)
    try:
        first, *others = of(stores, "acme")
        assert await first.claim_run(JOB, SLOT, "replica-0", NOW, stale_after=STALE)
        # Still within the timeout: the claim's replica may be working on it.
        almost = NOW + STALE - timedelta(seconds=1)
        assert not any(await asyncio.gather(*(s.claim_run(JOB, SLOT, "late", almost, stale_after=STALE) for s in others)))

        later = NOW + STALE
        won = await asyncio.gather(
            *(s.claim_run(JOB, SLOT, f"replica-{i}", later, stale_after=STALE) for i, s in enumerate(others, 1))
        )
        assert sorted(won) == [False, False, True]
        # The replica that lost its claim cannot mark the run as its own.
        assert not await first.finish_run(JOB, SLOT, "replica-0", later)
        winner = f"replica-{won.index(True) + 1}"
        assert await others[won.index(True)].finish_run(JOB, SLOT, winner, later + timedelta(minutes=1))

        # Finished: nobody takes it over, however late.
        much_later = later + STALE * 10
        assert not any(await asyncio.gather(*(s.claim_run(JOB, SLOT, "x", much_later, stale_after=STALE) for s in others)))
        # The other account's slot of the same name is its own.
        assert await stores[0].for_account("beta").claim_run(JOB, SLOT, "replica-0", much_later, stale_after=STALE)
    finally:
        await close_all(stores)


async def test_without_a_timeout_a_claim_is_never_taken_over(db_url: str) -> None:
    stores = await replicas(db_url, 2)
    try:
        first, second = of(stores, "acme")
        assert await first.claim_run(JOB, SLOT, "replica-0", NOW)
        assert not await second.claim_run(JOB, SLOT, "replica-1", NOW + timedelta(days=3))
    finally:
        await close_all(stores)


async def test_a_stale_unfinished_claim_counts_as_not_run(db_url: str) -> None:
    stores = await replicas(db_url, 1)
    try:
        (store,) = of(stores, "acme")
        assert await store.claim_run(JOB, SLOT, "replica-0", NOW)
        assert await store.has_run(JOB, SLOT)
        assert await store.has_run(JOB, SLOT, now=NOW + STALE - timedelta(seconds=1), stale_after=STALE)
        assert not await store.has_run(JOB, SLOT, now=NOW + STALE, stale_after=STALE)
        assert await store.finish_run(JOB, SLOT, "replica-0", NOW + timedelta(minutes=1))
        assert await store.has_run(JOB, SLOT, now=NOW + STALE * 10, stale_after=STALE)
    finally:
        await close_all(stores)
