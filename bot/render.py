"""Block Kit messages built from core values, with a plain-text fallback on every one."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from collections.abc import Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Option,
    OverflowMenuElement,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    ImageBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.blocks.basic_components import ConfirmObject
from slack_sdk.models.views import View

from core.alerts import Alert, AlertChange, ChangeKind
from core.errors import PropellerAdsError
from core.health import HealthReport
from core.models import CampaignStatus, carries_id, named
from core.money import DEFAULT_CURRENCY, fmt_amount, fmt_days, fmt_money, fmt_percent
from core.pacing import CampaignPacing
from core.proposals import BOT_ACTOR, OUTCOME_OF, ActionKind, AuditAction, AuditEntry, Decision, Outcome, Proposal, ProposalState, RuleMode
from core.automation import AutomationState
from core.policy import HeldBack
from core.digest import CampaignChange, ChangeKind as CampaignChangeKind, Digest, TopCampaign
from core.service import Backtest, BacktestRow, CampaignLookup, CampaignStatusReport, CheckResult, MoneyWatch, RuleReport, RuleTotals, Summary

Message = dict[str, Any]

APPROVE = "proposal_approve"
REJECT = "proposal_reject"
EDIT = "proposal_edit"
UNDO = "proposal_undo"
EDIT_VIEW = "proposal_edit_submit"
EDIT_BLOCK = "amount"
EDIT_INPUT = "amount_input"

MAX_BLOCKS = 50
AUTOMATION_TOGGLE = "automation_toggle"
CAMPAIGN_CHART = "campaign_chart"
UNDO_IN_HISTORY = 5
"""The most recent applied changes `/budget history` offers to undo, each with its button."""
MAX_SECTION_TEXT = 3000
MAX_LISTED = 10
SEVERITY_ICON = {1: ":large_yellow_circle:", 2: ":large_orange_circle:", 3: ":red_circle:"}

USAGE = (
    "*`/budget status`*: balance, runway, total daily budget, campaigns at risk, recommendations\n"
    "*`/budget status <campaign id or part of its name>`*: one campaign: limit, spend, conversions, CPA, pacing\n"
    "*`/budget check`*: run a health check now and post what it finds to the channel\n"
    "*`/budget proposals`*: the budget changes waiting for a decision\n"
    "*`/budget history [campaign id]`*: who changed which daily budget, and how it went\n"
    "*`/budget rules`*: the rules in plain words, their mode, when each last fired and what it did\n"
    "*`/budget automation [on|off]`*: whether rules in auto mode act on their own (approvers switch it)\n"
    "*`/budget backtest [rule]`*: what the rules would have done over the last 14 days, and what those campaigns then spent\n"
    "*`/budget help`*: this list"
)


def escape(text: object) -> str:
    """mrkdwn-escapes text from outside (campaign names!) so it cannot format or mention."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _message(text: str, blocks: Sequence[Block]) -> Message:
    blocks = list(blocks)[:MAX_BLOCKS]
    return {"text": text, "blocks": [b.to_dict() for b in blocks]}


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=_clip(text, MAX_SECTION_TEXT))


def _section(text: str, **kwargs: Any) -> SectionBlock:
    return SectionBlock(text=_md(text), **kwargs)


def _fields(pairs: Sequence[tuple[str, str]]) -> SectionBlock:
    return SectionBlock(fields=[_md(f"*{label}*\n{value}") for label, value in pairs[:10]])


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[_md(text)])


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    # Never end on half an entity (&am…) or half a mention (<@U0…): Slack would show it raw.
    return _HALF_MARKUP.sub("", text[: limit - 1]) + "…"


_HALF_MARKUP = re.compile(r"(&(amp|am|a|lt|l|gt|g)?|<@[A-Z0-9]*)$")


def _days(value: Decimal | None) -> str:
    return fmt_days(value)


def _pct(share: Decimal | None) -> str:
    return "-" if share is None else fmt_percent(share)


# --- health ------------------------------------------------------------------------------------


def summary(s: Summary, *, title: str, late: str | None = None, currency: str = DEFAULT_CURRENCY) -> Message:
    """A posted summary (the daily one, or a check's): the health, today's pacing, the top campaigns, what changed
    since yesterday, the open alerts and the winners held back."""
    return health_summary(
        s.report, title=title, late=late, today=s.today, currency=currency, held=s.held, digest=s.digest,
        open_alerts=s.open_alerts,
    )


def health_summary(
    report: HealthReport, *, title: str = "Budget health", late: str | None = None,
    today: MoneyWatch | None = None, currency: str = DEFAULT_CURRENCY, held: HeldBack | None = None,
    digest: Digest | None = None, open_alerts: Sequence[Alert] | None = None,
) -> Message:
    """The account's health, and its pacing `today` when the spend ledger has it; `late` says why a scheduled
    summary comes after its time; `held` names the winners the guardrails kept from scaling; `digest` the top
    campaigns and what changed since yesterday; `open_alerts` the alerts that hold."""
    risks = report.campaigns_at_risk
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=_clip(title, 150)))]
    if late:
        blocks.append(_context(f":hourglass: {escape(late)}"))
    blocks += [
        _fields(
            [
                ("Balance", fmt_amount(report.balance, currency)),
                # Side by side: how long the balance lasts at what is spent, and at what may be spent.
                ("Runway", f"{_days(report.runway_days)} at the {fmt_amount(report.average_daily_spend, currency)} a day spent"),
                ("Total daily budget", fmt_amount(report.total_daily_budget, currency)),
                ("Budget covered", f"{_days(report.budget_days)} at the {fmt_amount(report.total_daily_budget, currency)} a day budgeted"),
                ("Working campaigns", f"{len(report.active_campaigns)} ({len(report.unlimited_campaigns)} without a limit)"),
                (f"Spend, last {report.window_days} days", fmt_amount(report.window_spend, currency)),
            ]
        ),
    ]
    if today is not None:
        blocks.append(_section(_account_pacing(today, currency)))
    if digest is not None:
        blocks += _digest_blocks(digest, currency)
    if risks:
        lines = [
            f"• {_bold_named(r.name, r.id)}: {fmt_amount(r.daily_budget, currency)} a day, {_pct(r.share_of_balance)} of the balance, *{r.risk_level.value}*"
            for r in risks[:MAX_LISTED]
        ]
        if len(risks) > MAX_LISTED:
            lines.append(f"…and {len(risks) - MAX_LISTED} more")
        blocks.append(_section(f":warning: *Campaigns at risk ({len(risks)})*\n" + "\n".join(lines)))
    else:
        blocks.append(_section(":white_check_mark: No daily budget is out of proportion to the balance."))
    if report.recommendations:
        recs = [f"• `{r.code.value}` {escape(r.message)}" for r in report.recommendations[:MAX_LISTED]]
        blocks.append(_section("*Recommendations*\n" + "\n".join(recs)))
    if open_alerts is not None:
        blocks.append(_section(_open_alerts_words(open_alerts)))
    if held is not None:
        blocks.append(_section(f":seedling: {held_back_words(held, currency)}"))
    blocks.append(_context(f"Read {report.generated_at:%Y-%m-%d %H:%M} UTC · spend window {report.window_from} to {report.window_to}"))
    text = (
        f"{title}{' (late)' if late else ''}: balance {fmt_money(report.balance)}, runway {_days(report.runway_days)}, "
        f"total daily budget {fmt_money(report.total_daily_budget)}, {len(risks)} campaign(s) at risk"
    )
    return _message(text, blocks)


