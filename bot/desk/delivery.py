"""The one delivery path for everything the bot sends to agents and buyers about cases.

Work is split into lanes (one per case and side: its topic, its buyer's chat). Each
lane runs its jobs one after another, so messages keep their order, while lanes run
side by side, so a chat that Telegram throttles holds up nobody else. With several
processes a lane's job first takes the lane's lock (`storage.locks`), so one process
at a time sends a case's messages. Every call goes
through `Delivery.call`, which:

- waits out 429 `retry_after` (only this lane waits) a few times;
- retries 5xx answers with exponential backoff a few times;
- resends at most once when the connection broke or the response was lost: the Bot
  API has no idempotency key, so the message may have arrived twice and the caller is
  told (`Sent.maybe_twice`) to say so;
- raises `Undeliverable`: `transient` when Telegram is only refusing for a while (the
  caller keeps the message pending and the scheduler tries again later, with backoff,
  until DELIVERY_GIVE_UP_HOURS), permanent for refusals retrying cannot fix (403
  blocked, 400 bad request), which callers show to people.

Calls are paced under Telegram's limits by `bot.desk.pacing.Pacer`, which sits in the
bot's session, so this module only deals with what Telegram answered.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod

from bot.desk import pacing
from storage.db import is_outage
from storage.locks import LocalLocks, Locks

log = logging.getLogger("supportbot.delivery")

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[Any]]
Job = Callable[[], Awaitable[None]]

TOPIC_GONE = ("message thread not found", "topic_deleted", "topic_id_invalid")
TOPIC_CLOSED = "topic_closed"


@dataclass(frozen=True)
class Sent(Generic[T]):
    result: T
    maybe_twice: bool = False
    """The first attempt's response was lost, so the message may have arrived twice."""


