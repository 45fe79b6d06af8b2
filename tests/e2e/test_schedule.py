"""The scheduled summary and the health check's deduplicated alerts, fired by hand on a controlled clock.

`Jobs.fire(job, at)` is what APScheduler calls at each fire time; the tests call it with chosen
times on the bot's own loop, against the sandbox ad platform and the Slack stand-in, so nothing
waits for a real clock. The account is `exact_account` (daily budgets 101: 100, 102: 200, 103: 50,
total 350.00; spend 265.00 a day); only the balance changes between checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.scheduler import CHECK, EPOCH, SUMMARY, build_scheduler, check_slot, summary_slot, triggers
from sandbox.adplatform import ManualClock
from sandbox.slack import Message
from tests.harness import Stack, running_stack

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 2024-03-04, 09:00 in Berlin (UTC+1 until the end of March).
MORNING = datetime(2024, 3, 4, 8, 0, tzinfo=timezone.utc)
CHECK_EVERY = timedelta(minutes=15)
SCHEDULE = {"timezone": "Europe/Berlin", "summary_time": time(9, 0), "check_interval_minutes": 15}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


@pytest.fixture
def stack(tmp_path: Path, clock: ManualClock) -> Iterator[Stack]:
    # No rules: these tests are about the summary and alerts; proposals have their own test.
    with running_stack(tmp_path, clock=clock, rules=[], **SCHEDULE) as running:
        yield running


def fire(stack: Stack, job: str, at: datetime) -> bool:
    return stack.on_bot(lambda: stack.runtime.jobs.fire(job, at))


def channel(stack: Stack) -> list[Message]:
    """What the channel reads, but the summary's chart (or the line saying the ledger has none to draw yet)."""
    return [m for m in stack.slack.messages() if not m.ephemeral and not m.files and not m.text.startswith("No account chart yet")]


def check_now(stack: Stack, clock: ManualClock, *, balance: str | None = None) -> list[str]:
    """Moves the clock to the next check time, sets the balance, fires the check; returns what it posted."""
    at = clock.advance(CHECK_EVERY)
    if balance is not None:
        stack.sandbox.account.set_balance(balance, at)
    before = len(channel(stack))
    assert fire(stack, CHECK, at) is True
    return told(channel(stack)[before:])


def told(messages: list[Message]) -> list[str]:
    """The texts posted, a reply in a thread marked "↳ "."""
    return [("↳ " if m.thread_ts else "") + m.text for m in messages]


LOW_1000 = "Balance 1,000.00 covers 2.8 days of the 350.00 total daily budget."
RISK_102_1000 = "Loser DE (102) has a daily budget of 200.00, HIGH risk against the 1,000.00 balance."
RAISED_1000 = f"2 alerts need attention:\n• {RISK_102_1000}\n• {LOW_1000}"  # the most severe first


# --- the daily summary -------------------------------------------------------------------------


def test_summary_posts_once_per_fire_time_even_when_fired_twice(stack: Stack, clock: ManualClock) -> None:
    assert fire(stack, SUMMARY, MORNING + timedelta(milliseconds=300)) is True
    # The same morning again: a retry, a second replica, a late misfire: nothing more.
    assert fire(stack, SUMMARY, MORNING + timedelta(seconds=3)) is False
    assert fire(stack, SUMMARY, MORNING + timedelta(minutes=4)) is False
    [first] = channel(stack)
    assert first.text == (
        "Daily budget summary: balance 5,000.00, runway 18.8 days, total daily budget 350.00, 0 campaign(s) at risk"
    )
    assert first.blocks[0]["text"]["text"] == "Daily budget summary"

    # The next morning, fired twice at once: one of the two runs it.
    tomorrow = clock.advance(days=1)

    async def twice() -> list[bool]:
        jobs = stack.runtime.jobs
        return list(await asyncio.gather(jobs.fire(SUMMARY, tomorrow), jobs.fire(SUMMARY, tomorrow)))

    assert sorted(stack.on_bot(twice)) == [False, True]
    assert [m.text for m in channel(stack)] == [
        first.text,
        # Window 02-27..03-05 holds six recorded days: 6 × 265 = 1,590.00, 227.14 a day, 5000 / 227.14 = 22.0 days.
        "Daily budget summary: balance 5,000.00, runway 22.0 days, total daily budget 350.00, 0 campaign(s) at risk",
    ]
    assert stack.slack.calls_to("chat.postMessage")[-1].args["channel"] == "C0BUDGET"


