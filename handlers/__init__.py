"""aiogram routers, one module per dialog or audience."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers import cancel_order, commands, defect, fallback, order_picker, person, refund


def create_routers() -> list[Router]:
    """All routers in the order they must see updates: global commands first,
    dialogs next, the fallback last. Buyers' routers only see private chats."""
    buyers = Router(name="buyers")
    buyers.message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    buyers.include_routers(
        commands.create_router(),
        person.create_router(),
        order_picker.create_router(),
        cancel_order.create_router(),
        refund.create_router(),
        defect.create_router(),
        fallback.create_router(),
    )
    return [buyers]
