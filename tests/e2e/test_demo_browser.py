"""The README's demo in a real browser: status, check, approve with confirm, the sandbox budget changed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("BUDGET_BOT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Demo:
    page_url: str
    ads_admin: str
    process: subprocess.Popen[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """`budget-bot demo` as a user runs it, in its own process, from a scratch directory."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--port", str(_free_port())],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    page_url = ads_api = None
    assert process.stdout is not None
    for line in process.stdout:  # the demo prints its URLs once everything listens
        if found := re.search(r"Open (http://\S+) in a browser", line):
            page_url = found.group(1)
        if found := re.search(r"sandbox PropellerAds API: (http://\S+)/v5", line):
            ads_api = found.group(1)
            break
    if not page_url or not ads_api:
        process.kill()
        pytest.fail(f"the demo did not start: {process.stdout.read()}")
    try:
        yield Demo(page_url, ads_api + "/_sandbox", process)
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0, "the demo did not stop cleanly on SIGTERM"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_demo_story_in_the_browser(demo: Demo, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(demo.page_url)

            page.fill("#composer", "/budget status")
            page.press("#composer", "Enter")
            status = page.locator('.message[data-ephemeral="true"]', has_text="Balance").last
            expect(status).to_be_visible(timeout=15_000)
            expect(status).to_contain_text("Runway")

            page.fill("#composer", "/budget check")
            page.press("#composer", "Enter")
            expect(page.locator(".message", has_text="Health check done")).to_be_visible(timeout=20_000)

            proposal = page.locator(".message", has=page.get_by_role("button", name="Approve")).first
            expect(proposal).to_be_visible(timeout=10_000)
            heading = proposal.inner_text()
            # The campaign's ID ends the heading line: "Name (123)", or the name itself when it carries it.
            found = re.search(r"Proposal #\d+: [^\n]*?(\d+)\)?\n.*?([\d,]+\.\d\d) → ([\d,]+\.\d\d)", heading, re.S)
            assert found, heading
            campaign_id, proposed = int(found.group(1)), Decimal(found.group(3).replace(",", ""))
            ts = proposal.get_attribute("data-ts")

            proposal.get_by_role("button", name="Approve").click()
            expect(page.locator("#confirm-dialog")).to_be_visible()
            page.click("#confirm-ok")

            decided = page.locator(f'.message[data-ts="{ts}"]')
            expect(decided).to_contain_text("Approved by", timeout=20_000)
            expect(decided).to_contain_text("applied")
            expect(decided.get_by_role("button", name="Approve")).to_have_count(0)
            page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
        finally:
            browser.close()

    live = httpx.get(f"{demo.ads_admin}/campaigns/{campaign_id}", timeout=10).json()
    assert Decimal(str(live["limit_daily_amount"])) == proposed


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_demo_charts_table_and_app_home_in_the_browser(demo: Demo, tmp_path: Path) -> None:
    """The daily summary with its chart image and top-campaign table, a campaign's Chart button posting its chart,
    and a proposal approved from App Home, as a user sees them. BUDGET_BOT_DEMO_SCREENSHOT names a file to keep the
    channel's screenshot in (docs/demo.png is made so)."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1500})
            page.goto(demo.page_url)

            summary = page.locator(".message", has_text="Daily budget summary").first
            expect(summary).to_be_visible(timeout=20_000)
            expect(summary).to_contain_text("Top campaigns by spend")
            expect(summary).to_contain_text("Since yesterday")
            account_chart = page.locator("figure.shared-file", has_text="Spend per ad day").first
            expect(account_chart).to_be_visible(timeout=20_000)
            expect(account_chart.locator("img.shared-image")).to_have_js_property("complete", True)
            assert account_chart.locator("img.shared-image").evaluate("img => img.naturalWidth") > 0
            summary.evaluate("el => el.scrollIntoView()")
            screenshot = os.environ.get("BUDGET_BOT_DEMO_SCREENSHOT")
            page.screenshot(path=screenshot or str(tmp_path / "channel.png"))

            page.fill("#composer", "/budget status 9419857")
            page.press("#composer", "Enter")
            status = page.locator('.message[data-ephemeral="true"]', has=page.get_by_role("button", name="Chart")).last
            expect(status).to_be_visible(timeout=20_000)
            status.get_by_role("button", name="Chart").click()
            campaign_chart = page.locator("figure.shared-file", has_text="9419857").last
            expect(campaign_chart).to_be_visible(timeout=20_000)
            assert campaign_chart.locator("img.shared-image").evaluate("img => img.naturalWidth") > 0

            page.click("#tab-home")
            home = page.locator("#home-pane")
            expect(home).to_contain_text("proposal(s) waiting for a decision", timeout=20_000)
            approve = home.get_by_role("button", name="Approve").first
            expect(approve).to_be_visible(timeout=20_000)
            approve.click()
            expect(page.locator("#confirm-dialog")).to_be_visible()
            page.click("#confirm-ok")
            expect(home).to_contain_text("Approved by", timeout=20_000)
            expect(home).to_contain_text("applied")
        finally:
            browser.close()
