"""The inbox: nothing Telegram hands the bot is lost, whatever happens to the process.

Updates are written to the `inbox` table before Telegram is told they arrived (the
next getUpdates offset, or the webhook's 200). Handling an update marks it done in
the same transaction as what it changed (the unit of work), so after a crash an update
is either done with all its effects or still waiting, and it is handled on the next
start. An update_id stored before is ignored, so a redelivery never doubles anything.

Updates of one chat are handled one after another, in the order Telegram numbered
them; chats go side by side. When the database (or Redis) cannot be reached, the
update in hand is kept and tried again once the server answers: nothing is answered
with an apology, and the poller stops acknowledging, so Telegram keeps the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from aiogram import Bot, Dispatcher
from aiogram.types import Message, Update
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.errors import NotYet
from storage.db import is_busy, is_outage
from storage.locks import Locks
from storage.repositories.inbox import InboxRepository

log = logging.getLogger("supportbot.inbox")

RELAPSE_SECONDS = 10.0
"""An outage starting this soon after the last one ended is that one's tail."""

KEEP_DONE = timedelta(days=2)
"""Handled updates are remembered this long: Telegram keeps an update for 24 hours."""

NOT_YET_SECONDS = 0.1
"""How soon an update that came before what it refers to (`NotYet`) is tried again; the
chat's later updates wait behind it, in order."""


def chat_key(update: Update) -> str:
    """Updates with the same key are handled in order: a chat, or one topic of a forum
    (agents in different topics go side by side), else the person."""
    event = update.event
    message = getattr(event, "message", None) if not isinstance(event, Message) else event
    chat = getattr(event, "chat", None) or getattr(message, "chat", None)
    if chat is not None:
        if isinstance(message, Message) and message.is_topic_message:
            return f"{chat.id}/{message.message_thread_id}"
        return str(chat.id)
    person = getattr(event, "from_user", None) or getattr(event, "user", None)
    return f"user {person.id}" if person is not None else "none"