def held_back_words(held: HeldBack, currency: str = DEFAULT_CURRENCY) -> str:
    """"3 campaigns would scale: top up 1,200.00 USD to let them", and what the cap holds back."""
    n = held.campaigns
    lead = f"{n} campaign{'s' if n != 1 else ''} would scale (+{fmt_amount(held.wanted, currency)} a day)"
    parts = []
    if held.top_up > 0:
        parts.append(f"top up {fmt_amount(held.top_up, currency)} to let {'them' if n != 1 else 'it'}")
    if held.capped:
        parts.append(f"{held.capped} wait{'s' if held.capped == 1 else ''} for today's cap on increases to reset")
    return f"{lead}: {'; '.join(parts)}." if parts else f"{lead}."


def _moment(at: datetime | None, day: date) -> str:
    """A moment on the ad account's clock: "14:05", with the day when it is not the ad day meant."""
    if at is None:
        return "-"
    return f"{at:%H:%M}" if at.date() == day else f"{at:%a %d %b %H:%M}"


def _account_pacing(today: MoneyWatch, currency: str) -> str:
    pacing = today.pacing
    runs_out = (
        f"the balance runs out {_moment(pacing.runs_out_at, pacing.day)}" if pacing.runs_out_at else "nothing is spending the balance down"
    )
    return (
        f":chart_with_upwards_trend: *Today ({today.day_label})*: spent {fmt_amount(pacing.spent, currency)}, projected "
        f"{fmt_amount(pacing.projected, currency)} by the end of the ad day, {_pct(pacing.day_share)} of it gone; at the current "
        f"rate {runs_out}."
    )


TABLE_NAME_WIDTH = 24


def _table_name(name: str, campaign_id: int) -> str:
    shown = named(name, campaign_id) if name else str(campaign_id)
    return shown if len(shown) <= TABLE_NAME_WIDTH else shown[: TABLE_NAME_WIDTH - 1] + "…"


def _top_row(t: TopCampaign) -> str:
    cpa = fmt_money(t.cpa_yesterday) if t.cpa_yesterday is not None else "-"
    pace = _pct(t.budget_share) if t.budget_share is not None else "-"
    return (
        f"{_table_name(t.name, t.campaign_id):<{TABLE_NAME_WIDTH}} {fmt_money(t.spent_yesterday):>9} "
        f"{t.conversions_yesterday:>4} {cpa:>7} {fmt_money(t.spent_today):>9} {pace:>5}"
    )


def top_table(digest: Digest, currency: str) -> str:
    """The top campaigns as a fixed-width table: yesterday's spend, conversions and CPA, today's spend and the
    share of its daily budget; the currency in the heading."""
    head = f"{'Campaign':<{TABLE_NAME_WIDTH}} {'Yesterday':>9} {'Conv':>4} {'CPA':>7} {'Today':>9} {'Pace':>5}"
    lines = [head, *(_top_row(t) for t in digest.top)]
    more = f"\n…and {digest.more} more campaign{'s' if digest.more != 1 else ''} that spent." if digest.more else ""
    return (
        f"*Top campaigns by spend* ({currency}; Pace: share of today's daily budget spent)\n"
        + "```" + escape("\n".join(lines)) + "```" + more
    )


def _change_line(c: CampaignChange, currency: str) -> str:
    who = _bold_named(c.name, c.campaign_id)
    if c.kind is CampaignChangeKind.BUDGET:
        return f"• {who}: daily budget {fmt_amount(c.before, currency)} → {fmt_amount(c.after, currency)}"
    if c.kind is CampaignChangeKind.STARTED:
        return f"• {who} started working"
    label = CampaignStatus(c.status).label if c.status in CampaignStatus._value2member_map_ else f"status {c.status}"
    return f"• {who} stopped working ({label})"


def _decided_line(e: AuditEntry, currency: str) -> str:
    change = ""
    if e.to_amount is not None or e.from_amount is not None:
        change = f" {fmt_amount(e.from_amount, currency)} → {fmt_amount(e.to_amount, currency)}"
    return f"• {_bold_named(e.campaign_name, e.campaign_id)}:{change} {escape(str(e.action))} ({_who(e.actor)}, {e.at:%a %H:%M} UTC)"


def changes_words(digest: Digest, currency: str) -> str:
    """What changed since yesterday: daily budgets, starts and stops, and how proposals ended."""
    if digest.quiet:
        return ":memo: *Since yesterday*: no daily budget changed, no campaign started or stopped, no proposal ended."
    lines = [_change_line(c, currency) for c in digest.changes] + [_decided_line(e, currency) for e in digest.decided]
    shown = lines[:MAX_LISTED]
    if len(lines) > MAX_LISTED:
        shown.append(f"…and {len(lines) - MAX_LISTED} more; `/budget history` lists the decisions.")
    return ":memo: *Since yesterday*\n" + "\n".join(shown)


def _digest_blocks(digest: Digest, currency: str) -> list[Block]:
    blocks: list[Block] = []
    if digest.top:
        blocks.append(_section(_clip(top_table(digest, currency), MAX_SECTION_TEXT)))
    else:
        blocks.append(_section("*Top campaigns by spend*: no campaign spent yesterday or today."))
    blocks.append(_section(_clip(changes_words(digest, currency), MAX_SECTION_TEXT)))
    return blocks


def _open_alerts_words(alerts: Sequence[Alert]) -> str:
    if not alerts:
        return ":white_check_mark: No open alerts."
    lines = [f"• {SEVERITY_ICON.get(a.severity, '')} {escape(a.summary)}" for a in alerts[:MAX_LISTED]]
    if len(alerts) > MAX_LISTED:
        lines.append(f"…and {len(alerts) - MAX_LISTED} more; `/budget status` shows the account.")
    return _clip(f":rotating_light: *Open alerts ({len(alerts)})*\n" + "\n".join(lines), MAX_SECTION_TEXT)


