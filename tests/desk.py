"""Helpers for tests of the agents' side: a sandbox with an agents' forum group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.cases import CaseType, Entry, Opened
from bot.emulator.sandbox import Agent, Person, Sandbox
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
    """Open a case the way a dialog does (one service call), commit, and deliver."""
    async with box.db() as session:
        svc = Services.build(
            session, box.settings, box.clock, handoff=box.dp["handoff"], bot=box.bot
        )
        await svc.users.touch(buyer_id, "Anna", locale, box.clock.now())
        opened = await svc.cases.open(
            buyer_id=buyer_id,
            type_=type_,
            locale=locale,
            entries=entries if entries is not None else [Entry(sender="buyer", text=reason)],
            order_id=order_id,
            reason=reason,
        )
        await session.commit()
        svc.committed()
    await box.process()
    return opened


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages]
