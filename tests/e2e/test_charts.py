"""Charts in the channel over real HTTP: drawn from the spend ledger, uploaded through slack_sdk's files_upload_v2
to the Slack stand-in, with the words that carry their figures; skipped in words when the ledger has nothing yet."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.notify import ChartPosted
from bot.scheduler import SUMMARY
from sandbox.adplatform import ManualClock
from sandbox.slack.model import Message, png_size
from tests.harness import APPROVER, CHANNEL, NOW, Stack, running_stack

WAIT = 30.0
CHART_SIZE = (1000, 625)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path, clock=ManualClock(NOW), rules=[]) as running:
        yield running


def backfilled(stack: Stack) -> Stack:
    """The ledger holds the exact account's 8 whole days before today (265.00 spent on each)."""
    assert stack.on_bot(stack.runtime.service.backfill_ledger) >= 1
    return stack


def shared_charts(stack: Stack) -> list[Message]:
    return [m for m in stack.slack.messages(CHANNEL) if m.files]


def uploaded_png(stack: Stack, message: Message) -> bytes:
    [file] = message.files
    found = stack.slack.file(file["id"])
    assert found is not None and found.data is not None
    return found.data


def test_the_account_chart_goes_up_in_three_calls_as_a_png_with_its_figures_in_words(stack: Stack) -> None:
    backfilled(stack)
    before = len(stack.slack.calls)
    assert stack.on_bot(stack.runtime.notifier.post_account_chart) is ChartPosted.POSTED

    methods = [c.method for c in stack.slack.calls[before:]]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    [chart] = shared_charts(stack)
    png = uploaded_png(stack, chart)
    assert png_size(png) == CHART_SIZE and chart.files[0]["mimetype"] == "image/png"
    assert "Spend per ad day" in chart.files[0]["title"] and "USD" in chart.files[0]["title"]
    # What the picture shows, the words say: 8 days of 90 + 150 + 20 + 5.
    assert "2,120.00 USD over 8 days" in chart.text
    assert "02-25 265.00" in chart.text and "03-03 265.00" in chart.text
    assert "Total daily budget on Mar 03: 350.00 USD" in chart.text


def test_the_daily_summary_posts_the_account_chart_after_its_figures(stack: Stack) -> None:
    backfilled(stack)
    at = NOW.replace(hour=9)
    assert stack.on_bot(lambda: stack.runtime.jobs.fire(SUMMARY, at)) is True
    posted = [m for m in stack.slack.messages(CHANNEL)]
    summary = next(i for i, m in enumerate(posted) if m.text.startswith("Daily budget summary"))
    chart = next(i for i, m in enumerate(posted) if m.files)
    assert summary < chart
    assert png_size(uploaded_png(stack, posted[chart])) == CHART_SIZE
    assert "Balance 5,000.00 USD" in posted[chart].text


def test_a_summary_with_no_ledger_days_skips_the_chart_and_the_job_goes_on(stack: Stack) -> None:
    """The summary's text carries the figures; a chart with nothing to draw adds no message of its own."""
    assert stack.on_bot(lambda: stack.runtime.jobs.fire(SUMMARY, NOW.replace(hour=9))) is True
    texts = [m.text for m in stack.slack.messages(CHANNEL)]
    assert len(texts) == 1 and texts[0].startswith("Daily budget summary")
    assert shared_charts(stack) == [] and stack.slack.calls_to("files.getUploadURLExternal") == []


def test_a_refused_upload_is_logged_not_raised(stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    backfilled(stack)
    stack.slack.rate_limit("files.getUploadURLExternal", times=5, retry_after=0)
    assert stack.on_bot(stack.runtime.notifier.post_account_chart) is ChartPosted.FAILED
    assert shared_charts(stack) == []
    assert any("could not upload spend-" in r.getMessage() and "ratelimited" in r.getMessage() for r in caplog.records)


def test_budget_check_posts_todays_pacing_chart(stack: Stack) -> None:
    ack = stack.slack.sync.send_command("check", user_id=APPROVER)
    chart = stack.slack.sync.wait_for_message(lambda m: bool(m.files), since=ack.mark, timeout=WAIT)
    assert png_size(uploaded_png(stack, chart)) == CHART_SIZE
    # The check sampled today at 12:00 UTC, 07:00 on the ad account's clock (EST): whatever the sandbox's campaigns
    # spent by then, the words carry it and the even pace of the working campaigns' 350.00 (Paused BR's 80 left out).
    assert chart.text.startswith("*Spend today* Mon Mar 04 (EST), at 07:00: ")
    assert "against 102.08 USD at an even pace of 350.00 USD total daily budget" in chart.text, "7 of 24 hours of 350.00"


def test_the_chart_button_on_a_campaign_status_posts_its_fourteen_days(stack: Stack) -> None:
    backfilled(stack)
    ack = stack.slack.sync.send_command("status 101", user_id=APPROVER)
    status = stack.slack.sync.wait_for_message(lambda m: m.ephemeral and "Chart" in m.all_text, since=ack.mark, timeout=WAIT)
    click = stack.slack.sync.click(status.ts, "campaign_chart", user_id=APPROVER)
    assert click.ok
    chart = stack.slack.sync.wait_for_message(lambda m: bool(m.files), since=click.mark, timeout=WAIT)
    assert not chart.ephemeral and chart.channel == CHANNEL
    assert png_size(uploaded_png(stack, chart)) == CHART_SIZE
    assert chart.text.startswith("*Winner &amp; Co &lt;US&gt; (101)*")
    assert "spent 720.00 USD, 100 conversions over 8 days" in chart.text


def test_the_idle_bot_never_loads_matplotlib(tmp_path: Path) -> None:
    probe = f"""
import sys
from bot.server import build_web_app
from bot.runtime import Runtime
from tests.harness import bot_settings
runtime = Runtime.build(bot_settings("http://127.0.0.1:9/v5", "http://127.0.0.1:9", "sqlite+aiosqlite:///{tmp_path / 'idle.db'}"))
build_web_app(runtime)
import bot.charts
assert "matplotlib" not in sys.modules, "loaded while idle"
print("idle without matplotlib")
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "idle without matplotlib"
