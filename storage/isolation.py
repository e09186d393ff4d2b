"""Events of one chat and user handled one at a time, in this process.

aiogram's SimpleEventIsolation keeps one lock per key forever, so every person who ever
wrote costs memory until a restart. Here a lock lives only while an update of its key
is being handled or waiting: 100,000 people writing once leave nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiogram.fsm.storage.base import BaseEventIsolation, StorageKey


@dataclass
class _Held:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class LocalEventIsolation(BaseEventIsolation):
    """One lock per key while it is in use; dropped when the last user lets go."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, _Held] = {}

    @property
    def held(self) -> int:
        """Keys with an update in hand or waiting."""
        return len(self._locks)

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        held = self._locks.get(key)
        if held is None:
            held = self._locks[key] = _Held()
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0 and self._locks.get(key) is held:
                del self._locks[key]

    async def close(self) -> None:
        self._locks.clear()
