"""Whether a new channel price goes out, waits for a person, or changes nothing.

A change of more than the channel rule's `approval_threshold_percent` from the published
price waits for approval; a first publication never does (there is nothing to compare it
with); from a published 0, any change does. A pending request the computed price moves away
from is withdrawn (superseded); a price a person rejected is not asked again while nothing
else was published.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from crossdock.domain.pricing import HUNDRED, ZERO, ChannelPriceRule


class ApprovalStatus(StrEnum):
    """Where a price change that needs a person stands."""

    PENDING = "pending"  # waits; the channel keeps its published price
    APPROVED = "approved"  # a person approved it: handed to publishing
    REJECTED = "rejected"  # a person refused it: not asked again until the computed price moves
    SUPERSEDED = "superseded"  # the computed price moved on before anyone decided


class Verdict(StrEnum):
    NOTHING = "nothing"
    PUBLISH = "publish"
    REQUEST_APPROVAL = "request_approval"


@dataclass(frozen=True, slots=True)
class PriceState:
    """What the channel was last handed (`published`), the price awaiting approval (`pending`),
    and the price a person refused since the last publication (`rejected`)."""

    published: Decimal | None = None
    pending: Decimal | None = None
    rejected: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceDecision:
    verdict: Verdict
    price: Decimal
    change_percent: Decimal | None  # from the published price (None: nothing published yet)
    withdraw_pending: bool  # the pending approval no longer fits: supersede it
    reason: str


def change_percent(old: Decimal | None, new: Decimal) -> Decimal | None:
    """The signed change from `old` in percent, to 0.01 (None: no old price, or old is 0)."""
    if old is None or old == ZERO:
        return None
    return ((new - old) / old * HUNDRED).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def needs_approval(old: Decimal | None, new: Decimal, threshold: Decimal | None) -> bool:
    """A change of more than `threshold` percent from a published price; from 0, any change."""
    if threshold is None or old is None or old == new:
        return False
    if old == ZERO:
        return True
    return abs(new - old) / old * HUNDRED > threshold


def decide(
    new: Decimal, state: PriceState, rule: ChannelPriceRule, *, reverts_to: Decimal | None = None
) -> PriceDecision:
    """Whether `new` goes to the channel, waits for approval, or changes nothing.

    `reverts_to`: an effective-dated entry ended (or was cancelled), and this was the
    published price when it took over. The threshold measures `new` from there, not from the
    entry's price: the entry's start was the change the threshold allowed or a person
    approved, and percentages are not symmetric (−22.3 % out is +28.7 % back), so a promotion
    would otherwise stay on past its end waiting for a second approval. A base price that
    moved while the entry was in force is still a change a person may have to approve."""
    pct = change_percent(state.published, new)
    pending = state.pending is not None
    if state.published == new:
        return PriceDecision(Verdict.NOTHING, new, pct, pending, "unchanged")
    if state.pending == new:
        return PriceDecision(Verdict.NOTHING, new, pct, False, "awaiting approval")
    measured_from = state.published if reverts_to is None else reverts_to
    if needs_approval(measured_from, new, rule.approval_threshold_percent):
        if state.rejected == new:
            return PriceDecision(Verdict.NOTHING, new, pct, pending, "rejected before")
        why = f"change of {pct if pct is not None else 'any'}% over {rule.approval_threshold_percent}%"
        return PriceDecision(Verdict.REQUEST_APPROVAL, new, pct, pending, why)
    return PriceDecision(Verdict.PUBLISH, new, pct, pending, "first" if state.published is None else "change")
