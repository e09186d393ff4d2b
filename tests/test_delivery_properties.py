"""Property: whatever Telegram throws at the delivery path (429 with retry_after, 5xx),
every message reaches its own chat and no other, in the order it was sent, none lost.

Drives the real `Delivery` (lanes, retry policy) and the real aiogram Bot against the
Bot API model, with several buyers and agents' replies interleaved at random.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime

from aiogram.methods import SendMessage
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from pydantic import SecretStr

from bot.app import create_bot
from bot.clock import ManualClock
from bot.desk.delivery import Delivery
from bot.emulator.model import BotApiModel
from bot.emulator.sandbox import SANDBOX_TOKEN, VirtualSleep
from bot.emulator.session import InProcessSession
from tests.conftest import make_settings

BUYERS = [101, 102, 103, 104]
buyers = st.sampled_from(BUYERS)


class DeliveryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        clock = ManualClock(datetime(2026, 11, 24, tzinfo=UTC))
        self.model = BotApiModel(SANDBOX_TOKEN, clock=clock)
        for buyer in BUYERS:
            self.model.add_user(buyer, f"B{buyer}")
        self.bot = create_bot(
            make_settings("sqlite+aiosqlite://", bot_token=SecretStr(SANDBOX_TOKEN)),
            session=InProcessSession(self.model),
        )
        self.sleep = VirtualSleep()
        self.delivery = self.loop.run_until_complete(self._make_delivery())
        self.sent: dict[int, list[str]] = {buyer: [] for buyer in BUYERS}
        # Faults per buyer stay within the retry budgets; longer outages are shown in the
        # topic as undelivered, which tests/test_delivery.py covers.
        self.faults: dict[tuple[int, int], int] = {}
        self.numbers = itertools.count(1)

    async def _make_delivery(self) -> Delivery:
        return Delivery(self.sleep)

    async def _send(self, buyer: int, text: str) -> None:
        await self.delivery.call(self.bot, SendMessage(chat_id=buyer, text=text))

    @rule(buyer=buyers, burst=st.integers(min_value=1, max_value=3))
    def agent_replies(self, buyer: int, burst: int) -> None:
        async def submit() -> None:
            for _ in range(burst):
                text = f"reply {next(self.numbers)} for {buyer}"
                self.sent[buyer].append(text)
                self.delivery.submit((buyer, "buyer"), lambda t=text: self._send(buyer, t))

        self.loop.run_until_complete(submit())

    @rule(buyer=buyers, times=st.integers(1, 3), retry_after=st.integers(1, 30))
    def throttle(self, buyer: int, times: int, retry_after: int) -> None:
        if self._budget(buyer, 429, times, self.delivery.rate_waits):
            self.model.fail("sendMessage", 429, retry_after=retry_after, chat_id=buyer, times=times)

    @rule(buyer=buyers, times=st.integers(1, 3), status=st.sampled_from([500, 502]))
    def server_error(self, buyer: int, times: int, status: int) -> None:
        if self._budget(buyer, 500, times, self.delivery.server_retries):
            self.model.fail("sendMessage", status, chat_id=buyer, times=times)

    def _budget(self, buyer: int, kind: int, times: int, limit: int) -> bool:
        used = self.faults.get((buyer, kind), 0)
        if used + times > limit:
            return False
        self.faults[(buyer, kind)] = used + times
        return True

    @rule(waits=st.booleans())
    def let_time_pass(self, waits: bool) -> None:
        self.loop.run_until_complete(self._run(waits))

    async def _run(self, waits: bool) -> None:
        await self.delivery.settle()
        while waits and await self.sleep.release():
            await self.delivery.settle()

    @invariant()
    def nothing_misdelivered(self) -> None:
        for buyer in BUYERS:
            got = [m["text"] for m in self.model.bot_messages(buyer)]
            assert all(text.endswith(f"for {buyer}") for text in got)
            assert got == self.sent[buyer][: len(got)]  # in order, a prefix of what was sent

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(self._run(True))
            for buyer in BUYERS:
                assert [m["text"] for m in self.model.bot_messages(buyer)] == self.sent[buyer]
        finally:
            self.loop.run_until_complete(self.delivery.close())
            self.loop.run_until_complete(self.bot.session.close())
            self.loop.close()


DeliveryMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=12, deadline=None
)
test_delivery_keeps_every_message_in_its_chat_and_order = DeliveryMachine.TestCase