def test_the_scheduler_runs_the_jobs_at_the_clock_time(stack: Stack, clock: ManualClock) -> None:
    """What APScheduler calls, `run_summary` / `run_check`, fires for the clock's time."""
    stack.on_bot(stack.runtime.jobs.run_summary)
    stack.on_bot(stack.runtime.jobs.run_summary)
    assert len(channel(stack)) == 1
    assert channel(stack)[0].text.startswith("Daily budget summary: balance 5,000.00")

    stack.sandbox.account.set_balance("1000.00", clock())
    stack.on_bot(stack.runtime.jobs.run_check)
    stack.on_bot(stack.runtime.jobs.run_check)
    assert told(channel(stack)[1:]) == [RAISED_1000]
    assert len(stack.requests("GET", "/adv/balance")) == 2  # one summary, one check: the second fire did nothing


def test_a_summary_the_ad_platform_cannot_give_says_why_in_the_channel(stack: Stack) -> None:
    stack.sandbox.faults.fail_next("GET", "/adv/balance", 500, times=4)
    assert fire(stack, SUMMARY, MORNING) is True
    [notice] = channel(stack)
    assert notice.text.startswith(
        "Could not prepare the daily budget summary: PropellerAds server error (500) on GET /adv/balance"
    )
    assert notice.blocks[0]["text"]["text"] == f":x: {notice.text}"
    # The same morning is not tried again by another fire; the next morning runs normally.
    assert fire(stack, SUMMARY, MORNING + timedelta(seconds=5)) is False
    assert fire(stack, SUMMARY, MORNING + timedelta(days=1)) is True
    assert channel(stack)[-1].text.startswith("Daily budget summary: balance 5,000.00")
    assert len(channel(stack)) == 2


def test_triggers_give_the_configured_local_time_and_interval(stack: Stack) -> None:
    found = triggers(BERLIN, time(9, 0), 15)
    summary, check = found[SUMMARY], found[CHECK]
    assert isinstance(summary, CronTrigger) and isinstance(check, IntervalTrigger)
    utc = timezone.utc
    # 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer time (from 2024-03-31).
    assert summary.get_next_fire_time(None, datetime(2024, 3, 4, 7, 0, tzinfo=utc)) == datetime(2024, 3, 4, 8, 0, tzinfo=utc)
    assert summary.get_next_fire_time(None, datetime(2024, 3, 4, 8, 1, tzinfo=utc)) == datetime(2024, 3, 5, 8, 0, tzinfo=utc)
    assert summary.get_next_fire_time(None, datetime(2024, 4, 2, 6, 0, tzinfo=utc)) == datetime(2024, 4, 2, 7, 0, tzinfo=utc)
    assert check.interval == timedelta(minutes=15)
    assert check.get_next_fire_time(None, datetime(2024, 3, 4, 10, 7, 30, tzinfo=utc)) == datetime(2024, 3, 4, 10, 15, tzinfo=utc)

    # The running bot's scheduler is built from its settings the same way.
    scheduler = build_scheduler(stack.runtime.jobs)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {SUMMARY, CHECK}
    assert str(jobs[SUMMARY].trigger) == str(summary)
    assert jobs[CHECK].trigger.interval == timedelta(minutes=15)
    assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())


def test_replicas_with_clocks_a_little_apart_name_the_same_slot() -> None:
    assert check_slot(datetime(2024, 3, 4, 10, 14, 59, 500000, tzinfo=timezone.utc), 15) == "2024-03-04T10:15Z"
    assert check_slot(datetime(2024, 3, 4, 10, 15, 0, 400000, tzinfo=timezone.utc), 15) == "2024-03-04T10:15Z"
    assert check_slot(datetime(2024, 3, 4, 10, 30, 0, tzinfo=timezone.utc), 15) == "2024-03-04T10:30Z"
    nine = time(9, 0)
    assert summary_slot(datetime(2024, 3, 4, 7, 59, 58, tzinfo=timezone.utc), BERLIN, nine) == "2024-03-04"
    assert summary_slot(datetime(2024, 3, 4, 8, 0, 2, tzinfo=timezone.utc), BERLIN, nine) == "2024-03-04"
    assert summary_slot(datetime(2024, 3, 5, 8, 0, tzinfo=timezone.utc), BERLIN, nine) == "2024-03-05"