def _campaign_pacing(pacing: CampaignPacing, label: str, currency: str) -> SectionBlock:
    if pacing.capped:
        cap = f"hit at {_moment(pacing.cap_at, pacing.day)}" if pacing.cap_at else "hit"
    elif pacing.daily_budget is None:
        cap = "no daily limit"
    else:
        cap = f"at {_moment(pacing.cap_at, pacing.day)} at the current rate" if pacing.cap_at else "not today at the current rate"
    return _fields(
        [
            (f"Share of daily budget ({label})", _pct(pacing.budget_share) if pacing.budget_share is not None else "-"),
            ("Share of the ad day gone", _pct(pacing.day_share)),
            ("Projected end-of-day spend", fmt_amount(pacing.projected, currency)),
            (f"Daily budget cap ({label})", cap),
        ]
    )


def campaign_status(status: CampaignStatusReport, *, currency: str = DEFAULT_CURRENCY) -> Message:
    c = status.campaign
    pacing = status.pacing
    if pacing is None:
        pace = "no daily limit" if c.daily_budget is None else "-"
    else:
        word = "on pace" if Decimal("0.8") <= pacing <= Decimal("1.2") else ("ahead of pace" if pacing > 1 else "behind pace")
        pace = f"{_pct(pacing)} of an even spread ({word}); {_pct(status.day_elapsed)} of the day gone"
    blocks = [
        HeaderBlock(text=PlainTextObject(text=_clip(named(c.name, c.id), 150))),
        _fields(
            [
                ("Status", c.status_label + (" (archived)" if c.is_archived else "")),
                ("Daily budget", fmt_amount(c.daily_budget, currency)),
                (f"Spend today ({status.day_label})", fmt_amount(status.today.spent, currency)),
                ("Spend yesterday", fmt_amount(status.yesterday.spent, currency)),
                (f"Spend, last {status.window_days} days", fmt_amount(status.window.spent, currency)),
                (f"Conversions, last {status.window_days} days", str(status.window.conversions)),
                (f"CPA, last {status.window_days} days", fmt_amount(status.window_cpa, currency) if status.window_cpa is not None else "no conversions"),
                (f"Pacing today ({status.day_label})", pace),
            ]
        ),
    ]
    if status.today_pacing is not None:
        blocks.append(_campaign_pacing(status.today_pacing, status.day_label, currency))
    blocks.append(ActionsBlock(elements=[ButtonElement(text="Chart", action_id=CAMPAIGN_CHART, value=str(c.id))]))
    text = f"{named(c.name, c.id)}: {c.status_label}, daily budget {fmt_money(c.daily_budget)}, spent {fmt_money(status.today.spent)} today ({status.day_label})"
    return _message(escape(text), blocks)


def account_pick_list(verb: str, names: Sequence[str]) -> Message:
    """Several ad accounts could be meant: the command again with each one's name."""
    shown = [f"• `/budget {verb} {escape(name)}`" for name in names[:MAX_LISTED]]
    if len(names) > MAX_LISTED:
        shown.append(f"…and {len(names) - MAX_LISTED} more: start the account's name after `{verb}`.")
    return _message(
        f"Which ad account? {', '.join(names[:MAX_LISTED])}",
        [_section("*Which ad account?* Several are watched here; ask again with one:\n" + "\n".join(shown))],
    )


def campaign_pick_list(lookup: CampaignLookup, *, currency: str = DEFAULT_CURRENCY) -> Message:
    query = escape(lookup.query)
    if not lookup.matches:
        return _message(f"No campaign matches “{query}”.", [_section(f"No campaign matches “{query}”. Try its ID or another part of its name.")])
    lines = [f"• {_named_with_id(c.name, c.id)} ({c.status_label}, {_daily_budget(c.daily_budget, currency)})" for c in lookup.matches]
    if lookup.total > len(lookup.matches):
        lines.append(f"…and {lookup.total - len(lookup.matches)} more: ask with the ID or more of the name.")
    return _message(
        f"{max(lookup.total, len(lookup.matches))} campaigns match “{query}”",
        [_section(f"*Several campaigns match “{query}”*; ask again with the ID:\n" + "\n".join(lines))],
    )


def _named_with_id(name: str, campaign_id: int) -> str:
    """`123` Name, or Name `123` when the name already carries its ID: the ID shown once, marked."""
    safe = escape(name)
    if not carries_id(name, campaign_id):
        return f"`{campaign_id}` {safe}"
    return re.sub(rf"\b{campaign_id}\b", f"`{campaign_id}`", safe, count=1)


def _bold_named(name: str, campaign_id: int, *, lead: str = "") -> str:
    """*Name* (123), or *Name 123* when the name carries its ID; `lead` goes inside the bold."""
    bold = f"*{lead}{escape(name)}*"
    return bold if carries_id(name, campaign_id) else f"{bold} ({campaign_id})"


def _daily_budget(amount: Decimal | None, currency: str) -> str:
    return "no daily budget" if amount is None else f"daily budget {fmt_amount(amount, currency)}"


# --- alerts and checks -------------------------------------------------------------------------


ALERT_MENU = "alert_menu"
SNOOZES = {"snooze_1h": "Snooze 1 h", "snooze_4h": "Snooze 4 h", "snooze_tomorrow": "Snooze until tomorrow", "acknowledge": "Acknowledge"}
SEVERITY_WORDS = {3: "Critical", 2: "Serious", 1: "Warning"}


def _alert_menu(key: str) -> OverflowMenuElement:
    """Snooze and Acknowledge for one alert; the option's value names the choice and the alert."""
    return OverflowMenuElement(
        action_id=ALERT_MENU,
        options=[Option(text=label, value=f"{choice}|{key}"[:150]) for choice, label in SNOOZES.items()],
    )


def snoozed_words(a: Alert, now: datetime, zone: tzinfo) -> str:
    """What a snooze or an acknowledgement did, for the one who chose it."""
    what = escape(a.summary)
    if a.snoozed(now) and a.snoozed_until is not None:
        return f":zzz: Snoozed until {a.snoozed_until.astimezone(zone):%a %H:%M}: {what}"
    return f":eyes: Acknowledged: {what}"


def read_alert_choice(value: str) -> tuple[str, str] | None:
    """(choice, alert key) from a menu option, or None for a value the menu never sends."""
    choice, _, key = value.partition("|")
    return (choice, key) if choice in SNOOZES and key else None


def _alert_line(change: AlertChange) -> tuple[str, str]:
    """(plain text, mrkdwn) of one alert change."""
    if change.kind is ChangeKind.RESOLVED:
        return f"Resolved: {escape(change.summary)}", f":white_check_mark: *Resolved:* {escape(change.summary)}"
    icon = SEVERITY_ICON.get(change.severity, ":warning:")
    head = {ChangeKind.WORSENED: "Worse", ChangeKind.RETURNED: "Back again"}.get(change.kind, "Needs attention")
    return f"{head}: {escape(change.summary)}", f"{icon} *{head}:* {escape(change.summary)}"


