"""Every proposal message `bot/render.py` builds passes slack_sdk's Block Kit models, stays in Slack's limits, and escapes what it quotes.

Campaign names come from PropellerAds (up to 255 characters, anything in them); rule names from
the configuration; details from the API's answers. None may format, mention or break a message.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot import render
from core.proposals import Decision, Outcome
from core.proposals import AuditEntry, Proposal
from core.proposals import ProposalState
from tests.harness import NOW, mrkdwn_texts

APPROVER = "U0APPROVER"

# Slack's limits that slack_sdk's models do not check themselves.
MAX_MESSAGE_BLOCKS = 50
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_MESSAGE_TEXT = 40_000
MAX_ID = 255

HOSTILE = "Win <!channel> & <@U0HACKER> <https://evil.example|click> *bold* `code`"
NAMES = {
    "plain": "Loser DE",
    "hostile": HOSTILE,
    # PropellerAds' longest name, every character one that escaping makes longer.
    "longest-escaping": "<&>" * 85,
    "longest-plain": "W" * 255,
    "long-realistic": ("Winner & Co <US> Summer Sale " * 9)[:255],
}
HOSTILE_API_WORDS = "PropellerAds refused the change: <b>limit</b> & <@U0HACKER> <!here>"


def proposal(name: str, state: str = ProposalState.PENDING, *, proposal_id: int = 1, notes: tuple[str, ...] = (), **changes: Any) -> Proposal:
    return replace(
        Proposal(
            id=proposal_id,
            campaign_id=100_000 + proposal_id,
            campaign_name=name,
            rule="cpa-target <&>",
            direction="decrease",
            from_amount=Decimal("12345.67"),
            to_amount=Decimal("9876.54"),
            reason=f"CPA 150.00 misses the 10.00 target by 1400%. ({name})",
            evidence={"window_days": 7, "spent": "1050.00", "conversions": 7, "cpa": "150.00", "target_cpa": "10", "budget_use": "0.75"},
            notes=list(notes),
            state=state,
            created_at=NOW,
            expires_at=NOW + timedelta(hours=24),
            updated_at=NOW,
            decided_by=None if state in (ProposalState.PENDING, ProposalState.EXPIRED, ProposalState.SUPERSEDED) else APPROVER,
            decided_at=None if state in (ProposalState.PENDING, ProposalState.EXPIRED, ProposalState.SUPERSEDED) else NOW,
            channel="C0BUDGET",
            message_ts="1709553600.000100",
            detail=None,
        ),
        **changes,
    )


def decision(outcome: Outcome, p: Proposal, detail: str | None = None) -> Decision:
    """A decision as the executor returns it; the renderer words it."""
    return Decision(outcome, p, APPROVER, detail, api_words=detail if outcome is Outcome.FAILED else None)


def outcome_messages(name: str) -> dict[str, dict[str, Any]]:
    """The proposal message after each way a decision can end, as the executor words them."""
    stale = "the live daily budget is 110.00, no longer the 12,345.67 this proposal started from"
    return {
        "applied": render.proposal_outcome(
            proposal(name, ProposalState.APPLIED, detail="verified: the live daily budget matches"),
            decision(Outcome.APPLIED, proposal(name, ProposalState.APPLIED)),
        ),
        "rejected": render.proposal_outcome(
            proposal(name, ProposalState.REJECTED, detail="rejected"),
            decision(Outcome.REJECTED, proposal(name, ProposalState.REJECTED)),
        ),
        "stale": render.proposal_outcome(
            proposal(name, ProposalState.STALE, detail=stale),
            decision(Outcome.STALE, proposal(name, ProposalState.STALE), stale),
        ),
        "failed": render.proposal_outcome(
            proposal(name, ProposalState.FAILED, detail="insufficient permissions: Access denied."),
            decision(Outcome.FAILED, proposal(name, ProposalState.FAILED), "insufficient permissions: Access denied."),
        ),
        "manual-review": render.proposal_outcome(
            proposal(name, ProposalState.MANUAL_REVIEW, detail=HOSTILE_API_WORDS),
            decision(Outcome.MANUAL_REVIEW, proposal(name, ProposalState.MANUAL_REVIEW), HOSTILE_API_WORDS),
        ),
        # Redrawn later from the store alone, without a decision at hand.
        "manual-review-from-the-store": render.proposal_outcome(proposal(name, ProposalState.MANUAL_REVIEW, detail=HOSTILE_API_WORDS)),
        "expired": render.proposal_outcome(proposal(name, ProposalState.EXPIRED, detail="nobody decided within its time to live")),
        "superseded": render.proposal_outcome(proposal(name, ProposalState.SUPERSEDED, detail="replaced by a newer check")),
    }


def history_entries(name: str, n: int = 20) -> list[AuditEntry]:
    actions = [("proposed", "budget-bot", None), ("approved", APPROVER, None), ("manual_review", APPROVER, HOSTILE_API_WORDS)]
    return [
        AuditEntry(
            at=NOW - timedelta(minutes=i), campaign_id=100_000 + i, campaign_name=name, actor=actors[1], action=actors[0],
            outcome=actors[0], proposal_id=i, rule="cpa-target <&>", from_amount=Decimal("12345.67"),
            to_amount=Decimal("9876.54"), detail=actors[2],
        )
        for i, actors in ((i, actions[i % 3]) for i in range(n))
    ]


def every_message(name: str) -> dict[str, dict[str, Any]]:
    many = [
        proposal(name, proposal_id=i, notes=("trimmed to the 50% largest step",) if i % 2 else ())
        for i in range(1, 16)
    ]
    return {
        "pending": render.proposal(proposal(name)),
        "pending-with-guardrail-notes": render.proposal(
            proposal(name, notes=("trimmed to the 50% largest step", "amount set by <@U0APPROVER>"))
        ),
        **outcome_messages(name),
        "list-of-one": render.proposals_list([proposal(name)]),
        "list-of-fifteen": render.proposals_list(many),
        "list-empty": render.proposals_list([]),
        "history": render.history(history_entries(name)),
        "history-of-a-campaign": render.history(history_entries(name, 5), name),
        "history-empty": render.history([], name),
        "private-answer": render.notice(f"<@{APPROVER}> already approved this; it is being applied."),
    }


CASES = [(kind, variant) for kind in NAMES for variant in every_message("x")]


# --- checks --------------------------------------------------------------------------------------


def assert_escaped(text: str) -> None:
    """Only the bot's own user mentions and the three entities may carry <, > or & in mrkdwn."""
    assert "<@U0HACKER>" not in text and "<!channel>" not in text and "<!here>" not in text, text
    bare = re.sub(r"<@U0APPROVER>", "", text)
    bare = re.sub(r"&(amp|lt|gt);", "", bare)
    assert not re.search(r"[<>&]", bare), f"unescaped mrkdwn: {text[:200]!r}…"


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # raises SlackObjectFormationError past a limit slack_sdk knows
        assert len(raw.get("block_id", "")) <= MAX_ID
        for f in raw.get("fields", []):
            assert len(f["text"]) <= MAX_FIELD_TEXT, f["text"][:80]
        if raw["type"] == "context":
            assert len(raw["elements"]) <= MAX_CONTEXT_ELEMENTS
        for element in raw.get("elements", []):
            assert len(element.get("action_id", "")) <= MAX_ID


