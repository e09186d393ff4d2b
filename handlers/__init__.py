"""aiogram routers, one module per dialog or audience."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType

from handlers import agents, commands, fallback, my_cases, person, relay


def create_routers() -> list[Router]:
    """All routers in the order they must see updates: global commands first,
    dialogs next, the relay to agents, the fallback last. Buyers' routers only see
    private chats; the agents' router only the configured agents' groups."""
    buyers = Router(name="buyers")
    buyers.message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    buyers.include_routers(
        commands.create_router(),
        person.create_router(),
        my_cases.create_router(),
        relay.create_router(),
        fallback.create_router(),
    )
    return [buyers, agents.create_router()]
