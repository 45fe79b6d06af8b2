"""Block Kit messages built from core values, with a plain-text fallback on every one."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.blocks.basic_components import ConfirmObject
from slack_sdk.models.views import View

from core.alerts import AlertChange, ChangeKind
from core.errors import PropellerAdsError
from core.executor import Decision
from core.health import HealthReport
from core.models import carries_id, named
from core.money import DEFAULT_CURRENCY, fmt_amount, fmt_money, fmt_percent
from core.policy import is_guardrail_note
from core.service import CampaignLookup, CampaignStatusReport, CheckResult
from core.store.store import AuditEntry, Proposal
from core.store.tables import PENDING

Message = dict[str, Any]

APPROVE = "proposal_approve"
REJECT = "proposal_reject"
EDIT = "proposal_edit"
EDIT_VIEW = "proposal_edit_submit"
EDIT_BLOCK = "amount"
EDIT_INPUT = "amount_input"

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_LISTED = 10
SEVERITY_ICON = {1: ":large_yellow_circle:", 2: ":large_orange_circle:", 3: ":red_circle:"}

USAGE = (
    "*`/budget status`*: balance, runway, total daily budget, campaigns at risk, recommendations\n"
    "*`/budget status <campaign id or part of its name>`*: one campaign: limit, spend, conversions, CPA, pacing\n"
    "*`/budget check`*: run a health check now and post what it finds to the channel\n"
    "*`/budget proposals`*: the budget changes waiting for a decision\n"
    "*`/budget history [campaign id]`*: who changed which daily budget, and how it went\n"
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
    return "no spend" if value is None else f"{value} days"


def _pct(share: Decimal | None) -> str:
    return "-" if share is None else fmt_percent(share)


# --- health ------------------------------------------------------------------------------------


def health_summary(report: HealthReport, *, title: str = "Budget health", currency: str = DEFAULT_CURRENCY) -> Message:
    risks = report.campaigns_at_risk
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=_clip(title, 150))),
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
    if risks:
        lines = [
            f"• {_bold_named(r.name, r.id)}: {fmt_money(r.daily_budget)} a day, {_pct(r.share_of_balance)} of the balance, *{r.risk_level.value}*"
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
    blocks.append(_context(f"Read {report.generated_at:%Y-%m-%d %H:%M} UTC · spend window {report.window_from} to {report.window_to}"))
    text = (
        f"{title}: balance {fmt_money(report.balance)}, runway {_days(report.runway_days)}, "
        f"total daily budget {fmt_money(report.total_daily_budget)}, {len(risks)} campaign(s) at risk"
    )
    return _message(text, blocks)


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
                ("Spend today", fmt_amount(status.today.spent, currency)),
                ("Spend yesterday", fmt_amount(status.yesterday.spent, currency)),
                (f"Spend, last {status.window_days} days", fmt_amount(status.window.spent, currency)),
                (f"Conversions, last {status.window_days} days", str(status.window.conversions)),
                (f"CPA, last {status.window_days} days", fmt_amount(status.window_cpa, currency) if status.window_cpa is not None else "no conversions"),
                ("Pacing today", pace),
            ]
        ),
    ]
    text = f"{named(c.name, c.id)}: {c.status_label}, daily budget {fmt_money(c.daily_budget)}, spent {fmt_money(status.today.spent)} today"
    return _message(escape(text), blocks)


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


def alert(change: AlertChange) -> Message:
    if change.kind is ChangeKind.RESOLVED:
        return _message(f"Resolved: {escape(change.summary)}", [_section(f":white_check_mark: *Resolved:* {escape(change.summary)}")])
    icon = SEVERITY_ICON.get(change.severity, ":warning:")
    head = "Worse" if change.kind is ChangeKind.WORSENED else "Needs attention"
    return _message(f"{head}: {escape(change.summary)}", [_section(f"{icon} *{head}:* {escape(change.summary)}")])


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
    """A plain line; outside text in it is escaped, user mentions keep working."""
    safe = _mentions_kept(text)
    return _message(safe, [_section(safe)])


def usage(unknown: str | None = None) -> Message:
    head = f"I don't know “{escape(unknown)}”. " if unknown else ""
    return _message(f"{head}Usage: /budget status | check | proposals | history | help", [_section(f"{head}What `/budget` can do:\n{USAGE}")])


# --- proposals ---------------------------------------------------------------------------------


def _proposal_blocks(p: Proposal, currency: str, *, outcome: str | None = None) -> list[Block]:
    arrow = ":arrow_up:" if p.to_amount > p.from_amount else ":arrow_down:"
    e = p.evidence
    evidence = [
        ("Current → proposed", f"{fmt_money(p.from_amount)} → *{fmt_money(p.to_amount)}* {currency}"),
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
    guardrails = [n for n in p.notes if is_guardrail_note(n)]
    said = ["Guardrails: " + "; ".join(guardrails)] if guardrails else []
    said += [n for n in p.notes if not is_guardrail_note(n)]
    if said:
        blocks.append(_context(_mentions_kept(" ".join(said))))
    if outcome is not None:
        blocks.append(_section(outcome))
    elif p.state == PENDING:
        blocks.append(
            ActionsBlock(
                block_id=f"proposal:{p.id}",
                elements=[
                    ButtonElement(
                        text="Approve",
                        action_id=APPROVE,
                        value=str(p.id),
                        style="primary",
                        confirm=ConfirmObject(
                            title="Change the daily budget?",
                            text=_clip(f"Set the daily budget of {escape(p.campaign_name)} from {fmt_money(p.from_amount)} to {fmt_amount(p.to_amount, currency)} on PropellerAds.", 300),
                            confirm="Apply",
                            deny="Cancel",
                        ),
                    ),
                    ButtonElement(text="Reject", action_id=REJECT, value=str(p.id), style="danger"),
                    ButtonElement(text="Edit amount", action_id=EDIT, value=str(p.id)),
                ],
            )
        )
        blocks.append(_context(f"Expires {p.expires_at:%Y-%m-%d %H:%M} UTC"))
    return blocks


def proposal(p: Proposal, *, currency: str = DEFAULT_CURRENCY) -> Message:
    text = f"Proposal #{p.id}: {p.campaign_name} daily budget {fmt_money(p.from_amount)} → {fmt_money(p.to_amount)}"
    return _message(escape(text), _proposal_blocks(p, currency))


def proposal_outcome(p: Proposal, decision: Decision | None = None, *, currency: str = DEFAULT_CURRENCY) -> Message:
    """The proposal's message once decided: buttons gone, the outcome and who decided."""
    words = decision.message if decision else _state_words(p)
    icon = {"applied": ":white_check_mark:", "rejected": ":no_entry_sign:"}.get(p.state, ":information_source:")
    # Only the decider is mentioned: the words may quote PropellerAds, and it must not ping anyone.
    said = _mentions_kept(words, only=p.decided_by or "")
    text = f"Proposal #{p.id} ({escape(p.campaign_name)}): {said}"
    return _message(text, _proposal_blocks(p, currency, outcome=f"{icon} {said}"))


