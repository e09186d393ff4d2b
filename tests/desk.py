"""Helpers for tests of the agents' side: a sandbox with an agents' forum group."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiogram.dispatcher.middlewares.user_context import EVENT_CONTEXT_KEY, EventContext
from aiogram.types import Chat, TelegramObject, Update, User

from bot.domain.cases import CaseType, Entry, Opened
from bot.emulator.sandbox import Agent, Person, Sandbox
from bot.middlewares import UnitOfWorkMiddleware
from bot.services import Services

GROUP = -1001000000001
BUYER_ID = 10
AGENT_ID = 500


@dataclass
class Desk:
    box: Sandbox
    buyer: Person
    agent: Agent
    buyer_lang: str
    agent_lang: str

    def says(self, texts: dict[str, str], side: str = "buyer") -> str:
        """The expected text in the buyer's (or the agents') language."""
        return texts[self.buyer_lang if side == "buyer" else self.agent_lang]


def unit_of_work(box: Sandbox) -> UnitOfWorkMiddleware:
    """The dispatcher's own unit of work, the one every update goes through."""
    found = [m for m in box.dp.update.outer_middleware if isinstance(m, UnitOfWorkMiddleware)]
    assert len(found) == 1, found
    return found[0]


async def open_case(
    box: Sandbox,
    buyer_id: int,
    *,
    type_: CaseType = CaseType.general,
    locale: str = "en",
    order_id: str | None = None,
    reason: str = "Where is my parcel?",
    entries: list[Entry] | None = None,
) -> Opened:
    """Open a case the way a dialog does: one service call inside the dispatcher's unit of
    work (which touches the buyer's account, commits, then starts the Telegram work), and
    deliver what follows."""

    async def dialog(_event: TelegramObject, data: dict[str, Any]) -> Opened:
        svc: Services = data["svc"]
        return await svc.cases.open(
            buyer_id=buyer_id,
            type_=type_,
            locale=locale,
            entries=entries if entries is not None else [Entry(sender="buyer", text=reason)],
            order_id=order_id,
            reason=reason,
        )

    buyer = User(id=buyer_id, is_bot=False, first_name="Anna", language_code=locale)
    chat = Chat(id=buyer_id, type="private", first_name="Anna")
    opened: Opened = await unit_of_work(box)(
        dialog,
        Update(update_id=0),
        {
            "bot": box.bot,
            "event_from_user": buyer,
            "event_chat": chat,
            EVENT_CONTEXT_KEY: EventContext(chat=chat, user=buyer),
        },
    )
    await box.process()
    return opened


async def open_general_cases(svc: Services, buyers: Iterable[int]) -> None:
    """One general case per buyer, each saying "help BUYER", opened in order (not committed)."""
    for buyer in buyers:
        await svc.users.touch(buyer, f"Buyer {buyer}", "en", svc.clock.now())
        await svc.cases.open(
            buyer_id=buyer,
            type_=CaseType.general,
            locale="en",
            entries=[Entry(sender="buyer", text=f"help {buyer}")],
        )


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages]
