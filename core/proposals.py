"""The proposal lifecycle: a proposal, its states and actions, its audit entries, and what came of a decision.

A proposal moves through these states (the store maps them; the renderer words them):

    pending ──approve──▶ applying ──▶ applied
       │                    │   └──▶ unconfirmed ──▶ applied | failed | needs_manual_review
       │                    └──────▶ stale | failed | needs_manual_review
       ├──reject──▶ rejected
       ├──ttl────▶ expired
       └──newer check──▶ superseded

`approved` is the state older versions left between the click and the claim; a stopped process's
`approved` or `applying` proposal is finished by reconciliation once its lease has lapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

BOT_ACTOR = "budget-bot"
"""The actor of what the bot did on its own."""

TELLING_HOLD = timedelta(minutes=2)
"""How long the process that posts or redraws a proposal's message (or an alert) has before another may."""


class ProposalState(str, Enum):
    PENDING = "pending"
    APPROVED = "approved"
    APPLYING = "applying"
    UNCONFIRMED = "unconfirmed"
    """The write got no answer and the re-read did not show it: it may still land."""
    APPLIED = "applied"
    FAILED = "failed"
    MANUAL_REVIEW = "needs_manual_review"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    STALE = "stale"
    NOTIFIED = "notified"
    """A rule in notify mode told the channel what it would do; nothing is written."""

    def __str__(self) -> str:
        return self.value

    @property
    def words(self) -> str:
        return self.value.replace("_", " ")


IN_FLIGHT = (ProposalState.APPROVED, ProposalState.APPLYING)
"""Approved and not finished: a process is applying it, or one stopped while it did."""
OPEN = (ProposalState.PENDING, *IN_FLIGHT, ProposalState.UNCONFIRMED)
"""A campaign with an open proposal gets no other: the database holds at most one per campaign."""
COUNTS_AGAINST_CAP = (*IN_FLIGHT, ProposalState.UNCONFIRMED)
"""Increases not yet known to have failed count against today's cap as if applied."""


class ActionKind(str, Enum):
    """What a proposal changes on PropellerAds."""

    SET_DAILY_BUDGET = "set_daily_budget"
    PAUSE = "pause"
    """Stop the campaign (`PUT /adv/campaigns/stop`)."""
    RESUME = "resume"
    """Start it again (`PUT /adv/campaigns/play`)."""

    @property
    def inverse(self) -> "ActionKind":
        """What undoes this action."""
        return {ActionKind.PAUSE: ActionKind.RESUME, ActionKind.RESUME: ActionKind.PAUSE}.get(self, self)

    def __str__(self) -> str:
        return self.value


class RuleMode(str, Enum):
    """What a rule does with what it found."""

    PROPOSE = "propose"
    """A proposal with Approve / Reject buttons."""
    NOTIFY = "notify"
    """A message saying what it would do: no buttons, no write."""
    AUTO = "auto"
    """Applied without a click (risk-reducing actions only), announced with Undo."""

    def __str__(self) -> str:
        return self.value


class AuditAction(str, Enum):
    """What happened to a proposal, as the audit log records it."""

    PROPOSED = "proposed"
    EDITED = "edited"
    APPROVED = "approved"
    REJECTED = "rejected"
    APPLIED = "applied"
    UNCONFIRMED = "unconfirmed"
    STALE = "stale"
    FAILED = "failed"
    MANUAL_REVIEW = "manual_review"
    NOTIFIED = "notified"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"

    def __str__(self) -> str:
        return self.value


FINISHED_BY = {
    ProposalState.APPLIED: AuditAction.APPLIED,
    ProposalState.UNCONFIRMED: AuditAction.UNCONFIRMED,
    ProposalState.STALE: AuditAction.STALE,
    ProposalState.FAILED: AuditAction.FAILED,
    ProposalState.MANUAL_REVIEW: AuditAction.MANUAL_REVIEW,
}
"""The audit action that records each way an apply can end."""