def assert_valid_message(message: dict[str, Any]) -> None:
    assert set(message) == {"text", "blocks"}
    assert 0 < len(message["text"]) <= MAX_MESSAGE_TEXT
    assert 0 < len(message["blocks"]) <= MAX_MESSAGE_BLOCKS
    assert_valid_blocks(message["blocks"])


@pytest.mark.parametrize(("name_kind", "variant"), CASES, ids=[f"{v}-{k}" for k, v in CASES])
def test_every_proposal_message_passes_block_kit_validation_and_escapes_what_it_quotes(name_kind: str, variant: str) -> None:
    message = every_message(NAMES[name_kind])[variant]
    assert_valid_message(message)
    # The fallback text is shown in notifications and is read as mrkdwn too.
    for text in [message["text"], *mrkdwn_texts(message["blocks"])]:
        assert_escaped(text)


@pytest.mark.parametrize("name_kind", NAMES)
def test_the_edit_modal_passes_view_validation_and_escapes_the_name(name_kind: str) -> None:
    modal = render.edit_modal(proposal(NAMES[name_kind]))
    View(**modal).validate_json()
    assert_valid_blocks(modal["blocks"])
    assert modal["private_metadata"] == "1:1" and modal["callback_id"] == render.EDIT_VIEW
    assert modal["blocks"][1]["element"]["initial_value"] == "9876.54"
    for text in mrkdwn_texts(modal["blocks"]):
        assert_escaped(text)


def test_a_hostile_name_is_shown_escaped_not_dropped() -> None:
    message = render.proposal(proposal(HOSTILE))
    escaped = "Win &lt;!channel&gt; &amp; &lt;@U0HACKER&gt; &lt;https://evil.example|click&gt; *bold* `code`"
    assert message["blocks"][0]["text"]["text"].startswith(f":arrow_down: *Proposal #1: {escaped}* (100001)\n")
    assert message["text"] == f"Proposal #1: {escaped} daily budget 12,345.67 → 9,876.54"
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    confirm = actions["elements"][0]["confirm"]["text"]["text"]
    assert confirm.startswith(f"Set the daily budget of {escaped} from 12,345.67 to 9,876.54")


