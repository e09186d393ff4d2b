"""Who does a piece of shared work when several bot processes run (REDIS_URL).

Three things must be done by one process at a time: handling a chat's updates (so a
dialog sees its steps in order), running a delivery lane (so a message is sent once)
and a scheduler round (so a reminder is sent once). Each takes a named lock first.

One process needs nothing: its inbox, lanes and scheduler already do one thing at a
time per name, so `LocalLocks` grants every lock at once. `RedisLocks` holds a Redis
lock with a lease that a background task renews while the work goes on; a process
killed while holding one frees it when the lease runs out (LOCK_LEASE_SECONDS), and
another process takes the work over from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # not an import cycle: redis loads only when REDIS_URL is set
    from redis.asyncio.lock import Lock

log = logging.getLogger("supportbot.locks")


class Locks(Protocol):
    def hold(self, name: str, *, wait: bool = True) -> contextlib.AbstractAsyncContextManager[bool]:
        """Hold the lock `name` inside the block; yields False (without waiting) when
        `wait` is False and another process holds it."""
        ...

    async def close(self) -> None: ...


class LocalLocks:
    """One process: the callers already keep to one thing at a time per name."""

    @contextlib.asynccontextmanager
    async def hold(self, name: str, *, wait: bool = True) -> AsyncIterator[bool]:
        yield True

    async def close(self) -> None:
        return None


class RedisLocks:
    """Locks shared by every process on one Redis, with renewed leases."""

    def __init__(self, url: str, *, lease: float = 10.0, prefix: str = "supportbot:lock:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self.lease = lease
        self.prefix = prefix

    @contextlib.asynccontextmanager
    async def hold(self, name: str, *, wait: bool = True) -> AsyncIterator[bool]:
        lock = self._redis.lock(
            self.prefix + name, timeout=self.lease, sleep=0.005, blocking=wait, thread_local=False
        )
        if not await lock.acquire():
            yield False
            return
        renewing = asyncio.get_running_loop().create_task(self._renew(lock, name))
        try:
            yield True
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(Exception):  # expired or Redis gone: the lease ends it
                await lock.release()

    async def _renew(self, lock: Lock, name: str) -> None:
        from redis.exceptions import LockError, RedisError

        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await lock.reacquire()
            except (LockError, RedisError) as error:
                log.warning("lock %s could not be renewed (%s)", name, type(error).__name__)
                return

    async def close(self) -> None:
        await self._redis.aclose()


def create_locks(redis_url: str | None, *, lease: float, namespace: str) -> Locks:
    """Redis locks when several processes may run (REDIS_URL), else none needed.
    `namespace` (the bot's id) keeps bots that share one Redis apart."""
    if not redis_url:
        return LocalLocks()
    return RedisLocks(redis_url, lease=lease, prefix=f"supportbot:{namespace}:lock:")