class Outage:
    """Waits until the database (and Redis) answer again, saying so in a few log lines:
    one when the outage starts, one a minute while it lasts, one when it ends."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        *,
        first_wait: float = 0.5,
        max_wait: float = 5.0,
        report_every: float = 60.0,
    ) -> None:
        self._probe = probe
        self.first_wait = first_wait
        self.max_wait = max_wait
        self.report_every = report_every
        self._recovered: asyncio.Future[None] | None = None
        self._back_at = float("-inf")

    @property
    def active(self) -> bool:
        return self._recovered is not None and not self._recovered.done()

    async def wait(self, error: BaseException) -> None:
        """Return once the servers answer; every caller shares one probing loop."""
        if not self.active:
            loop = asyncio.get_running_loop()
            self._recovered = loop.create_future()
            # A pooled connection the restart broke fails once more just after the
            # server is back: the same outage's tail, not a new one worth a log line.
            tail = loop.time() - self._back_at < RELAPSE_SECONDS
            if not tail:
                log.warning(
                    "storage unreachable (%s): updates wait until it is back", type(error).__name__
                )
            task = loop.create_task(self._probe_until_back(self._recovered, quiet=tail))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        assert self._recovered is not None
        await asyncio.shield(self._recovered)

    async def _probe_until_back(self, recovered: asyncio.Future[None], *, quiet: bool) -> None:
        loop = asyncio.get_running_loop()
        started = last_report = loop.time()
        wait = self.first_wait
        while True:
            await asyncio.sleep(wait)
            try:
                await self._probe()
            except Exception as error:
                if not is_outage(error):
                    raise
                if loop.time() - last_report >= self.report_every:
                    last_report = loop.time()
                    log.warning("storage still unreachable after %d s", int(last_report - started))
                wait = min(wait * 2, self.max_wait)
                continue
            if not quiet:
                log.warning("storage is back after %d s", int(loop.time() - started))
            self._back_at = loop.time()
            recovered.set_result(None)
            return


class Inbox:
    """Stores updates, then hands them to the dispatcher, in order per chat.

    One process keeps each chat's updates in a queue of its own. With several
    processes (`locks` shared through Redis) a process first takes the chat's lock,
    then handles every update of the chat that is still waiting in the table, oldest
    first, whichever process stored it: so a buyer's updates posted to alternating
    webhook workers still reach the dialog one at a time and in order, and updates a
    killed process left behind are taken over (`adopt`).
    """

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        outage: Outage,
        *,
        locks: Locks | None = None,
        concurrency: int = 64,
    ) -> None:
        self.dp = dp
        self.bot = bot
        self.sessions = sessions
        self.clock = clock
        self.outage = outage
        self.locks = locks
        """Shared with other processes; None when this is the only one."""
        self._chats: dict[str, deque[int]] = {}
        self._updates: dict[int, Update] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------------ taking updates in

    async def accept(self, updates: Sequence[Update]) -> None:
        """Store the updates (one transaction), then start handling the new ones.

        Raises when the database cannot be reached: the caller must not acknowledge.
        """
        rows = [
            (
                u.update_id,
                chat_key(u),
                u.model_dump_json(exclude_none=True, exclude_defaults=True),
            )
            for u in updates
        ]
        async with self.sessions() as session:
            new = await InboxRepository(session).add(rows, self.clock.now())
            await session.commit()
        for update in updates:
            if update.update_id in new:
                self._schedule(update)

    async def resume(self) -> int:
        """Schedule the updates stored but not handled (after a crash or a stop)."""
        async with self.sessions() as session:
            repository = InboxRepository(session)
            await repository.forget_done(self.clock.now() - KEEP_DONE)
            await session.commit()
        count = await self.adopt()
        if count:
            log.info("resuming %d updates stored before the last stop", count)
        return count

    async def adopt(self, received_before: datetime | None = None) -> int:
        """Schedule the waiting updates this process does not have in hand (all of
        them, or those received before a moment: left by a process that stopped)."""
        async with self.sessions() as session:
            repository = InboxRepository(session)
            pending = await repository.pending(limit=100_000, received_before=received_before)
            updates = []
            for update_id, payload, key in pending:
                if update_id in self._updates:
                    continue
                update = self._parse(payload)
                updates.append(update)
                if key is None:  # stored by a version before the inbox kept chat keys
                    await repository.set_chat_key(update_id, chat_key(update))
            await session.commit()
        for update in updates:
            self._schedule(update)
        return len(updates)

    async def next_offset(self) -> int | None:
        """The getUpdates offset that acknowledges everything already stored."""
        async with self.sessions() as session:
            last = await InboxRepository(session).last_update_id()
        return None if last is None else last + 1

    def _parse(self, payload: str) -> Update:
        return Update.model_validate(json.loads(payload), context={"bot": self.bot})

    # ------------------------------------------------------------------ handling

    def _schedule(self, update: Update) -> None:
        key = chat_key(update)
        self._updates[update.update_id] = update
        queue = self._chats.get(key)
        if queue is not None:
            queue.append(update.update_id)
            return
        self._chats[key] = deque([update.update_id])
        self._idle.clear()
        task = asyncio.get_running_loop().create_task(self._drain_chat(key))
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not self._running:
            self._idle.set()

    async def _drain_chat(self, key: str) -> None:
        queue = self._chats[key]
        try:
            async with self._slots:
                if self.locks is None:
                    while queue:
                        await self._handle(self._updates[queue[0]])
                        self._updates.pop(queue.popleft(), None)
                else:
                    await self._drain_shared(key, queue, self.locks)
        finally:
            # The chat's queue goes with its last update: idle chats cost nothing.
            self._chats.pop(key, None)
            for update_id in queue:
                self._updates.pop(update_id, None)

    async def _drain_shared(self, key: str, queue: deque[int], locks: Locks) -> None:
        while queue:
            try:
                async with locks.hold(f"chat:{key}"):
                    # Until this process's own updates of the chat are done; whatever
                    # another process stored meanwhile, that process holds and comes for.
                    while queue:
                        # What was queued before this read was stored before it too: if
                        # the read finds none of it waiting, another process handled it.
                        known = len(queue)
                        async with self.sessions() as session:
                            found = await InboxRepository(session).first_pending(key)
                        if found is None:
                            for _ in range(known):
                                self._updates.pop(queue.popleft(), None)
                            break
                        update_id, payload = found
                        await self._handle(self._updates.get(update_id) or self._parse(payload))
                        if update_id in queue:
                            queue.remove(update_id)
                        self._updates.pop(update_id, None)
            except Exception as error:
                if not is_outage(error):
                    raise
                await self.outage.wait(error)

    async def _handle(self, update: Update) -> None:
        while True:
            try:
                await self.dp.feed_update(self.bot, update)
                return
            except Exception as error:
                if is_busy(error):
                    await asyncio.sleep(random.uniform(0.05, 0.5))  # noqa: S311 - jitter
                    continue
                if isinstance(error, NotYet):
                    await asyncio.sleep(NOT_YET_SECONDS)
                    continue
                if not is_outage(error):
                    # The error handler answers everything else; this is a bug in it.
                    log.exception("update %s could not be handled", update.update_id)
                    await self._give_up(update.update_id)
                    return
                await self.outage.wait(error)

    async def _give_up(self, update_id: int) -> None:
        try:
            async with self.sessions() as session:
                await InboxRepository(session).done(update_id, self.clock.now())
                await session.commit()
        except Exception as error:
            if not is_outage(error):
                raise
            log.warning("update %s stays in the inbox until the database is back", update_id)

    @property
    def busy(self) -> int:
        """Updates in hand: being handled or queued behind one of their chat."""
        return len(self._updates)

    async def drain(self) -> None:
        """Return once every update in hand has been handled."""
        await self._idle.wait()

    async def cancel(self) -> None:
        """Stop handling (after the grace period): what is left waits in the table."""
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)


def storage_probe(
    sessions: async_sessionmaker[AsyncSession], redis_url: str | None
) -> Callable[[], Awaitable[None]]:
    """A check that the database (and Redis, when set) answer, for `Outage`."""

    async def probe() -> None:
        async with sessions() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=5)
        if redis_url:
            from redis.asyncio import Redis

            client = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
            try:
                await client.ping()
            finally:
                await client.aclose()

    return probe