def alert(change: AlertChange) -> Message:
    """One alert change; an alert that holds carries its Snooze / Acknowledge menu."""
    text, line = _alert_line(change)
    menu = None if change.kind is ChangeKind.RESOLVED else _alert_menu(change.key)
    return _message(text, [_section(line, accessory=menu) if menu else _section(line)])


def alert_digest(changes: Sequence[AlertChange]) -> Message:
    """Several new alerts of one check in one message, the most severe first, each with its menu."""
    ordered = sorted(changes, key=lambda c: -c.severity)
    blocks: list[Block] = [_section(f":rotating_light: *{len(changes)} alerts need attention*")]
    shown = 0
    for severity in sorted({c.severity for c in ordered}, reverse=True):
        if len(blocks) >= MAX_BLOCKS - 2:
            break
        blocks.append(_context(f"*{SEVERITY_WORDS.get(severity, 'Warning')}*"))
        for change in (c for c in ordered if c.severity == severity):
            if len(blocks) >= MAX_BLOCKS - 1:  # one block stays free for the line below
                break
            _, line = _alert_line(change)
            blocks.append(_section(line, accessory=_alert_menu(change.key)) if change.kind is not ChangeKind.RESOLVED else _section(line))
            shown += 1
    if shown < len(ordered):
        blocks.append(_context(f"…and {len(ordered) - shown} more; `/budget status` shows the account."))
    text = f"{len(changes)} alerts need attention:" + "".join(f"\n• {escape(c.summary)}" for c in ordered)
    return _message(_clip(text, MAX_SECTION_TEXT), blocks)


def alerts_redrawn(alerts: Sequence[Alert], now: datetime, zone: tzinfo) -> Message:
    """An alert message again after a snooze or an acknowledgement: each alert as it stands, and who did what."""
    blocks: list[Block] = []
    for a in alerts:
        if len(blocks) >= MAX_BLOCKS - 3:  # an alert takes up to three blocks; one stays free for the line below
            blocks.append(_context(f"…and {len(alerts) - alerts.index(a)} more."))
            break
        change = AlertChange(ChangeKind.RAISED if a.active else ChangeKind.RESOLVED, a.key, a.severity, a.summary)
        _, line = _alert_line(change)
        blocks.append(_section(line, accessory=_alert_menu(a.key)) if a.active else _section(line))
        if a.snoozed(now):
            blocks.append(_context(f":zzz: Snoozed until {a.snoozed_until.astimezone(zone):%a %H:%M} by {_who(a.snoozed_by)}"))  # type: ignore[union-attr]
        if a.acknowledged_by:
            blocks.append(_context(f":eyes: Acknowledged by {_who(a.acknowledged_by)}"))
    text = "; ".join(_alert_line(AlertChange(ChangeKind.RAISED if a.active else ChangeKind.RESOLVED, a.key, a.severity, a.summary))[0] for a in alerts)
    return _message(_clip(text, MAX_SECTION_TEXT), blocks)


def check_done(result: CheckResult, user: str | None = None) -> Message:
    """The short line after a check: what it found and what it posted."""
    if result.error is not None:
        return api_error(result.error, doing="run the health check")
    parts = [
        f"{len(result.alerts)} alert change(s)",
        f"{len(result.created)} new proposal(s)",
        f"{len(result.kept)} still waiting",
    ]
    who = f" for <@{user}>" if user else ""
    return _message("Health check done: " + ", ".join(parts), [_context(f"Health check done{who}: " + ", ".join(parts) + ".")])


def api_error(exc: PropellerAdsError, *, doing: str) -> Message:
    text = escape(f"Could not {doing}: {exc.summary()}")
    return _message(text, [_section(f":x: {text}")])


def notice(text: str) -> Message:
    """A plain line; all of it is escaped, so nothing in it can format or mention."""
    return said(escape(text))


def said(mrkdwn: str) -> Message:
    """A line already written as mrkdwn (outside text in it escaped by the caller)."""
    return _message(mrkdwn, [_section(mrkdwn)])


def usage(unknown: str | None = None) -> Message:
    head = f"I don't know “{escape(unknown)}”. " if unknown else ""
    return _message(f"{head}Usage: /budget status | check | proposals | history | rules | automation | backtest | help", [_section(f"{head}What `/budget` can do:\n{USAGE}")])


# --- proposals ---------------------------------------------------------------------------------


# --- rules and automation ----------------------------------------------------------------------

MODE_WORDS = {
    RuleMode.PROPOSE: "proposes (Approve / Reject)",
    RuleMode.NOTIFY: "notify only (never writes)",
    RuleMode.AUTO: "auto (acts on its own, with Undo)",
}


def automation_words(state: AutomationState) -> str:
    if not state.on:
        by = f" by {_who(state.changed_by)}" if state.changed_by else ""
        return f"Automation is *off*{by}: rules in auto mode propose instead, and an approver decides."
    if state.held:
        return f"Automation is *on*, but holding: {escape(state.held)}. Until then rules in auto mode propose instead."
    return "Automation is *on*: rules in auto mode decrease budgets and pause campaigns on their own, each with Undo."


def automation_state(state: AutomationState, *, changed: bool = False) -> Message:
    words = automation_words(state)
    if changed and state.changed_by:
        words = f"{_who(state.changed_by)} turned automation {'on' if state.on else 'off'}. " + words
    return _message(words.replace("*", ""), [_section(f":robot_face: {words}")])


def rules_list(reports: Sequence[RuleReport], automation: AutomationState) -> Message:
    if not reports:
        return notice("No rules are configured: add [[rules]] tables to the configuration file (see the README).")
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=f"Rules ({len(reports)})"))]
    for r in reports[: MAX_BLOCKS - 3]:
        last = "has not fired yet"
        if r.last is not None:
            p = r.last
            last = (f"last fired {p.created_at:%Y-%m-%d %H:%M} UTC on {escape(p.campaign_name)}: {_change_words(p)}, "
                    f"{p.state.words}")
        blocks.append(_section(_clip(f"*{escape(r.name)}* · {MODE_WORDS[r.mode]}\n{escape(r.words)}\n_{last}_", MAX_SECTION_TEXT)))
    blocks.append(_context(automation_words(automation)))
    return _message(f"{len(reports)} rule(s)", blocks)


