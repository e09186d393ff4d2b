"""The real dispatcher wired to the in-process Bot API model.

`supportbot shell` and the fast tests drive the bot through this class: people
write and press buttons in the model, the queued updates go through the same
dispatcher, middlewares and handlers as in production, and the bot's answers
land back in the model's chats.
"""

from __future__ import annotations

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
from bot.emulator.model import BotApiModel
from bot.emulator.session import InProcessSession
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade

# Not a secret: the in-process model accepts only this token and reaches no network.
SANDBOX_TOKEN = "1000001:in-process-sandbox"  # noqa: S105


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
        self.dp: Dispatcher = create_dispatcher(settings, engine=engine, clock=clock)

    @classmethod
    async def start(cls, settings: Settings, clock: Clock) -> Sandbox:
        """Migrate the database, build the bot and run its start-up hooks."""
        engine = create_engine(settings.database_url)
        await upgrade(engine)
        sandbox = cls(settings, clock, engine, BotApiModel(SANDBOX_TOKEN, clock=clock))
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

    async def process(self) -> int:
        """Feed every queued update to the dispatcher, one at a time, as polling would."""
        handled = 0
        while updates := self.model.take_updates():
            for raw in updates:
                update = Update.model_validate(raw, context={"bot": self.bot})
                await self.dp.feed_update(self.bot, update)
                handled += 1
        return handled

    async def settle(self, done: Callable[[], bool]) -> None:
        """In-process, handling every queued update is all there is to wait for."""
        await self.process()

    def person(
        self, user_id: int, first_name: str = "Anna", *, language_code: str | None = "en"
    ) -> Person:
        self.model.add_user(user_id, first_name, language_code=language_code)
        return Person(self, user_id)


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
        self,
        label: str | None = None,
        *,
        data: str | None = None,
        index: int | None = None,
        expect: int = 1,
    ) -> list[dict[str, Any]]:
        """Press a button on the newest keyboard, by label text, index or raw data;
        returns the bot's new or edited messages."""
        with_buttons = [m for m in self.inbox() if m.get("reply_markup")]
        message = with_buttons[-1] if with_buttons else self.inbox()[-1]
        if data is None:
            buttons = self.buttons(message)
            if index is not None:
                data = buttons[index][1]
            else:
                matches = [d for text, d in buttons if label is not None and label in text]
                if not matches:
                    raise LookupError(f"no button {label!r} in {[t for t, _ in buttons]}")
                data = matches[0]
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
