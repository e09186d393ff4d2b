"""aiogram routers, one module per dialog or audience."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from bot.middlewares import DialogTimeoutMiddleware
from handlers import (
    agents,
    cancel_order,
    commands,
    deep_link,
    defect,
    fallback,
    free_text,
    my_cases,
    my_orders,
    order_picker,
    payment,
    person,
    refund,
    relay,
    seller,
)


def create_routers() -> list[Router]:
    """All routers in the order they must see updates: global commands first,
    dialogs next, free text understood, the relay to agents, the fallback last.
    Buyers' routers only see private chats; the agents' router only the configured
    agents' groups."""
    buyers = Router(name="buyers")
    buyers.message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    # Outer, so a dialog left too long is reset before the state filters look at it.
    timeout = DialogTimeoutMiddleware()
    buyers.message.outer_middleware(timeout)
    buyers.callback_query.outer_middleware(timeout)
    buyers.include_routers(
        # The deep-link /start first: the plain /start in commands takes any payload.
        deep_link.create_router(),
        commands.create_router(),
        # A clear "talk to a person" typed inside a dialog; other text stays the dialog's.
        free_text.create_anywhere_router(),
        person.create_router(),
        my_orders.create_router(),
        payment.create_router(),
        seller.create_router(),
        order_picker.create_router(),
        cancel_order.create_router(),
        refund.create_router(),
        defect.create_router(),
        my_cases.create_router(),
        # Typed requests outside dialogs; what it leaves goes to the relay or the fallback.
        free_text.create_router(),
        relay.create_router(),
        fallback.create_router(),
    )
    return [buyers, agents.create_router()]