def _proposal_blocks(p: Proposal, currency: str, *, outcome: str | None = None) -> list[Block]:
    arrow = {ActionKind.PAUSE: ":double_vertical_bar:", ActionKind.RESUME: ":arrow_forward:"}.get(
        p.action, ":arrow_up:" if p.to_amount > p.from_amount else ":arrow_down:"
    )
    e = p.evidence
    proposed = (
        ("Current → proposed", f"{fmt_money(p.from_amount)} → *{fmt_money(p.to_amount)}* {currency}")
        if p.action is ActionKind.SET_DAILY_BUDGET
        else ("Proposed", f"*{_change_words(p).replace('campaign ', '').capitalize()}* ({fmt_amount(p.from_amount, currency)} a day)")
    )
    evidence = [
        proposed,
        (f"Spend, {e.get('window_days', '?')} days", fmt_money(Decimal(e["spent"])) if e.get("spent") else "-"),
        ("Conversions", str(e.get("conversions", "-"))),
        ("CPA vs target", f"{fmt_money(Decimal(e['cpa'])) if e.get('cpa') else 'none'} vs {fmt_money(Decimal(e['target_cpa'])) if e.get('target_cpa') else '-'}"),
        ("Budget used", _pct(Decimal(e["budget_use"])) if e.get("budget_use") else "-"),
        ("Rule", escape(p.rule)),
    ]
    blocks: list[Block] = [
        _section(f"{arrow} {_bold_named(p.campaign_name, p.campaign_id, lead=f'Proposal #{p.id}: ')}\n{escape(p.reason)}"),
        _fields(evidence),
    ]
    if p.edited_by:
        # An edited amount is never trimmed (one the guardrails would trim is refused): its note says what it was.
        was = f" ({escape(p.notes[0])})" if p.notes else ""
        blocks.append(_context(f"Amount set by {_who(p.edited_by)}{was}."))
    elif p.notes:
        blocks.append(_context("Guardrails: " + escape("; ".join(p.notes))))
    if outcome is not None:
        if p.state is ProposalState.APPLIED and p.undoes is None:
            # One click reverses an applied change, while PropellerAds still shows what the bot set.
            undo = ButtonElement(
                text="Undo", action_id=UNDO, value=str(p.id),
                confirm=ConfirmObject(title="Undo this change?", text=_clip(f"Reverse it: {_change_words(_reversed(p))} for {escape(p.campaign_name)}.", 300), confirm="Undo", deny="Cancel"),
            )
            blocks.append(_section(outcome, accessory=undo))
        else:
            blocks.append(_section(outcome))
    elif p.state is ProposalState.PENDING:
        bound = button_value(p)
        blocks.append(
            ActionsBlock(
                block_id=f"proposal:{p.id}",
                elements=[
                    ButtonElement(
                        text="Approve",
                        action_id=APPROVE,
                        value=bound,
                        style="primary",
                        confirm=ConfirmObject(
                            title="Change the daily budget?",
                            text=_clip(_confirm_words(p, currency), 300),
                            confirm="Apply",
                            deny="Cancel",
                        ),
                    ),
                    ButtonElement(text="Reject", action_id=REJECT, value=bound, style="danger"),
                    ButtonElement(text="Edit amount", action_id=EDIT, value=bound),
                ],
            )
        )
        held = ""
        if p.mode is RuleMode.AUTO:
            held = f"Rule {escape(p.rule)} acts on its own, but {escape(p.detail or 'automation held it')}: an approver decides. "
        blocks.append(_context(f"{held}Expires {p.expires_at:%Y-%m-%d %H:%M} UTC"))
    return blocks


def _reversed(p: Proposal) -> Proposal:
    return replace(p, from_amount=p.to_amount, to_amount=p.from_amount, action=p.action.inverse)


def _confirm_words(p: Proposal, currency: str) -> str:
    name = escape(p.campaign_name)
    if p.action is ActionKind.PAUSE:
        return f"Stop {name} on PropellerAds."
    if p.action is ActionKind.RESUME:
        return f"Start {name} again on PropellerAds."
    return f"Set the daily budget of {name} from {fmt_money(p.from_amount)} to {fmt_amount(p.to_amount, currency)} on PropellerAds."


def proposal(p: Proposal, *, currency: str = DEFAULT_CURRENCY) -> Message:
    """A proposal's message as it stands: buttons while pending, a notice for a rule in notify mode, else its outcome."""
    if p.state is ProposalState.NOTIFIED:
        return rule_notice(p, currency=currency)
    if p.state is not ProposalState.PENDING:
        return proposal_outcome(p, currency=currency)
    text = f"Proposal #{p.id}: {p.campaign_name} {_change_words(p)}"
    return _message(escape(text), _proposal_blocks(p, currency))


def rule_notice(p: Proposal, *, currency: str = DEFAULT_CURRENCY) -> Message:
    """What a rule in notify mode would do: the change, why, and that nothing was written."""
    change = _change_words(p)
    text = f"Rule {p.rule} would change {p.campaign_name}: {change}. Notify only: nothing was changed."
    blocks: list[Block] = [
        _section(f":bell: Rule *{escape(p.rule)}* would change {_bold_named(p.campaign_name, p.campaign_id)}: "
                 f"{change}.\n{escape(p.reason)}"),
        *_proposal_blocks(p, currency)[1:2],
        _context("Notify only: nothing was changed on PropellerAds, and there is nothing to approve."
                 + (" Guardrails: " + escape("; ".join(p.notes)) if p.notes else "")),
    ]
    return _message(escape(text), blocks)


def button_value(p: Proposal) -> str:
    """What a proposal's buttons carry: its id and the version shown, so a click decides on what was seen."""
    return f"{p.id}:{p.version}"


def read_button_value(value: str) -> tuple[int, int | None] | None:
    """(proposal id, version) from a button or form; a bare id (older messages) names no version."""
    head, _, version = value.partition(":")
    if not (head.isascii() and head.isdigit()) or (version and not (version.isascii() and version.isdigit())):
        return None
    proposal_id = int(head)
    # Proposal IDs are 32-bit in the store; a bigger number names none and the database would refuse it.
    if not 0 < proposal_id < 2**31 or (version and not 0 < int(version) < 2**31):
        return None
    return proposal_id, int(version) if version else None


def proposal_outcome(p: Proposal, decision: Decision | None = None, *, currency: str = DEFAULT_CURRENCY) -> Message:
    """The proposal's message once decided: buttons gone, the outcome and who decided."""
    words = decision_words(decision) if decision else _state_words(p)
    icon = {ProposalState.APPLIED: ":white_check_mark:", ProposalState.REJECTED: ":no_entry_sign:"}.get(
        p.state, ":information_source:"
    )
    text = f"Proposal #{p.id} ({escape(p.campaign_name)}): {words}"
    return _message(text, _proposal_blocks(p, currency, outcome=f"{icon} {words}"))


