"""One sender paces every Bot API call under Telegram's limits.

Telegram allows a bot about 30 messages a second in all, 1 a second in one private
chat and 20 a minute in one group (BOT_MESSAGES_PER_SECOND, PRIVATE_MESSAGES_PER_SECOND,
GROUP_MESSAGES_PER_MINUTE). `Pacer` sits in the bot's session, so every call that sends
or edits a message waits for its turn, first in its chat, then for the bot as a whole.

- Turns are counted by a GCRA ("theoretical arrival time") per chat: in this process,
  or in Redis when REDIS_URL is set, so several processes share one budget.
- Inside a process, callers waiting for the same chat queue by priority, then in
  order: a case lane's job waits with the turn it took when it started
  (`bot.desk.delivery.IN_TURN`), so 200 cases opened at once reach the agents' group
  one after another, each with its card, oldest first, and a case whose buyer keeps
  writing never holds up a newer one; calls made while handling an update (answers
  to a buyer) go ahead of relayed traffic, and the note about a long queue goes first.
- The pacer runs a little under the limits (MARGIN), so timing jitter never earns a 429;
  if one comes anyway, its retry_after holds the whole chat.
- When the queue to a group is longer than QUEUE_NOTE_MINUTES, `on_backlog` is called
  once per backlog (the handoff posts a note in the General topic).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

from bot.config import Settings

log = logging.getLogger("supportbot.pacing")

MARGIN = 1.05
"""Turns are spaced 5% wider than the limits allow."""
PRIVATE_BURST = 3
"""Telegram lets a private chat get a short burst over 1 a second: an answer of two or
three messages goes out at once, the sustained rate stays at the limit."""
PRUNE_AT = 1024
"""Idle chats' counters are dropped once this many are kept (memory stays bounded)."""
TOPIC_METHODS = frozenset(
    {"createforumtopic", "editforumtopic", "closeforumtopic", "reopenforumtopic"}
)

PRIORITY: ContextVar[int] = ContextVar("pacing_priority", default=0)
"""Lower goes first among calls waiting for the same chat (a case lane's job sets its turn)."""
FIRST = -1
"""The priority of notes that must not wait behind a queue."""


def paced(method_name: str) -> bool:
    """Calls Telegram counts against the limits: whatever sends or edits a message."""
    name = method_name.lower()
    if name == "sendchataction":
        return False
    return name.startswith(("send", "copy", "forward", "edit")) or name in TOPIC_METHODS


@contextlib.contextmanager
def priority(value: int) -> Iterator[None]:
    """Calls made inside wait with this priority."""
    token = PRIORITY.set(value)
    try:
        yield
    finally:
        PRIORITY.reset(token)


class Buckets(Protocol):
    """Where the turns are counted."""

    async def reserve(self, key: str, interval: float, burst: float = 0.0) -> float:
        """Take the key's next turn; returns how many seconds to wait for it (`burst`:
        how many seconds of turns may be taken ahead)."""
        ...

    async def hold(self, key: str, seconds: float) -> None:
        """No turn for the key for `seconds` (Telegram's retry_after)."""
        ...


class LocalBuckets:
    """Turns counted in this process."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._tat: dict[str, float] = {}

    @property
    def kept(self) -> int:
        return len(self._tat)

    async def reserve(self, key: str, interval: float, burst: float = 0.0) -> float:
        now = self._now()
        tat = max(self._tat.get(key, now), now)
        self._tat[key] = tat + interval
        if len(self._tat) > PRUNE_AT:
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return max(0.0, tat - burst - now)

    async def hold(self, key: str, seconds: float) -> None:
        now = self._now()
        self._tat[key] = max(self._tat.get(key, now), now + seconds)


# GCRA in one step on the server's clock, so every process sees the same turns.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
local new
if ARGV[2] == 'hold' then
  new = math.max(tat, now + interval)
else
  new = tat + interval
end
redis.call('SET', KEYS[1], string.format('%.6f', new), 'PX', math.ceil((new - now) * 1000) + 1000)
return string.format('%.6f', math.max(0, tat - tonumber(ARGV[3]) - now))
"""


class RedisBuckets:
    """Turns counted in Redis, shared by every process of the bot. If Redis cannot be
    reached, this process counts on its own meanwhile (one log line)."""

    def __init__(self, url: str, prefix: str = "supportbot:pace:") -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url)
        self.prefix = prefix
        self._script = self.redis.register_script(_RESERVE)
        self._local = LocalBuckets()
        self._down = False

    async def _run(self, key: str, value: float, mode: str, burst: float = 0.0) -> float | None:
        try:
            result = await self._script(keys=[self.prefix + key], args=[value, mode, burst])
        except Exception as error:  # Redis away: pace in-process rather than stop sending
            if not self._down:
                log.warning("pacing in this process only: Redis is unreachable (%s)", error)
                self._down = True
            return None
        if self._down:
            log.info("pacing shared through Redis again")
            self._down = False
        return float(result)

    async def reserve(self, key: str, interval: float, burst: float = 0.0) -> float:
        wait = await self._run(key, interval, "reserve", burst)
        return await self._local.reserve(key, interval, burst) if wait is None else wait

    async def hold(self, key: str, seconds: float) -> None:
        if await self._run(key, seconds, "hold") is None:
            await self._local.hold(key, seconds)

    async def close(self) -> None:
        await self.redis.aclose()


