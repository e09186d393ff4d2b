"""Choosing one of the buyer's own orders from buttons, page by page.

Dialogs show `order_keyboard(...)` and handle `OrderCb` for their own purpose.
The order id in a button is untrusted: dialogs look it up again with
`svc.orders.find(buyer, order_id)`, which only ever returns the buyer's own order.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import N_
from bot.orders import Buyer, OrderSource
from handlers.callbacks import MenuAction, MenuCb
from storage.models import Order

PAGE_SIZE = 5

STATUS_LABELS = {
    "unpaid": N_("unpaid"),
    "paid": N_("awaiting shipment"),
    "shipped": N_("on its way"),
    "delivered": N_("delivered"),
    "cancelled": N_("cancelled"),
    "refunded": N_("refunded"),
}


class Purpose(StrEnum):
    cancel = "c"
    refund = "r"
    defect = "d"
    seller = "s"
    view = "v"


class OrderCb(CallbackData, prefix="o"):
    purpose: Purpose
    order_id: str


class OrderPageCb(CallbackData, prefix="op"):
    purpose: Purpose
    page: int


def status_label(status: str) -> str:
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def order_button_text(order: Order) -> str:
    title = order.title if len(order.title) <= 28 else order.title[:27] + "…"
    return f"{title} · №{order.order_id} · {status_label(order.status)}"


async def order_keyboard(
    orders: OrderSource,
    buyer: Buyer,
    purpose: Purpose,
    *,
    statuses: Sequence[str] | None = None,
    page: int = 0,
) -> tuple[InlineKeyboardMarkup, int]:
    """Buttons for one page of the buyer's orders, newest first; and how many there are."""
    total = await orders.count(buyer, statuses=statuses)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    found = await orders.page(buyer, statuses=statuses, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    builder = InlineKeyboardBuilder()
    for order in found:
        builder.row(
            InlineKeyboardButton(
                text=order_button_text(order),
                callback_data=OrderCb(purpose=purpose, order_id=order.order_id).pack(),
            )
        )
    if pages > 1:
        navigation = []
        if page > 0:
            navigation.append(
                InlineKeyboardButton(
                    text=_("◀️ Newer"),
                    callback_data=OrderPageCb(purpose=purpose, page=page - 1).pack(),
                )
            )
        navigation.append(
            InlineKeyboardButton(
                text=_("Page {page} of {pages}").format(page=page + 1, pages=pages),
                callback_data=OrderPageCb(purpose=purpose, page=page).pack(),
            )
        )
        if page < pages - 1:
            navigation.append(
                InlineKeyboardButton(
                    text=_("Older ▶️"),
                    callback_data=OrderPageCb(purpose=purpose, page=page + 1).pack(),
                )
            )
        builder.row(*navigation)
    builder.row(
        InlineKeyboardButton(
            text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home).pack()
        )
    )
    return builder.as_markup(), total
