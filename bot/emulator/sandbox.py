"""The real dispatcher wired to the in-process Bot API model.

`supportbot shell` and the fast tests drive the bot through this class: people
write and press buttons in the model, the queued updates go through the same
dispatcher, middlewares and handlers as in production, and the bot's answers
land back in the model's chats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.app import create_bot, create_dispatcher
from bot.clock import Clock
from bot.config import Settings
from bot.desk.delivery import Delivery
from bot.emulator.model import BotApiModel
from bot.emulator.session import InProcessSession
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.repositories.cases import CaseRepository

# Not a secret: the in-process model accepts only this token and reaches no network.
SANDBOX_TOKEN = "1000001:in-process-sandbox"  # noqa: S105


class VirtualSleep:
    """How the delivery path waits in the sandbox: nothing waits for real. A wait ends
    when the sandbox has nothing else to do (see `Sandbox.process`); `waits` keeps
    every wait that was asked for (a 429's retry_after, a backoff, an album's gathering)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._pending: list[asyncio.Future[None]] = []
        self._waking = 0

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(waiter)
        try:
            await waiter
        finally:
            self._waking -= 1

    async def release(self) -> bool:
        """End every current wait, once the waiting jobs are running again; False when
        nothing was waiting."""
        pending, self._pending = self._pending, []
        self._waking += len(pending)
        for waiter in pending:
            waiter.set_result(None)
        # One turn of the loop per woken job is enough for it to resume.
        while self._waking > 0:  # noqa: ASYNC110
            await asyncio.sleep(0)
        return bool(pending)