@dataclass
class _Queue:
    """Callers waiting for one chat's (or the bot's) turns, by priority then arrival."""

    waiting: list[tuple[int, int, asyncio.Future[None]]] = field(default_factory=list)
    noted: bool = False
    resumed: asyncio.Event = field(default_factory=asyncio.Event)
    went: float = 0.0
    """When the last caller actually went (turns are spaced from there, not from when
    they were handed out: a busy event loop must not bunch calls together)."""


class Pacer(BaseRequestMiddleware):
    """The bot session's request middleware that keeps every call under the limits."""

    def __init__(
        self,
        buckets: Buckets,
        *,
        bot_per_second: float,
        private_per_second: float,
        group_per_minute: float,
        note_after_seconds: float,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.buckets = buckets
        self.bot_interval = MARGIN / bot_per_second
        self.private_interval = MARGIN / private_per_second
        self.group_interval = MARGIN * 60 / group_per_minute
        self.note_after = note_after_seconds
        self.on_backlog: Callable[[Bot, int, float], None] | None = None
        self._sleep = sleep
        self._queues: dict[str, _Queue] = {}
        self._releasers: set[asyncio.Task[None]] = set()
        self._seq = itertools.count()
        self._bot_went = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Pacer:
        buckets: Buckets = (
            RedisBuckets(settings.redis_url) if settings.redis_url else LocalBuckets()
        )
        return cls(
            buckets,
            bot_per_second=settings.bot_messages_per_second,
            private_per_second=settings.private_messages_per_second,
            group_per_minute=settings.group_messages_per_minute,
            note_after_seconds=settings.queue_note_minutes * 60,
        )

    # ------------------------------------------------------------------ wiring

    async def attach(self, bot: Bot) -> None:
        """Put the pacer in the bot's session (a dispatcher start-up hook)."""
        if self not in bot.session.middleware[:]:
            bot.session.middleware(self)

    async def close(self) -> None:
        for task in list(self._releasers):
            task.cancel()
        await asyncio.gather(*self._releasers, return_exceptions=True)
        if isinstance(self.buckets, RedisBuckets):
            await self.buckets.close()

    @property
    def queued(self) -> int:
        """Chats with callers waiting now (for tests of bounded memory)."""
        return len(self._queues)

    # ------------------------------------------------------------------ the middleware

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat_id = getattr(method, "chat_id", None)
        if not paced(method.__api_method__):
            return await make_request(bot, method)
        key = queue = None
        if isinstance(chat_id, int):
            key = f"chat:{chat_id}"
            interval = self.private_interval if chat_id > 0 else self.group_interval
            queue = await self._turn(bot, key, interval, chat_id)
        try:
            # The bot-wide turn is taken last and without a queue, right before the call,
            # so a call waiting for a busy group never holds up other chats.
            wait = await self.buckets.reserve("bot", self.bot_interval)
            if wait > 0:
                await self._sleep(wait)
            while (gap := self._bot_went + self.bot_interval - time.monotonic()) > 0:
                await self._sleep(gap)  # a busy event loop woke several callers at once
            self._bot_went = time.monotonic()
        finally:
            if queue is not None:  # the chat's next turn is spaced from this moment
                queue.went = time.monotonic()
                queue.resumed.set()
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            log.info(
                "429 on %s: holding %s for %s s", method.__api_method__, key, error.retry_after
            )
            await self.buckets.hold(key or "bot", error.retry_after)
            raise

    async def _turn(self, bot: Bot, key: str, interval: float, chat_id: int) -> _Queue:
        """Wait for the chat's turn; the caller says when it went (`went`, `resumed`)."""
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue()
            burst = (PRIVATE_BURST - 1) * interval if chat_id > 0 else 0.0
            task = asyncio.get_running_loop().create_task(
                self._release(key, queue, interval, burst)
            )
            self._releasers.add(task)
            task.add_done_callback(self._releasers.discard)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(queue.waiting, (PRIORITY.get(), next(self._seq), future))
        if chat_id < 0:
            self._check_backlog(bot, queue, interval, chat_id)
        try:
            await future
        except BaseException:
            queue.went = time.monotonic()
            queue.resumed.set()
            raise
        return queue

    def _check_backlog(self, bot: Bot, queue: _Queue, interval: float, chat_id: int) -> None:
        backlog = len(queue.waiting) * interval
        if queue.noted or backlog < self.note_after or self.on_backlog is None:
            return
        queue.noted = True
        self.on_backlog(bot, chat_id, backlog)

    async def _release(self, key: str, queue: _Queue, interval: float, burst: float) -> None:
        """Hand out the key's turns one at a time, best priority first; ends (and the
        queue is forgotten) once nobody waits."""
        try:
            while queue.waiting:
                gap = queue.went + interval - time.monotonic()
                if gap > 0 and not burst:
                    await self._sleep(gap)
                wait = await self.buckets.reserve(key, interval, burst)
                if wait > 0:
                    await self._sleep(wait)
                while queue.waiting:
                    _priority, _seq, future = heapq.heappop(queue.waiting)
                    if not future.done():
                        queue.resumed.clear()
                        future.set_result(None)
                        await queue.resumed.wait()
                        break
        finally:
            if self._queues.get(key) is queue:
                del self._queues[key]
            for _priority, _seq, future in queue.waiting:
                if not future.done():  # cancelled at shutdown: let callers see it
                    future.cancel()