# --- deduplicated alerts -----------------------------------------------------------------------


def test_low_balance_is_raised_once_worsens_and_resolves(stack: Stack, clock: ManualClock) -> None:
    """New alerts of a check go out in one message; later changes of each go to the thread of the message that told it."""
    assert check_now(stack, clock) == []  # 5,000.00: nothing needs attention

    # 1,000.00 covers 1000 / 350 = 2.8 days: a warning; 102's 200.00 is 20% of it: HIGH.
    assert check_now(stack, clock, balance="1000.00") == [RAISED_1000]
    first = channel(stack)[-1]
    assert check_now(stack, clock) == []
    assert check_now(stack, clock) == []

    # 400.00 covers 1.1 days (under 1.5: serious); runway 400 / 265 = 1.5 days; 101 (25%) and 103 (12.5%) join 102.
    assert check_now(stack, clock, balance="400.00") == [
        "↳ Worse: Balance 400.00 covers 1.1 days of the 350.00 total daily budget.",
        "3 alerts need attention:\n"
        "• Winner &amp; Co &lt;US&gt; (101) has a daily budget of 100.00, HIGH risk against the 400.00 balance.\n"
        "• Steady FR (103) has a daily budget of 50.00, HIGH risk against the 400.00 balance.\n"
        "• At the last 7 days' spend the balance runs out in 1.5 days.",
    ]
    assert channel(stack)[-2].thread_ts == first.ts
    assert check_now(stack, clock) == []

    # 150.00 is less than 102's daily budget: CRITICAL.
    worse = check_now(stack, clock, balance="150.00")
    assert worse == [
        "↳ Worse: Balance 150.00 covers 0.4 days of the 350.00 total daily budget.",
        "↳ Worse: At the last 7 days' spend the balance runs out in 0.5 days.",
        "↳ Worse: Loser DE (102) has a daily budget of 200.00, CRITICAL risk against the 150.00 balance.",
    ]
    severities = [m.blocks[0]["text"]["text"].split(" ")[0] for m in channel(stack)[-3:]]
    assert severities == [":red_circle:"] * 3

    resolved = check_now(stack, clock, balance="5000.00")
    assert sorted(resolved) == sorted([
        "↳ Resolved: Balance 150.00 covers 0.4 days of the 350.00 total daily budget.",
        "↳ Resolved: At the last 7 days' spend the balance runs out in 0.5 days.",
        "↳ Resolved: Loser DE (102) has a daily budget of 200.00, CRITICAL risk against the 150.00 balance.",
        "↳ Resolved: Winner &amp; Co &lt;US&gt; (101) has a daily budget of 100.00, HIGH risk against the 150.00 balance.",
        "↳ Resolved: Steady FR (103) has a daily budget of 50.00, HIGH risk against the 150.00 balance.",
    ])
    assert check_now(stack, clock) == []
    # Low again a quarter of an hour after resolving: flapping, told in the thread, not to the channel.
    assert check_now(stack, clock, balance="1000.00") == [f"↳ Back again: {LOW_1000}", f"↳ Back again: {RISK_102_1000}"]
    assert check_now(stack, clock, balance="5000.00") == [f"↳ Resolved: {LOW_1000}", f"↳ Resolved: {RISK_102_1000}"]
    # Low again more than an hour after it resolved: news again, in a new message.
    clock.advance(timedelta(hours=1))
    assert check_now(stack, clock, balance="1000.00") == [RAISED_1000]


def test_token_refused_alert_once_then_resolved_without_touching_other_alerts(stack: Stack, clock: ManualClock) -> None:
    assert check_now(stack, clock, balance="1000.00") == [RAISED_1000]

    stack.sandbox.token = "revoked"
    refused = check_now(stack, clock)
    assert len(refused) == 1
    assert refused[0].startswith("Needs attention: PropellerAds refused the bot's API token: ")
    assert channel(stack)[-1].blocks[0]["text"]["text"].startswith(":red_circle: *Needs attention:*")
    # A check that cannot read the account says nothing about the balance, and repeats nothing.
    assert check_now(stack, clock) == []
    assert check_now(stack, clock) == []

    stack.sandbox.token = stack.settings.propellerads_api_token.get_secret_value()
    assert check_now(stack, clock) == ["↳ " + refused[0].replace("Needs attention:", "Resolved:")]
    assert check_now(stack, clock) == []  # the low balance was never forgotten, so it is not raised again