@dataclass(frozen=True)
class Proposal:
    id: int
    campaign_id: int
    campaign_name: str
    rule: str
    direction: str
    from_amount: Decimal
    to_amount: Decimal
    reason: str
    evidence: dict[str, Any]
    notes: list[str]
    state: ProposalState
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    channel: str | None
    message_ts: str | None
    detail: str | None
    version: int = 1
    """Moves with every edit: an approval is bound to the version the approver saw."""
    action: ActionKind = ActionKind.SET_DAILY_BUDGET
    edited_by: str | None = None
    """The approver who last set the amount by hand, if one did."""
    shown: ProposalState | None = None
    """The state its channel message shows, if it has one."""
    undoes: int | None = None
    """The applied proposal this one reverses, if it is an undo."""
    mode: RuleMode = RuleMode.PROPOSE

    @property
    def increase(self) -> Decimal:
        """What this change adds to the account's daily budgets (0 for a decrease, a pause, a resume)."""
        if self.action is not ActionKind.SET_DAILY_BUDGET:
            return Decimal(0)
        return max(self.to_amount - self.from_amount, Decimal(0))

    @property
    def adds_spend(self) -> Decimal:
        """What this change lets the account spend more a day: an increase, or a resumed campaign's daily budget."""
        return self.to_amount if self.action is ActionKind.RESUME else self.increase


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    campaign_id: int
    campaign_name: str
    actor: str
    action: str
    outcome: str
    proposal_id: int | None = None
    rule: str | None = None
    from_amount: Decimal | None = None
    to_amount: Decimal | None = None
    detail: str | None = None

    @classmethod
    def of(cls, p: Proposal, now: datetime, actor: str, action: AuditAction, *, detail: str | None = None,
           outcome: ProposalState | None = None) -> "AuditEntry":
        """The audit entry of something that happened to a proposal."""
        return cls(
            at=now,
            campaign_id=p.campaign_id,
            campaign_name=p.campaign_name,
            actor=actor,
            action=str(action),
            outcome=str(outcome or p.state),
            proposal_id=p.id,
            rule=p.rule,
            from_amount=p.from_amount,
            to_amount=p.to_amount,
            detail=detail,
        )


class Outcome(str, Enum):
    """What came of a click, or of finishing an apply."""

    APPLIED = "applied"
    UNCONFIRMED = "unconfirmed"
    REJECTED = "rejected"
    STALE = "stale"
    FAILED = "failed"
    MANUAL_REVIEW = "needs_manual_review"
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    OUTDATED = "outdated"
    CANNOT_UNDO = "cannot_undo"
    EXPIRED = "expired"
    NOT_FOUND = "not_found"
    IN_PROGRESS = "in_progress"


PRIVATE_OUTCOMES = frozenset(
    {Outcome.NOT_ALLOWED, Outcome.ALREADY_DECIDED, Outcome.OUTDATED, Outcome.CANNOT_UNDO, Outcome.NOT_FOUND,
     Outcome.IN_PROGRESS}
)
"""Outcomes that change nothing and concern only the person who clicked."""

OUTCOME_OF = {
    ProposalState.APPLIED: Outcome.APPLIED,
    ProposalState.UNCONFIRMED: Outcome.UNCONFIRMED,
    ProposalState.STALE: Outcome.STALE,
    ProposalState.FAILED: Outcome.FAILED,
    ProposalState.MANUAL_REVIEW: Outcome.MANUAL_REVIEW,
}


@dataclass(frozen=True)
class Decision:
    """What came of a decision, as values: the renderer writes the sentence.

    `actor` is who decided (a Slack user id, or None for the bot), `detail` the reason in plain
    words (why it went stale, what PropellerAds said), `api_words` PropellerAds' own words when it
    refused. `recorded` is False when the change reached PropellerAds but the store could not record
    it yet (reconciliation finishes the record).
    """

    outcome: Outcome
    proposal: Proposal | None
    actor: str | None = None
    detail: str | None = None
    write_denied: bool = False
    """PropellerAds refused the write for lack of permission: the channel should hear of it."""
    api_words: str | None = None
    recorded: bool = True

    @property
    def is_private(self) -> bool:
        return self.outcome in PRIVATE_OUTCOMES

    @property
    def changed_budget(self) -> bool:
        """The live daily budget is (or may become) what the proposal set."""
        return self.outcome in (Outcome.APPLIED, Outcome.UNCONFIRMED)
