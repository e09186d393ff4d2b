"""Orders behind one interface, so a marketplace can plug in its own API.

The default `SqlOrderSource` reads the bot's `orders` table (filled by
`supportbot orders import`). A buyer only ever sees their own orders: another
buyer's order number is answered exactly like a number that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from aiogram.utils.i18n import gettext as _

from bot.i18n import N_
from storage.models import Order, User
from storage.repositories.orders import OrderRepository


class OrderStatus(StrEnum):
    unpaid = "unpaid"
    paid = "paid"
    shipped = "shipped"
    delivered = "delivered"
    awaiting_review = "awaiting_review"
    """Delivered, and the buyer confirmed receipt: the marketplace waits for their review."""
    cancelled = "cancelled"
    refunded = "refunded"


DELIVERED = (OrderStatus.delivered, OrderStatus.awaiting_review)
"""The buyer has the parcel."""
ACTIVE = (OrderStatus.paid, OrderStatus.shipped)
"""Paid and not with the buyer yet: the orders the marketplace calls active."""

ORDER_STATUS_LABELS: dict[str, str] = {
    OrderStatus.unpaid: N_("unpaid"),
    OrderStatus.paid: N_("awaiting shipment"),
    OrderStatus.shipped: N_("on its way"),
    OrderStatus.delivered: N_("delivered"),
    OrderStatus.awaiting_review: N_("awaiting your review"),
    OrderStatus.cancelled: N_("cancelled"),
    OrderStatus.refunded: N_("refunded"),
}


def order_status_label(status: str) -> str:
    """An order's state as buyers and agents read it, in the current locale."""
    return _(ORDER_STATUS_LABELS[status]) if status in ORDER_STATUS_LABELS else status


class PaymentMethod(StrEnum):
    card = "card"
    wallet = "wallet"
    bonus = "bonus"


@dataclass(frozen=True)
class Buyer:
    """Who is asking: their Telegram id and, once linked, the marketplace's buyer id."""

    telegram_id: int
    buyer_id: str | None = None

    @classmethod
    def of(cls, account: User) -> Buyer:
        return cls(telegram_id=account.id, buyer_id=account.buyer_id)


class OrderSource(Protocol):
    """What the bot needs from the marketplace's order system."""

    async def find(self, buyer: Buyer, order_id: str) -> Order | None:
        """The buyer's order with this number; None when unknown or someone else's."""
        ...

    async def page(
        self, buyer: Buyer, *, statuses: Sequence[str] | None, offset: int, limit: int
    ) -> Sequence[Order]:
        """The buyer's orders, newest first."""
        ...

    async def count(self, buyer: Buyer, *, statuses: Sequence[str] | None = None) -> int: ...

    async def count_by_status(self, buyer: Buyer) -> dict[str, int]: ...

    async def set_status(
        self, order: Order, status: OrderStatus, *, refund_issued_at: datetime | None = None
    ) -> None:
        """Record the order's new status (and the refund, when one was issued)."""
        ...


class SqlOrderSource:
    """Orders from the bot's own `orders` table."""

    def __init__(self, repo: OrderRepository) -> None:
        self.repo = repo

    async def find(self, buyer: Buyer, order_id: str) -> Order | None:
        return await self.repo.find_owned(order_id.strip(), buyer.telegram_id, buyer.buyer_id)

    async def page(
        self, buyer: Buyer, *, statuses: Sequence[str] | None, offset: int, limit: int
    ) -> Sequence[Order]:
        return await self.repo.list_owned(
            buyer.telegram_id, buyer.buyer_id, statuses=statuses, offset=offset, limit=limit
        )

    async def count(self, buyer: Buyer, *, statuses: Sequence[str] | None = None) -> int:
        return await self.repo.count_owned(buyer.telegram_id, buyer.buyer_id, statuses=statuses)

    async def count_by_status(self, buyer: Buyer) -> dict[str, int]:
        return await self.repo.count_by_status(buyer.telegram_id, buyer.buyer_id)

    async def set_status(
        self, order: Order, status: OrderStatus, *, refund_issued_at: datetime | None = None
    ) -> None:
        order.status = status
        if refund_issued_at is not None:
            order.refund_issued_at = refund_issued_at