def test_a_restart_neither_repeats_nor_forgets_alerts_or_runs(tmp_path: Path, clock: ManualClock) -> None:
    with running_stack(tmp_path, clock=clock, rules=[], **SCHEDULE) as first:
        assert fire(first, SUMMARY, MORNING) is True
        assert check_now(first, clock, balance="1000.00") == [RAISED_1000]
        last_check = clock()

    # A new process on the same SQLite file (the account at the sandbox is unchanged: balance 1,000.00).
    with running_stack(tmp_path, clock=clock, rules=[], **SCHEDULE) as second:
        second.sandbox.account.set_balance("1000.00", clock())
        assert fire(second, SUMMARY, MORNING + timedelta(seconds=1)) is False
        assert fire(second, CHECK, last_check) is False
        assert channel(second) == []
        assert check_now(second, clock) == []
        assert sorted(check_now(second, clock, balance="5000.00")) == sorted(
            f"↳ Resolved: {r}" for r in (LOW_1000, RISK_102_1000)
        )


def test_a_scheduled_check_posts_proposals_once(tmp_path: Path, clock: ManualClock) -> None:
    with running_stack(tmp_path, clock=clock, **SCHEDULE) as stack:
        assert check_now(stack, clock) == [
            "Proposal #1: Loser DE daily budget 200.00 → 160.00",
            "Proposal #2: Winner &amp; Co &lt;US&gt; daily budget 100.00 → 120.00",
        ]
        # The same verdicts at the next check: kept, not posted again.
        assert check_now(stack, clock) == []
        assert stack.slack.calls_to("chat.update") == []


def test_a_check_asked_for_while_the_scheduled_one_runs_posts_each_alert_once(stack: Stack, clock: ManualClock) -> None:
    """Someone types /budget check just as the scheduled check fires, with the ad API slow: the two overlap."""
    at = clock.advance(CHECK_EVERY)
    stack.sandbox.account.set_balance("1000.00", at)
    stack.sandbox.faults.latency = 0.3
    ack = stack.slack.sync.send_command("check", user_id="U0APPROVER")
    assert fire(stack, CHECK, at) is True
    stack.slack.sync.wait_for_message(
        lambda m: m.via == "response_url" and m.text.startswith("Health check done"), since=ack.mark
    )
    alerts = [m.text for m in channel(stack) if "need attention" in m.text]
    assert alerts == [RAISED_1000]


def test_the_check_run_at_start_leaves_the_interval_on_the_shared_times(stack: Stack) -> None:
    # Giving the interval job a first run "now" made every later run now + k × interval: off the times
    # the replicas share, so the one at a shared time never ran.
    now = stack.runtime.jobs.clock()
    scheduler = build_scheduler(stack.runtime.jobs, check_now=True)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {SUMMARY, CHECK, f"{CHECK}_at_start"}
    at_start = jobs[f"{CHECK}_at_start"].trigger
    assert isinstance(at_start, DateTrigger) and at_start.run_date == now
    check = jobs[CHECK]
    first = getattr(check, "next_run_time", None) or check.trigger.get_next_fire_time(None, now)
    later = check.trigger.get_next_fire_time(first, first)
    period = timedelta(minutes=stack.runtime.jobs.check_minutes)
    assert (first - EPOCH) % period == timedelta(0) and (later - EPOCH) % period == timedelta(0), (first, later)


def test_a_store_that_cannot_be_asked_for_the_claim_skips_the_fire_time_and_says_so(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """All of the store's connections busy (a pool timeout): the job is not run for that fire time, the log says
    why, and the scheduler is not handed an exception; the next fire time runs."""
    service = stack.runtime.service
    claim = service.claim_run

    async def busy(*args: object, **kwargs: object) -> bool:
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached")

    service.claim_run = busy  # type: ignore[method-assign]
    assert fire(stack, CHECK, MORNING) is False
    assert any("not run" in r.getMessage() and "store did not answer" in r.getMessage() for r in caplog.records)
    service.claim_run = claim  # type: ignore[method-assign]
    assert fire(stack, CHECK, MORNING + CHECK_EVERY) is True