def _who(user: str | None) -> str:
    if not user or user == BOT_ACTOR:
        return "the bot"
    return f"<@{user}>" if _USER_ID.fullmatch(user) else escape(user)


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def _state_words(p: Proposal) -> str:
    """The outcome as the store remembers it: worded as the click said it, where an apply ended it."""
    if p.state in OUTCOME_OF:
        return decision_words(Decision(OUTCOME_OF[p.state], p, p.decided_by, p.detail))
    who = f" by {_who(p.decided_by)}" if p.decided_by else ""
    detail = f": {escape(p.detail)}" if p.detail else ""
    return f"{p.state.words.capitalize()}{who}{detail}."


def _change_words(p: Proposal) -> str:
    """What the proposal does on PropellerAds, in words."""
    if p.action is ActionKind.PAUSE:
        return "campaign stopped"
    if p.action is ActionKind.RESUME:
        return "campaign started again"
    return f"daily budget {fmt_money(p.from_amount)} → {fmt_money(p.to_amount)}"


def decision_words(d: Decision) -> str:
    """The sentence for a decision, as mrkdwn: who, what happened to the daily budget, and why."""
    p = d.proposal
    who = _who(d.actor)
    said = escape((d.detail or "").rstrip("."))  # the API's words often end in a full stop of their own
    amounts = f"{fmt_money(p.from_amount)} → {fmt_money(p.to_amount)}" if p else ""
    change = _change_words(p) if p else ""
    automatic = p is not None and p.mode is RuleMode.AUTO and d.actor == BOT_ACTOR
    approved = f"Done on its own by rule *{escape(p.rule)}*" if automatic and p is not None else f"Approved by {who}"
    if d.outcome is Outcome.APPLIED:
        if p is not None and p.undoes:
            words = f"Undone by {who}: {change} (proposal #{p.undoes} reversed)."
        elif automatic:
            words = f"{approved} (auto mode): {change}. An approver can Undo it."
        else:
            words = f"Approved by {who} and applied: {change}."
        if not d.recorded:
            words += " The bot could not record it yet; the next check finishes the record."
        return words
    if d.outcome is Outcome.UNCONFIRMED:
        return (
            f"{approved}; not confirmed yet: {said}. The campaign gets no new proposal, and the change "
            "counts against today's increase cap, until the bot sees whether it landed."
        )
    if d.outcome is Outcome.STALE:
        return f"{approved} but not applied: {said}. The proposal is stale; the next check will look again."
    if d.outcome is Outcome.FAILED:
        refused = "PropellerAds refused the write" if d.api_words else "not applied"
        return f"{approved} but {refused}: {said}."
    if d.outcome is Outcome.MANUAL_REVIEW:
        return f"{approved}; needs manual review: {said}."
    if d.outcome is Outcome.REJECTED and p is not None:
        return f"Rejected by {who}. The daily budget stays at {fmt_money(p.from_amount)}."
    if d.outcome is Outcome.NOT_ALLOWED:
        return "Only the configured approvers can decide on budget proposals; nothing was changed."
    if d.outcome is Outcome.IN_PROGRESS and p is not None:
        return f"{_who(p.decided_by)} already approved this; it is being applied." if p.decided_by else "This proposal is already being applied."
    if d.outcome is Outcome.ALREADY_DECIDED and p is not None:
        by = f" by {_who(p.decided_by)}" if p.decided_by else ""
        return f"Already decided{by}: {p.state.words}. Nothing more was changed."
    if d.outcome is Outcome.OUTDATED and p is not None:
        edited = f" (amount set by {_who(p.edited_by)})" if p.edited_by else ""
        return (
            f"This proposal changed since you saw it: it now proposes {amounts}{edited}. "
            "Nothing was changed; decide on it as it is now."
        )
    if d.outcome is Outcome.CANNOT_UNDO:
        return f"Nothing was undone: {said}."
    if d.outcome is Outcome.EXPIRED:
        return "This proposal expired; the next check will propose again if it still applies."
    return "That proposal no longer exists."


def decided_notice(d: Decision) -> str:
    """A decision for the one who made it away from the proposal's message (App Home): which proposal, and how it ended."""
    p = d.proposal
    words = decision_words(d)
    return words if p is None else f"{_bold_named(p.campaign_name, p.campaign_id, lead=f'Proposal #{p.id}: ')}: {words}"


def outdated(d: Decision, *, currency: str = DEFAULT_CURRENCY) -> Message:
    """A click on a copy older than the proposal: what it proposes now, with buttons for this version."""
    assert d.proposal is not None
    words = decision_words(d)
    return _message(words, [_section(f":warning: {words}"), *_proposal_blocks(d.proposal, currency)])


def not_redrawn(d: Decision) -> Message:
    """The decision in words to the person who clicked, when its channel message could not be redrawn."""
    return said(f"{decision_words(d)} The proposal's message could not be updated yet; the bot redraws it at the next check.")


def proposals_list(proposals: Sequence[Proposal], *, currency: str = DEFAULT_CURRENCY) -> Message:
    if not proposals:
        return notice("No proposal is waiting for a decision.")
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=f"Pending proposals ({len(proposals)})"))]
    for p in proposals:
        more = [*_proposal_blocks(p, currency), DividerBlock()]
        if len(blocks) + len(more) > MAX_BLOCKS - 1:  # one block stays free for the line below
            blocks.append(_context("…and more; decide on these first."))
            break
        blocks.extend(more)
    return _message(f"{len(proposals)} pending proposal(s)", blocks)


def history(entries: Sequence[AuditEntry], campaign: str | None = None) -> Message:
    scope = f" for campaign {escape(campaign)}" if campaign else ""
    if not entries:
        return notice(f"No budget changes recorded{scope}.")
    lines = []
    for e in entries:
        amounts = f"{fmt_money(e.from_amount)} → {fmt_money(e.to_amount)}" if e.from_amount is not None else ""
        actor = _who(e.actor)
        rule = f" · rule {escape(e.rule)}" if e.rule else ""
        detail = f" ({escape(e.detail)})" if e.detail else ""
        lines.append(f"`{e.at:%m-%d %H:%M}` *{e.action}* {escape(e.campaign_name)} ({e.campaign_id}) {amounts} by {actor}{rule}{detail}")
    chunks = _chunk(lines, MAX_SECTION_TEXT - 100)
    undoable = [e for e in entries if e.action == str(AuditAction.APPLIED) and e.proposal_id is not None][:UNDO_IN_HISTORY]
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=_clip(f"Budget history{scope}", 150)))]
    blocks.extend(_section(chunk) for chunk in chunks[: MAX_BLOCKS - 1 - len(undoable)])
    for e in undoable:
        # Each change on its own line with its Undo: a click reverses it once, while PropellerAds still shows it.
        amounts = f"{fmt_money(e.from_amount)} → {fmt_money(e.to_amount)}" if e.from_amount is not None else ""
        line = f"Change #{e.proposal_id}: {escape(e.campaign_name)} {amounts} ({e.at:%m-%d %H:%M})"
        button = ButtonElement(
            text="Undo", action_id=UNDO, value=str(e.proposal_id),
            confirm=ConfirmObject(title="Undo this change?", text=_clip(f"Reverse change #{e.proposal_id} for {escape(e.campaign_name)}.", 300),
                                  confirm="Undo", deny="Cancel"),
        )
        blocks.append(_section(_clip(line, MAX_SECTION_TEXT), accessory=button))
    return _message(f"Budget history{scope}: {len(entries)} entries", blocks)