def _state_words(p: Proposal) -> str:
    who = f" by <@{p.decided_by}>" if p.decided_by else ""
    detail = f": {p.detail}" if p.detail else ""
    return f"{p.state.replace('_', ' ').capitalize()}{who}{detail}."


_ESCAPED_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]{2,20})&gt;")


def _mentions_kept(text: str, *, only: str | None = None) -> str:
    """Escapes text but keeps user mentions (<@U…>) working; with `only`, that user's alone."""

    def keep(match: re.Match[str]) -> str:
        return f"<@{match[1]}>" if only is None or match[1] == only else match[0]

    return _ESCAPED_MENTION.sub(keep, escape(text))


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
        actor = "the bot" if e.actor == "budget-bot" else f"<@{escape(e.actor)}>"
        rule = f" · rule {escape(e.rule)}" if e.rule else ""
        detail = f" ({escape(e.detail)})" if e.detail else ""
        lines.append(f"`{e.at:%m-%d %H:%M}` *{e.action}* {escape(e.campaign_name)} ({e.campaign_id}) {amounts} by {actor}{rule}{detail}")
    chunks = _chunk(lines, MAX_SECTION_TEXT - 100)
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=_clip(f"Budget history{scope}", 150)))]
    blocks.extend(_section(chunk) for chunk in chunks[: MAX_BLOCKS - 1])
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
        private_metadata=str(p.id),
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


def home_view(
    report: HealthReport | None,
    pending: Sequence[Proposal],
    error: PropellerAdsError | None = None,
    *,
    currency: str = DEFAULT_CURRENCY,
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if report is not None:
        blocks.extend(health_summary(report, title="Budget health now", currency=currency)["blocks"])
    elif error is not None:
        blocks.extend(api_error(error, doing="read the account")["blocks"])
    blocks.append(DividerBlock().to_dict())
    blocks.append(_section(f"*{len(pending)} proposal(s) waiting for a decision.* Use `/budget proposals` to decide.").to_dict())
    blocks.append(_context("Commands: `/budget status`, `/budget check`, `/budget proposals`, `/budget history`").to_dict())
    return {"type": "home", "blocks": blocks[:100]}
