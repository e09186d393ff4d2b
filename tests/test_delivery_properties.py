"""Property: whatever Telegram throws at the delivery path (429 with retry_after, 5xx, a
lost response), every message reaches its own chat and no other, in the order it was
sent: once, or twice when its response was lost (and the caller is told so), or not at
all when the retries ran out (and the caller gets `Undeliverable`). A chat that has to
wait never holds up another chat.

Drives the real `Delivery` (lanes, retry policy) and the real aiogram Bot against the
Bot API model, with several buyers and agents' replies interleaved at random.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import SecretStr

from bot.app import create_bot
from bot.clock import ManualClock
from bot.desk.delivery import Delivery, Undeliverable
from bot.emulator.model import BotApiModel
from bot.emulator.sandbox import SANDBOX_TOKEN, VirtualSleep
from bot.emulator.session import InProcessSession
from tests.conftest import make_settings

BUYERS = [101, 102, 103, 104]
buyers = st.sampled_from(BUYERS)


class WatchedSession(InProcessSession):
    """Remembers, for each chat, whether Telegram refused the last attempt to send there."""

    def __init__(self, model: BotApiModel) -> None:
        super().__init__(model)
        self.refused: dict[Any, bool] = {}

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        chat_id = getattr(method, "chat_id", None)
        try:
            result = await super().make_request(bot, method, timeout)
        except TelegramAPIError:
            self.refused[chat_id] = True
            raise
        self.refused[chat_id] = False
        return result


class DeliveryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        clock = ManualClock(datetime(2026, 11, 24, tzinfo=UTC))
        self.model = BotApiModel(SANDBOX_TOKEN, clock=clock)
        for buyer in BUYERS:
            self.model.add_user(buyer, f"B{buyer}")
        self.session = WatchedSession(self.model)
        self.bot = create_bot(
            make_settings("sqlite+aiosqlite://", bot_token=SecretStr(SANDBOX_TOKEN)),
            session=self.session,
        )
        self.sleep = VirtualSleep()
        self.delivery = self.loop.run_until_complete(self._make_delivery())
        self.sent: dict[int, list[str]] = {buyer: [] for buyer in BUYERS}
        self.outcome: dict[str, str] = {}
        """What the delivery path told the caller: "once", "maybe twice", "undeliverable"."""
        self.doomed: dict[str, int] = {}
        """Messages whose retries were made to run out, and the copies they leave behind."""
        # Faults per buyer stay within the retry budgets, so those messages arrive;
        # `retries_run_out` goes past a budget on purpose, for one message alone.
        self.faults: dict[tuple[int, str], int] = {}
        self.lost: dict[int, int] = dict.fromkeys(BUYERS, 0)
        self.numbers = itertools.count(1)
        self.settled = False
        """Nothing more can happen without time passing (see `let_time_pass`)."""

    async def _make_delivery(self) -> Delivery:
        return Delivery(self.sleep)

    async def _send(self, buyer: int, text: str) -> None:
        try:
            sent = await self.delivery.call(self.bot, SendMessage(chat_id=buyer, text=text))
        except Undeliverable:
            self.outcome[text] = "undeliverable"
        else:
            self.outcome[text] = "maybe twice" if sent.maybe_twice else "once"

    def _submit(self, buyer: int) -> str:
        text = f"reply {next(self.numbers)} for {buyer}"
        self.sent[buyer].append(text)

        async def submit() -> None:
            self.delivery.submit((buyer, "buyer"), lambda: self._send(buyer, text))

        self.loop.run_until_complete(submit())
        return text

    @rule(buyer=buyers, burst=st.integers(min_value=1, max_value=3))
    def agent_replies(self, buyer: int, burst: int) -> None:
        self.settled = False
        for _ in range(burst):
            self._submit(buyer)

    @rule(buyer=buyers, times=st.integers(1, 3), retry_after=st.integers(1, 30))
    def throttle(self, buyer: int, times: int, retry_after: int) -> None:
        self.settled = False
        if self._budget(buyer, "429", times, self.delivery.rate_waits):
            self.model.fail("sendMessage", 429, retry_after=retry_after, chat_id=buyer, times=times)

    @rule(buyer=buyers, times=st.integers(1, 3), status=st.sampled_from([500, 502]))
    def server_error(self, buyer: int, times: int, status: int) -> None:
        self.settled = False
        if self._budget(buyer, "5xx", times, self.delivery.server_retries):
            self.model.fail("sendMessage", status, chat_id=buyer, times=times)

    @rule(buyer=buyers)
    def response_lost(self, buyer: int) -> None:
        """The message arrives but its response does not: the delivery path sends it once
        more. (A second loss for the same message is `retries_run_out`.)"""
        self.settled = False
        if self._budget(buyer, "lost", 1, 1):
            self.model.drop_response("sendMessage", chat_id=buyer)
            self.lost[buyer] += 1

    @rule(buyer=buyers, kind=st.sampled_from(["429", "5xx", "lost"]))
    def retries_run_out(self, buyer: int, kind: str) -> None:
        """One more failure than the retry policy allows, all for one message."""
        self.settled = False
        if not self._idle(buyer):
            return  # the failures must all land on the message sent now
        if kind == "429":
            times = self.delivery.rate_waits + 1
            self.model.fail("sendMessage", 429, retry_after=5, chat_id=buyer, times=times)
        elif kind == "5xx":
            times = self.delivery.server_retries + 1
            self.model.fail("sendMessage", 502, chat_id=buyer, times=times)
        else:
            self.model.drop_response("sendMessage", chat_id=buyer, times=2)
        text = self._submit(buyer)
        self.doomed[text] = 2 if kind == "lost" else 0  # a lost response still arrived

    def _idle(self, buyer: int) -> bool:
        """Every message to the buyer is settled one way or another, no fault is waiting."""
        return all(text in self.outcome for text in self.sent[buyer]) and not any(
            fault.chat_id == buyer for fault in self.model.faults
        )

    def _budget(self, buyer: int, kind: str, times: int, limit: int) -> bool:
        used = self.faults.get((buyer, kind), 0)
        if used + times > limit:
            return False
        self.faults[(buyer, kind)] = used + times
        return True

    @rule(waits=st.booleans())
    def let_time_pass(self, waits: bool) -> None:
        """Let every lane go as far as it can; with `waits`, let the waits run out too."""
        self.loop.run_until_complete(self._run(waits))
        self.settled = True

    async def _run(self, waits: bool) -> None:
        # Nothing waits for real here: a delivery path that hangs fails instead.
        async with asyncio.timeout(30):
            await self.delivery.settle()
            while waits and await self.sleep.release():
                await self.delivery.settle()

    def _copies(self, text: str) -> int | None:
        """How many times a message must be in its chat, once the caller knows its fate."""
        outcome = self.outcome.get(text)
        if outcome == "undeliverable":
            return self.doomed[text]
        return {"once": 1, "maybe twice": 2}.get(outcome or "")

    @invariant()
    def nothing_misdelivered(self) -> None:
        for buyer in BUYERS:
            got = [m["text"] for m in self.model.bot_messages(buyer)]
            assert all(text.endswith(f"for {buyer}") for text in got)
            copies = Counter(got)
            # A second copy only ever follows the first at once; otherwise sent order.
            firsts = [text for i, text in enumerate(got) if i == 0 or got[i - 1] != text]
            assert len(firsts) == len(copies), got
            order = [self.sent[buyer].index(text) for text in firsts]
            assert order == sorted(order), got
            # Nothing left behind: every earlier message arrived or was given up on.
            for text in self.sent[buyer][: order[-1] if order else 0]:
                assert text in copies or self.outcome.get(text) == "undeliverable", text
            for text in self.sent[buyer]:
                if self.outcome.get(text) == "undeliverable":
                    assert text in self.doomed, f"{text} given up within the retry budget"
                expected = self._copies(text)
                if expected is not None:
                    assert copies[text] == expected, (text, self.outcome[text], got)

    @precondition(lambda self: self.settled)
    @invariant()
    def a_waiting_chat_holds_up_nobody(self) -> None:
        """Once every lane has gone as far as it can, a buyer still waiting for a reply
        is one that Telegram itself refused last (a 429, a 5xx, a lost response), not one
        queued behind somebody else's wait."""
        for buyer in BUYERS:
            if any(text not in self.outcome for text in self.sent[buyer]):
                assert self.session.refused.get(buyer), f"{buyer} waits for another chat"

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(self._run(True))
            for buyer in BUYERS:
                expected = [
                    text for text in self.sent[buyer] for _ in range(self._copies(text) or 0)
                ]
                assert [m["text"] for m in self.model.bot_messages(buyer)] == expected
                assert all(text in self.outcome for text in self.sent[buyer])
                # Each lost response that reached a message made it arrive twice, and the
                # caller was told so for exactly those messages.
                still_waiting = sum(
                    f.times for f in self.model.faults if f.drop and f.chat_id == buyer
                )
                told = sum(self.outcome[text] == "maybe twice" for text in self.sent[buyer])
                assert told == self.lost[buyer] - still_waiting
            assert all(self.outcome[text] == "undeliverable" for text in self.doomed)
        finally:
            self.loop.run_until_complete(self.delivery.close())
            self.loop.run_until_complete(self.bot.session.close())
            self.loop.close()


DeliveryMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=12, deadline=None
)
test_delivery_keeps_every_message_in_its_chat_and_order = DeliveryMachine.TestCase