def _chunk(lines: Sequence[str], limit: int) -> list[str]:
    chunks, current = [], ""
    for line in lines:
        if current and len(current) + len(line) + 1 > limit:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def edit_modal(p: Proposal, *, error: str | None = None, currency: str = DEFAULT_CURRENCY) -> dict[str, Any]:
    view = View(
        type="modal",
        callback_id=EDIT_VIEW,
        private_metadata=button_value(p),
        title="Edit daily budget",
        submit="Save",
        close="Cancel",
        blocks=[
            _section(f"{_bold_named(p.campaign_name, p.campaign_id)}\nNow {fmt_amount(p.from_amount, currency)} a day; proposed {fmt_amount(p.to_amount, currency)}."),
            InputBlock(
                block_id=EDIT_BLOCK,
                label="New daily budget",
                element=PlainTextInputElement(action_id=EDIT_INPUT, initial_value=str(p.to_amount)),
                hint="The guardrails are checked again when you save.",
            ),
        ],
    )
    return view.to_dict()


# --- App Home ----------------------------------------------------------------------------------


HOME_PROPOSALS = 5
HOME_PACING = 5


@dataclass(frozen=True)
class SharedChart:
    """A chart uploaded to Slack: App Home shows it by its file id."""

    file_id: str
    title: str


def home_view(
    report: HealthReport | None,
    pending: Sequence[Proposal],
    error: PropellerAdsError | None = None,
    today: MoneyWatch | None = None,
    *,
    currency: str = DEFAULT_CURRENCY,
    automation: AutomationState | None = None,
    may_switch: bool = False,
    open_alerts: Sequence[Alert] = (),
    notice: str | None = None,
    now: datetime | None = None,
    zone: tzinfo | None = None,
    chart: SharedChart | None = None,
) -> dict[str, Any]:
    """App Home to act from: the health now and the top campaigns' pacing, pending proposals with Approve / Reject /
    Edit, open alerts with Snooze and Acknowledge, the automation switch; `notice` says what the last click did."""
    blocks: list[Block] = []
    if notice:
        blocks.append(_section(_clip(notice, MAX_SECTION_TEXT)))
        blocks.append(DividerBlock())
    if report is not None:
        blocks += health_summary(report, title="Budget health now", today=today, currency=currency)["blocks"]
    elif error is not None:
        blocks += api_error(error, doing="read the account")["blocks"]
    if today is not None and today.pacing.campaigns:
        blocks.append(_section(_top_pacing(today, currency)))
    if chart is not None:
        blocks.append(ImageBlock(slack_file={"id": chart.file_id}, alt_text=_clip(chart.title, 2000), title=_clip(chart.title, 2000)))
    blocks.append(DividerBlock())
    blocks.append(_section(f"*{len(pending)} proposal(s) waiting for a decision*" + ("" if pending else ".")))
    for p in pending[:HOME_PROPOSALS]:
        blocks += _proposal_blocks(p, currency)
    if len(pending) > HOME_PROPOSALS:
        blocks.append(_context(f"…and {len(pending) - HOME_PROPOSALS} more: `/budget proposals` lists them all."))
    blocks.append(DividerBlock())
    blocks += _home_alerts(open_alerts, now, zone)
    if automation is not None:
        blocks.append(DividerBlock())
        toggle = None
        if may_switch:
            turn = "off" if automation.on else "on"
            toggle = ButtonElement(text=f"Turn automation {turn}", action_id=AUTOMATION_TOGGLE, value=turn,
                                   style="danger" if automation.on else "primary")
        blocks.append(_section(f":robot_face: {automation_words(automation)}", accessory=toggle))
    blocks.append(_context("Commands: `/budget status`, `/budget check`, `/budget proposals`, `/budget history`"))
    return {"type": "home", "blocks": [b.to_dict() if hasattr(b, "to_dict") else b for b in blocks][:100]}


HOME_ACCOUNTS = 5
"""Ad accounts App Home shows at once (Slack allows 100 blocks a view); the others are named by /budget."""
HOME_ACCOUNT_ITEMS = 2


@dataclass(frozen=True)
class AccountHome:
    """One ad account's part of App Home."""

    name: str
    report: HealthReport | None
    error: str | None
    pending: Sequence[Proposal]
    open_alerts: Sequence[Alert]
    may_decide: bool = False
    currency: str = DEFAULT_CURRENCY


def accounts_home(homes: Sequence[AccountHome], *, more: int = 0, notice: str | None = None) -> dict[str, Any]:
    """App Home over several ad accounts: each one's balance and runway, its open alerts with Snooze, its pending
    proposals with Approve / Reject / Edit (for its approvers), the first few of each."""
    blocks: list[Block] = []
    if notice:
        blocks += [_section(_clip(notice, MAX_SECTION_TEXT)), DividerBlock()]
    for h in homes:
        tag = f"account|{h.name}"
        blocks.append(HeaderBlock(text=PlainTextObject(text=_clip(h.name, 150))))
        if h.report is not None:
            r = h.report
            blocks.append(_fields([
                ("Balance", fmt_amount(r.balance, h.currency)),
                ("Runway", f"{_days(r.runway_days)} at {fmt_amount(r.average_daily_spend, h.currency)} a day"),
            ]))
        else:
            blocks.append(_section(f":x: Could not read the account: {escape(h.error or 'no answer')}"))
        alerts = list(h.open_alerts)
        blocks.append(_section(f":rotating_light: *{len(alerts)} open alert(s)*" if alerts else ":white_check_mark: No open alerts."))
        for i, a in enumerate(alerts[:HOME_ACCOUNT_ITEMS]):
            line = f"{SEVERITY_ICON.get(a.severity, '')} {escape(a.summary)}"
            blocks.append(SectionBlock(block_id=f"{tag}|alert|{i}", text=_md(_clip(line, MAX_SECTION_TEXT)), accessory=_alert_menu(a.key)))
        pending = list(h.pending)
        blocks.append(_section(f"*{len(pending)} proposal(s) waiting for a decision*" + ("" if pending else ".")))
        for p in pending[:HOME_ACCOUNT_ITEMS]:
            blocks += [b for b in _proposal_blocks(p, h.currency) if h.may_decide or not isinstance(b, ActionsBlock)]
        hidden = max(0, len(alerts) - HOME_ACCOUNT_ITEMS) + max(0, len(pending) - HOME_ACCOUNT_ITEMS)
        if hidden:
            blocks.append(_context(f"…and {hidden} more: `/budget proposals {escape(h.name)}`, `/budget status {escape(h.name)}`."))
        blocks.append(DividerBlock())
    if more:
        blocks.append(_context(f"…and {more} more ad account(s): `/budget status <account>` shows one."))
    blocks.append(_context("Commands: `/budget status [account]`, `/budget check [account]`, `/budget proposals [account]`, `/budget history [account]`"))
    return {"type": "home", "blocks": [b.to_dict() if hasattr(b, "to_dict") else b for b in blocks][:100]}