class Sandbox:
    def __init__(
        self, settings: Settings, clock: Clock, engine: AsyncEngine, model: BotApiModel
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = engine
        self.model = model
        self.bot: Bot = create_bot(
            settings.model_copy(update={"bot_token": SecretStr(SANDBOX_TOKEN)}),
            session=InProcessSession(model),
        )
        self.sleep = VirtualSleep()
        self.dp: Dispatcher = create_dispatcher(
            settings, engine=engine, clock=clock, sleep=self.sleep
        )
        self.delivery: Delivery = self.dp["delivery"]

    @classmethod
    async def start(
        cls, settings: Settings, clock: Clock, model: BotApiModel | None = None
    ) -> Sandbox:
        """Migrate the database, build the bot and run its start-up hooks.

        Without a `model`, every configured agents' group exists as a forum where the
        bot is an administrator allowed to manage topics, as the README's set-up asks, and
        new message and topic ids start above those the database already refers to (a
        second `supportbot shell` in the same folder must not reuse the first one's topics).
        """
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        if model is None:
            async with create_session_factory(engine)() as session:
                used = await CaseRepository(session).highest_message_id()
            model = BotApiModel(SANDBOX_TOKEN, clock=clock, first_message_id=used + 1)
            for chat_id in sorted(settings.agent_chat_ids()):
                model.add_group(chat_id)
        sandbox = cls(settings, clock, engine, model)
        await sandbox.dp.emit_startup(**sandbox._workflow())
        return sandbox

    def db(self) -> AsyncSession:
        """A new session on the bot's database, for reading what the bot stored."""
        return create_session_factory(self.engine)()

    def _workflow(self) -> dict[str, Any]:
        return {"bot": self.bot, "dispatcher": self.dp, "bots": [self.bot], **self.dp.workflow_data}

    async def stop(self) -> None:
        await self.dp.emit_shutdown(**self._workflow())
        await self.dp.storage.close()
        await self.bot.session.close()
        await self.engine.dispose()

    async def process(self, *, run_waits: bool = True) -> int:
        """Feed every queued update to the dispatcher, one at a time, as polling would,
        then let the delivery path finish. Its waits end once nothing else is left to
        do; with `run_waits=False` they are left waiting (to look at the moment when
        one chat is paused and the others are not)."""
        handled = 0
        while True:
            updates = self.model.take_updates()
            for raw in updates:
                update = Update.model_validate(raw, context={"bot": self.bot})
                await self.dp.feed_update(self.bot, update)
                handled += 1
            await self.delivery.settle()
            if updates:
                continue
            if run_waits and await self.sleep.release():
                continue
            return handled

    async def run_due(self) -> None:
        """One round of the scheduler (reminders, auto-close, retries), then deliver."""
        await self.dp["scheduler"].run_due(self.bot)
        await self.process()

    async def settle(self, done: Callable[[], bool]) -> None:
        """In-process, handling every queued update is all there is to wait for."""
        await self.process()

    def person(
        self, user_id: int, first_name: str = "Anna", *, language_code: str | None = "en"
    ) -> Person:
        self.model.add_user(user_id, first_name, language_code=language_code)
        return Person(self, user_id)

    def agent(
        self,
        user_id: int,
        first_name: str = "Olga",
        *,
        language_code: str | None = "en",
        chat_id: int | None = None,
    ) -> Agent:
        """A support agent writing in an agents' group (AGENT_CHAT_ID by default)."""
        self.model.add_user(user_id, first_name, language_code=language_code)
        group = chat_id if chat_id is not None else self.settings.agent_chat_id
        assert group is not None, "set AGENT_CHAT_ID to have agents"
        return Agent(self, user_id, group)


def button_data(buttons: list[tuple[str, str]], label: str) -> str:
    """The callback data of the one button whose label is `label`, or else the one whose
    label contains it; never a guess between several."""
    exact = [data for text, data in buttons if text == label]
    found = exact or [data for text, data in buttons if label and label in text]
    if len(found) != 1:
        labels = [text for text, _ in buttons]
        raise LookupError(f"{len(found)} buttons match {label!r} in {labels}")
    return found[0]


class Driver(Protocol):
    """Runs the bot behind a model: in this process (Sandbox) or as a real process (e2e)."""

    model: BotApiModel

    async def settle(self, done: Callable[[], bool]) -> None:
        """Return once the bot has handled what people sent and `done()` holds."""
        ...


@dataclass
class Person:
    """Someone writing to the bot in a private chat."""

    driver: Driver
    id: int
    last_answer: dict[str, Any] | None = None
    """What the bot answered to the last button press (the toast), if anything."""

    @property
    def model(self) -> BotApiModel:
        return self.driver.model

    def inbox(self) -> list[dict[str, Any]]:
        """Every message the bot has in this person's chat, oldest first."""
        return self.model.bot_messages(self.id)

    def _changed_since(self, before: dict[int, Any]) -> list[dict[str, Any]]:
        return [
            m
            for m in self.inbox()
            if m["message_id"] not in before or before[m["message_id"]] != m.get("edit_date")
        ]

    async def send(
        self, text: str | None = None, *, expect: int = 1, **message: Any
    ) -> list[dict[str, Any]]:
        """Write a message; returns the bot's new or edited messages in this chat.

        `expect` is how many messages to wait for when the bot runs elsewhere."""
        before = {m["message_id"]: m.get("edit_date") for m in self.inbox()}
        self.model.send_message(self.id, text, **message)
        await self.driver.settle(lambda: len(self._changed_since(before)) >= expect)
        return self._changed_since(before)

    def buttons(self, message: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """(label, callback data) of a message's inline buttons (default: the newest keyboard)."""
        if message is None:
            with_buttons = [m for m in self.inbox() if m.get("reply_markup")]
            if not with_buttons:
                return []
            message = with_buttons[-1]
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    async def press(
        self, label: str | None = None, *, data: str | None = None, expect: int = 1
    ) -> list[dict[str, Any]]:
        """Press a button on the newest keyboard by its label (see `button_data`), or send
        raw callback `data` from it (an old or forged button); returns the bot's new or
        edited messages."""
        with_buttons = [m for m in self.inbox() if m.get("reply_markup")]
        message = with_buttons[-1] if with_buttons else self.inbox()[-1]
        if data is None:
            data = button_data(self.buttons(message), label or "")
        before = {m["message_id"]: m.get("edit_date") for m in self.inbox()}
        query_id = self.model.press(self.id, self.id, message["message_id"], data)
        await self.driver.settle(
            lambda: (
                query_id in self.model.callback_answers
                and len(self._changed_since(before)) >= expect
            )
        )
        self.last_answer = self.model.callback_answers.get(query_id)
        return self._changed_since(before)


@dataclass
class Agent:
    """A support agent in an agents' forum group, working a case in its topic.

    Works in-process and end to end: `until` says what to wait for when the bot runs
    in another process (in-process, handling the updates is all there is)."""

    driver: Driver
    id: int
    chat_id: int
    last_answer: dict[str, Any] | None = None

    @property
    def model(self) -> BotApiModel:
        return self.driver.model

    def topic_id(self, case_id: int) -> int:
        """The thread id of the case's topic (found by its name, "№12 · ...")."""
        for topic in self.model.chats[self.chat_id].topics.values():
            if topic.name.startswith(f"№{case_id} ·"):
                return topic.thread_id
        raise LookupError(f"no topic for case {case_id}")

    def has_topic(self, case_id: int) -> bool:
        try:
            self.topic_id(case_id)
        except LookupError:
            return False
        return True

    def sees_card(self, case_id: int) -> bool:
        """The case's topic is there with its card in it, as an agent finds it before
        answering (by then the bot has stored the topic's id: each call to Telegram
        follows the commit before it)."""
        try:
            self.card(case_id)
        except LookupError:
            return False
        return True

    def topic(self, case_id: int) -> list[dict[str, Any]]:
        """Every message in the case's topic, oldest first (the bot's and agents')."""
        thread = self.topic_id(case_id)
        return [
            m
            for m in self.model.messages(self.chat_id, thread_id=thread)
            if "forum_topic_created" not in m
        ]

    def card(self, case_id: int) -> dict[str, Any]:
        """The case card: the bot's message in the topic with the case buttons."""
        for message in self.topic(case_id):
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            if any(b.get("callback_data", "").startswith("cs:") for row in rows for b in row):
                return message
        raise LookupError(f"no card for case {case_id}")

    async def say(
        self,
        case_id: int,
        text: str | None = None,
        *,
        until: Callable[[], bool] = lambda: True,
        **message: Any,
    ) -> dict[str, Any]:
        """Write in the case's topic; returns the agent's own message."""
        sent = self.model.send_message(
            self.id, text, chat_id=self.chat_id, thread_id=self.topic_id(case_id), **message
        )
        await self.driver.settle(until)
        return sent

    async def edit(
        self, message: dict[str, Any], text: str, *, until: Callable[[], bool] = lambda: True
    ) -> None:
        self.model.edit_message(self.id, self.chat_id, message["message_id"], text)
        await self.driver.settle(until)

    def buttons(self, case_id: int) -> list[tuple[str, str]]:
        rows = self.card(case_id).get("reply_markup", {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    async def press(
        self, case_id: int, label: str | None = None, *, data: str | None = None
    ) -> None:
        """Press a button on the case's card by its label (see `button_data`), or send raw
        callback `data` from the card."""
        card = self.card(case_id)
        if data is None:
            data = button_data(self.buttons(case_id), label or "")
        query_id = self.model.press(self.id, self.chat_id, card["message_id"], data)
        await self.driver.settle(lambda: query_id in self.model.callback_answers)
        self.last_answer = self.model.callback_answers.get(query_id)