class Undeliverable(Exception):
    """Telegram refused; `reason` is Telegram's words.

    `transient`: only for now (5xx, 429, the network), so the message stays pending;
    `unknown`: the last attempt's response was lost, so it may have arrived after all.
    """

    def __init__(
        self, reason: str, *, blocked: bool = False, transient: bool = False, unknown: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.blocked = blocked
        self.transient = transient
        self.unknown = unknown

    @property
    def topic_gone(self) -> bool:
        """The forum topic was deleted by hand."""
        return any(word in self.reason.lower() for word in TOPIC_GONE)

    @property
    def topic_closed(self) -> bool:
        return TOPIC_CLOSED in self.reason.lower()

    @property
    def not_modified(self) -> bool:
        return "message is not modified" in self.reason or "TOPIC_NOT_MODIFIED" in self.reason


def _lock_name(lane: Hashable) -> str:
    parts = lane if isinstance(lane, tuple) else (lane,)
    return "lane:" + ":".join(str(part) for part in parts)


@dataclass
class _Lane:
    jobs: deque[Job] = field(default_factory=deque)
    running: bool = False
    sleeping: bool = False
    last: Hashable | None = None
    """The coalesce key of the newest waiting job."""
    in_turn: bool = False
    """Each job's calls wait with the next turn number (`Delivery.submit`)."""


IN_TURN = None
"""`Delivery.submit`'s priority for jobs that take their turn as they start."""


class Delivery:
    """Lanes of jobs plus the retry policy. One per dispatcher; jobs outlive updates."""

    def __init__(
        self,
        sleep: Sleep = asyncio.sleep,
        *,
        server_retries: int = 3,
        rate_waits: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        locks: Locks | None = None,
    ) -> None:
        self._sleep = sleep
        self._locks = locks or LocalLocks()
        self.server_retries = server_retries
        self.rate_waits = rate_waits
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._lanes: dict[Hashable, _Lane] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._current: dict[asyncio.Task[Any], _Lane] = {}
        self._turns = itertools.count(1)
        """Turn numbers of `IN_TURN` jobs, after 0 (calls made while handling an update)."""
        self.rate_limited = 0
        """How many 429 "Too Many Requests" answers the calls got (for the metrics)."""

    # ------------------------------------------------------------------ lanes

    def submit(
        self,
        lane: Hashable,
        job: Job,
        *,
        coalesce: Hashable | None = None,
        priority: int | None = 0,
    ) -> None:
        """Run `job` after the jobs already waiting in `lane`.

        The lane's calls wait for Telegram's limits with `priority` (lower first, see
        `bot.desk.pacing`). With None, each job takes its turn when it starts, after
        every job started before it (`IN_TURN`): a case's lanes. A burst of new cases
        then reaches the agents' group one case after another, topic, card and
        messages together, and a case whose buyer keeps writing never holds up a
        newer one (with the case number as the priority, it did, for as long as the
        older one wrote).

        A job with a `coalesce` key is dropped when the lane's last waiting job has the
        same key: it would do the same work (a sync reads everything pending when it
        starts), so a buyer sending a thousand messages queues one sync, not a thousand.
        """
        state = self._lanes.setdefault(lane, _Lane())
        if coalesce is not None and state.jobs and state.last == coalesce:
            return
        state.jobs.append(job)
        state.last = coalesce
        if not state.running:
            state.running = True
            state.in_turn = priority is IN_TURN
            with pacing.priority(priority or 0):  # the task keeps this context
                task = asyncio.get_running_loop().create_task(self._drain(lane, state))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._poke()

    async def _drain(self, lane: Hashable, state: _Lane) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._current[task] = state
        try:
            while state.jobs:
                job = state.jobs.popleft()
                if not state.jobs:
                    state.last = None
                try:
                    # With several processes, one of them at a time runs a lane's jobs.
                    async with self._locks.hold(_lock_name(lane)):
                        turn = (
                            pacing.priority(next(self._turns)) if state.in_turn else nullcontext()
                        )
                        with turn:
                            await job()
                except Exception as error:  # one broken job must not stop the lane behind it
                    # After an outage the scheduler finds the job's rows still pending.
                    if not is_outage(error):
                        log.exception("delivery job in lane %s failed", lane)
                self._poke()
        finally:
            state.running = False
            self._current.pop(task, None)
            if not state.jobs:
                self._lanes.pop(lane, None)
            self._poke()

    async def sleep(self, seconds: float) -> None:
        """Wait inside a job; other lanes keep going (and `settle` counts this lane idle)."""
        task = asyncio.current_task()
        state = self._current.get(task) if task is not None else None
        if state is not None:
            state.sleeping = True
            self._poke()
        try:
            await self._sleep(seconds)
        finally:
            if state is not None:
                state.sleeping = False
                self._poke()

    def _poke(self) -> None:
        self._changed.set()

    def _settled(self) -> bool:
        return all(
            lane.sleeping or not (lane.running or lane.jobs) for lane in self._lanes.values()
        )

    async def settle(self) -> None:
        """Return once every lane is empty or waiting (tests and the shell read results then)."""
        while not self._settled():
            self._changed.clear()
            await self._changed.wait()

    @property
    def waiting(self) -> bool:
        """Some lane is waiting (a 429 pause, a backoff, an album being gathered)."""
        return any(lane.sleeping for lane in self._lanes.values())

    async def close(self) -> None:
        """Stop every lane (at shutdown); unfinished work is picked up again from the
        database by the scheduler on the next start."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ one call

    async def call(self, bot: Bot, method: TelegramMethod[T]) -> Sent[T]:
        """Carry out one Bot API call with the retry policy described above."""
        server_errors = rate_waits = 0
        resent = False
        while True:
            try:
                return Sent(await bot(method), maybe_twice=resent)
            except TelegramRetryAfter as error:
                self.rate_limited += 1
                rate_waits += 1
                if rate_waits > self.rate_waits:
                    raise Undeliverable(error.message, transient=True, unknown=resent) from error
                log.info("429 on %s: waiting %s s", method.__api_method__, error.retry_after)
                await self.sleep(error.retry_after)
            except TelegramServerError as error:
                server_errors += 1
                if server_errors > self.server_retries:
                    raise Undeliverable(error.message, transient=True, unknown=resent) from error
                await self.sleep(min(self.backoff * 2 ** (server_errors - 1), self.max_backoff))
            except TelegramNetworkError as error:
                if resent:
                    raise Undeliverable(error.message, transient=True, unknown=True) from error
                resent = True
                await self.sleep(self.backoff)
            except TelegramForbiddenError as error:
                raise Undeliverable(error.message, blocked=True) from error
            except TelegramAPIError as error:  # 400 and the rest: retrying cannot help
                raise Undeliverable(error.message) from error