def _top_pacing(today: MoneyWatch, currency: str) -> str:
    """Today's pacing of the campaigns that spent most, one line each."""
    top = sorted(today.pacing.campaigns, key=lambda c: (-c.spent, c.campaign_id))[:HOME_PACING]
    lines = []
    for c in top:
        share = f", {_pct(c.budget_share)} of its daily budget" if c.budget_share is not None else ", no daily limit"
        if c.capped:
            cap = f"; capped at {_moment(c.cap_at, c.day)}" if c.cap_at else "; capped"
        else:
            cap = f"; cap at {_moment(c.cap_at, c.day)} at this rate" if c.cap_at else ""
        lines.append(
            f"• {_bold_named(c.name or str(c.campaign_id), c.campaign_id)}: {fmt_amount(c.spent, currency)}{share}, "
            f"projected {fmt_amount(c.projected, currency)}{cap}"
        )
    return _clip(f"*Pacing today ({today.day_label})*\n" + "\n".join(lines), MAX_SECTION_TEXT)


def _home_alerts(alerts: Sequence[Alert], now: datetime | None, zone: tzinfo | None) -> list[Block]:
    if not alerts:
        return [_section(":white_check_mark: No open alerts.")]
    blocks: list[Block] = [_section(f":rotating_light: *Open alerts ({len(alerts)})*")]
    for a in alerts[:MAX_LISTED]:
        line = f"{SEVERITY_ICON.get(a.severity, '')} {escape(a.summary)}"
        blocks.append(_section(_clip(line, MAX_SECTION_TEXT), accessory=_alert_menu(a.key)))
        if now is not None and a.snoozed(now) and a.snoozed_until is not None:
            until = a.snoozed_until.astimezone(zone) if zone else a.snoozed_until
            blocks.append(_context(f":zzz: Snoozed until {until:%a %H:%M} by {_who(a.snoozed_by)}"))
        if a.acknowledged_by:
            blocks.append(_context(f":eyes: Acknowledged by {_who(a.acknowledged_by)}"))
    if len(alerts) > MAX_LISTED:
        blocks.append(_context(f"…and {len(alerts) - MAX_LISTED} more; `/budget status` shows the account."))
    return blocks


# --- backtest ----------------------------------------------------------------------------------

BACKTEST_ROWS = 20
"""Rows a backtest answer lists in Slack; the terminal's `budget-bot backtest --json` gives them all."""
BACKTEST_ASSUMES = (
    "Each morning is judged on the spend ledger as it stood, each rule on its own, with the step limit and the "
    "min/max daily budget; the balance and the day's cap on increases are unknown for past days. A “today” window "
    "sees the whole day. The history is what happened: a paused campaign's later spend is what the pause would have saved."
)


def backtest_started(rule: str | None, days: int) -> Message:
    which = f"rule {rule}" if rule else "the rules"
    return notice(f"Replaying {which} over the last {days} days; the answer comes here in a moment.")


def backtest_result(bt: Backtest, *, currency: str = DEFAULT_CURRENCY) -> Message:
    """Per-rule totals, then the first rows, then what limited the replay and what it assumes."""
    span = f"{bt.first_day:%Y-%m-%d} to {bt.last_day:%Y-%m-%d}"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=_clip(f"Backtest, the last {bt.days} days", 150)))]
    blocks.append(_context(f"{span}, {bt.campaigns} campaign(s) in the spend ledger."))
    totals = [_backtest_total(t, currency) for t in bt.totals]
    listed = [_backtest_row(r) for r in bt.rows[:BACKTEST_ROWS]]
    if listed:
        more = f" (the first {len(listed)} of {len(bt.rows)}; `budget-bot backtest --json` lists all)" if len(bt.rows) > len(listed) else ""
        listed.insert(0, f"*What the rules would have done*{more}")
    else:
        listed = ["No rule would have acted on any of these days."]
    notes = [f":warning: {escape(n)}." for n in bt.notes]
    room = MAX_BLOCKS - len(blocks) - 1  # one block stays for the assumptions
    for chunk in (_chunk(totals, MAX_SECTION_TEXT - 100) + _chunk(listed, MAX_SECTION_TEXT - 100) + notes)[:room]:
        blocks.append(_section(chunk))
    blocks.append(_context(BACKTEST_ASSUMES))
    acted = sum(t.actions for t in bt.totals)
    return _message(f"Backtest {span}: {len(bt.totals)} rule(s), {acted} action(s)", blocks)


def _backtest_total(t: RuleTotals, currency: str) -> str:
    head = f"*{escape(t.rule)}* · {MODE_WORDS.get(t.mode, t.mode.value)}"
    if not t.actions:
        said = "would not have acted."
    else:
        said = (
            f"{t.actions} action(s) on {t.campaigns} campaign(s). On those days they spent "
            f"{fmt_amount(t.spent, currency)} with {t.conversions} conversion(s); from its first action on each, "
            f"{fmt_amount(t.spent_after, currency)} with {t.conversions_after}."
        )
    extra = []
    if t.refused:
        extra.append(f"{t.refused} verdict(s) the guardrails left no change for")
    if t.days_waiting:
        extra.append(f"{t.days_waiting} day(s) not judged: its window reaches past the spend ledger")
    return f"{head}: {said}" + (f" _({'; '.join(extra)})_" if extra else "")


def _backtest_row(r: BacktestRow) -> str:
    if r.action in ("pause", "resume"):
        change = f"*{r.action}* ({fmt_money(r.from_amount)} a day)"
    else:
        change = f"*{r.action}* {fmt_money(r.from_amount)} → {fmt_money(r.to_amount)}"
    return (
        f"`{r.day:%m-%d}` {escape(r.campaign_name or r.campaign_id)} ({r.campaign_id}) · {escape(r.rule)}: {change}; "
        f"spent {fmt_money(r.spent)} that day ({r.conversions} conv.), {fmt_money(r.spent_after)} from then on"
    )
