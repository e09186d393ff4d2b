"""`supportbot forget`: an operator erases a buyer's personal data (a request that
reached the marketplace by e-mail or phone, say)."""

from __future__ import annotations

from bot.clock import SystemClock
from bot.config import Settings
from bot.domain.erasure import ErasureService
from bot.ops.tools import _unit_of_work


async def forget(settings: Settings, telegram_id: int | None, buyer_id: str | None) -> int:
    """Erase by Telegram id or by marketplace buyer id; prints what was erased.

    The bot tells each case's topic on its next scheduler round (this command does not
    talk to Telegram)."""
    async with _unit_of_work(settings) as session:
        service = ErasureService(session, SystemClock(), settings)
        if telegram_id is not None:
            erased = await service.forget(telegram_id)
            whom = f"Telegram user {telegram_id}"
        else:
            assert buyer_id is not None
            erased = await service.forget_buyer(buyer_id)
            whom = f"buyer {buyer_id}"
    if not erased.accounts and not erased.cases:
        print(f"supportbot: nothing is kept about {whom}")
        return 1
    print(
        f"supportbot: erased {whom}: {erased.accounts} account(s), "
        f"{len(erased.cases)} case(s); the cases' topics are told on the bot's next round"
    )
    return 0
