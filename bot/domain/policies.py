"""The marketplace's rules for an order: what may happen to it now, and when money is due.

Pure functions of the order, the settings and the moment asked about, so every rule
and boundary (the cancellation window, the refund due date) is tested without a bot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from bot.config import Settings
from bot.domain.cases import CaseType
from bot.domain.orders import DELIVERED, OrderStatus, PaymentMethod
from storage.models import Order

CLOSED = (OrderStatus.cancelled, OrderStatus.refunded)
IN_HANDS = (OrderStatus.shipped, *DELIVERED)


class CancelVerdict(StrEnum):
    unpaid = "unpaid"
    """Not paid: cancelled at once, nothing was charged."""
    instant = "instant"
    """Paid within the cancellation window: cancelled at once, refund issued now."""
    review = "review"
    """Paid earlier than the window, not shipped: only for a reason, after an agent's review."""
    shipped = "shipped"
    """Shipped or delivered: cannot be cancelled; a refund or a defect claim instead."""
    closed = "closed"
    """Already cancelled or refunded."""


class RefundVerdict(StrEnum):
    nothing_charged = "nothing_charged"
    """Never paid: no money to return."""
    not_cancelled = "not_cancelled"
    """Paid and awaiting shipment: a refund comes with a cancellation."""
    in_transit = "in_transit"
    """On its way: nothing to refund until it arrives."""
    delivered = "delivered"
    """Delivered: the buyer says what is wrong, and that decides the case."""
    on_balance = "on_balance"
    """Paid with bonuses and refunded: they are back on the bonus balance."""
    on_the_way = "on_the_way"
    """Refund issued to a card or wallet, and still within its due date."""
    overdue = "overdue"
    """Refund issued to a card or wallet, and its due date has passed."""
    unrecorded = "unrecorded"
    """Cancelled after payment, but no refund is on record: an agent checks."""


def cancel_window_ends(order: Order, settings: Settings) -> datetime:
    """Until this moment a paid order is cancelled at once."""
    return order.placed_at + timedelta(hours=settings.cancel_window_hours)


def handover_type(
    type_: CaseType, order: Order | None, settings: Settings, now: datetime
) -> CaseType:
    """The case type for a buyer who asks for a person in the middle of a dialog of
    `type_`: a cancellation is the agents' review only when it is late, and a claim
    needs the order it is about; anything else becomes a general case."""
    if type_ == CaseType.cancel_review and (
        order is None or cancel_verdict(order, settings, now) != CancelVerdict.review
    ):
        return CaseType.general
    if type_ == CaseType.defect and order is None:
        return CaseType.general
    return type_


def cancel_verdict(order: Order, settings: Settings, now: datetime) -> CancelVerdict:
    """What cancelling this order means right now."""
    status = OrderStatus(order.status)
    if status in CLOSED:
        return CancelVerdict.closed
    if status in IN_HANDS:
        return CancelVerdict.shipped
    if status == OrderStatus.unpaid:
        return CancelVerdict.unpaid
    # The window is inclusive: "within 8 hours" still holds at exactly 8 hours.
    if now <= cancel_window_ends(order, settings):
        return CancelVerdict.instant
    return CancelVerdict.review


def refund_issued_on_cancel(order: Order, now: datetime) -> datetime | None:
    """When an instant cancellation issues the refund: now if the order was paid."""
    return now if order.paid_at is not None else None


def refund_due(issued_at: datetime, settings: Settings) -> datetime:
    """The latest moment a card or wallet refund should arrive."""
    return issued_at + timedelta(days=settings.refund_days)


def refund_verdict(order: Order, settings: Settings, now: datetime) -> RefundVerdict:
    """What a buyer asking about a refund for this order should hear."""
    status = OrderStatus(order.status)
    if status == OrderStatus.unpaid or (status in CLOSED and order.paid_at is None):
        return RefundVerdict.nothing_charged
    if status == OrderStatus.paid:
        return RefundVerdict.not_cancelled
    if status == OrderStatus.shipped:
        return RefundVerdict.in_transit
    if status in DELIVERED:
        return RefundVerdict.delivered
    if order.refund_issued_at is None:
        return RefundVerdict.unrecorded
    if order.payment_method == PaymentMethod.bonus:
        return RefundVerdict.on_balance
    if now > refund_due(order.refund_issued_at, settings):
        return RefundVerdict.overdue
    return RefundVerdict.on_the_way


def defect_claim_allowed(order: Order) -> bool:
    """A defect claim is for an item on its way or in the buyer's hands."""
    return OrderStatus(order.status) in IN_HANDS


# A defect claim needs the packaging and the defect: at least two photos; an album holds ten.
DEFECT_MIN_PHOTOS = 2
DEFECT_MAX_PHOTOS = 10