def test_a_decided_proposal_has_no_buttons_and_names_who_decided() -> None:
    for variant, message in outcome_messages("Loser DE").items():
        assert [b for b in message["blocks"] if b["type"] == "actions"] == [], variant
        if variant not in ("expired", "superseded"):
            assert "<@U0APPROVER>" in message["blocks"][-1]["text"]["text"], variant
    applied = outcome_messages("Loser DE")["applied"]
    assert applied["blocks"][-1]["text"]["text"] == (
        ":white_check_mark: Approved by <@U0APPROVER> and applied: daily budget 12,345.67 → 9,876.54."
    )


def test_the_pending_message_carries_the_buttons_with_the_proposal_id_and_version() -> None:
    message = render.proposal(proposal("Loser DE", proposal_id=42))
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert actions["block_id"] == "proposal:42"
    assert [(e["action_id"], e["value"], e.get("style")) for e in actions["elements"]] == [
        ("proposal_approve", "42:1", "primary"), ("proposal_reject", "42:1", "danger"), ("proposal_edit", "42:1", None),
    ]
    assert actions["elements"][0]["confirm"]["title"]["text"] == "Change the daily budget?"


def test_a_long_list_says_there_are_more_within_fifty_blocks() -> None:
    """Proposals take five blocks each, six with guardrail notes; whatever the mix, the last block says more wait."""
    for with_notes in range(0, 13):
        for first in (True, False):  # the proposals with notes first, or last
            noted = range(1, with_notes + 1) if first else range(13 - with_notes, 13)
            many = [proposal("Loser DE", proposal_id=i, notes=("trimmed",) if i in noted else ()) for i in range(1, 13)]
            message = render.proposals_list(many)
            assert len(message["blocks"]) <= MAX_MESSAGE_BLOCKS, (with_notes, first)
            last = message["blocks"][-1]
            assert last["type"] == "context", (with_notes, first)
            assert last["elements"][0]["text"] == "…and more; decide on these first.", (with_notes, first)


def test_a_long_history_is_split_across_sections_within_the_limits() -> None:
    message = render.history(history_entries(NAMES["longest-escaping"], 20))
    assert_valid_message(message)
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert len(sections) > 1
    assert sum(s.count("\n") + 1 for s in sections) == 20  # every entry shown, none cut in half


@pytest.mark.parametrize("name_kind", NAMES)
def test_alert_messages_and_digests_pass_block_kit_validation_and_escape_outside_text(name_kind: str) -> None:
    from core.alerts import Alert, AlertChange, ChangeKind

    summary = f"{NAMES[name_kind]} (101) has a daily budget of 100.00, HIGH risk against the 150.00 balance."
    changes = [AlertChange(kind, f"campaign_at_risk:{i}", 1 + i % 3, summary) for i, kind in enumerate(ChangeKind)]
    alerts = [
        Alert(f"campaign_at_risk:{i}", 2, i % 2 == 0, summary, NOW, NOW, None, snoozed_until=NOW + timedelta(hours=4),
              snoozed_by="U0VIEWER", acknowledged_by="U0APPROVER" if i else None)
        for i in range(30)
    ]
    for message in [*(render.alert(c) for c in changes), render.alert_digest(changes * 10),
                    render.alerts_redrawn(alerts, NOW, timezone.utc)]:
        assert_valid_blocks(message["blocks"])
        assert len(message["text"]) <= render.MAX_SECTION_TEXT
        assert "<@U0HACKER>" not in str(message) and "<!here>" not in str(message)
        assert len(message["blocks"]) <= render.MAX_BLOCKS
    digest = render.alert_digest(changes * 20)
    assert digest["blocks"][-1]["elements"][0]["text"].startswith("…and ")  # nothing dropped without saying so


def test_a_pause_proposal_says_stop_and_passes_block_kit_validation() -> None:
    from core.proposals import ActionKind

    paused = proposal("Loser DE", action=ActionKind.PAUSE, to_amount=Decimal("12345.67"))
    message = render.proposal(paused)
    assert_valid_blocks(message["blocks"])
    assert message["text"] == "Proposal #1: Loser DE campaign stopped"
    assert message["blocks"][0]["text"]["text"].startswith(":double_vertical_bar: *Proposal #1: Loser DE*")
    [approve] = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == render.APPROVE]
    assert approve["confirm"]["text"]["text"] == "Stop Loser DE on PropellerAds."
