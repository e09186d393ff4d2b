"""A reverse proxy for webhook workers, as nginx would be in production: Telegram (the
emulator) posts to one URL, and each post goes to the next worker in turn. Used by the
two-worker test and the load benchmark."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

import aiohttp
from aiohttp import web

FORWARDED = ("Content-Type", "X-Telegram-Bot-Api-Secret-Token")


class RoundRobin:
    """The reverse proxy in front of the workers: each post goes to the next worker;
    a worker that does not answer gets a 502, which Telegram (the emulator) posts again."""

    def __init__(self, workers: list[str]) -> None:
        self.workers = workers
        self._next = itertools.cycle(range(len(workers)))
        self.answered: list[tuple[int, int]] = []
        """(worker index, HTTP status) of every post, in order."""
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._changed = asyncio.Event()

    async def start(self, host: str, port: int, path: str = "/telegram/hook") -> None:
        app = web.Application()
        app.router.add_post(path, self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self._client = aiohttp.ClientSession()

    async def _forward(self, request: web.Request) -> web.Response:
        index = next(self._next)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k in FORWARDED}
        try:
            assert self._client is not None
            async with self._client.post(self.workers[index], data=body, headers=headers) as answer:
                status, text = answer.status, await answer.text()
        except aiohttp.ClientError:
            status, text = 502, "worker down"
        self.answered.append((index, status))
        self._changed.set()
        return web.Response(status=status, text=text)

    async def wait_for(self, fact: Callable[[], bool], within: float = 30.0) -> None:
        """Return once `fact()` holds, looking again after each post."""
        async with asyncio.timeout(within):
            while not fact():
                self._changed.clear()
                await self._changed.wait()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()
