"""`supportbot run`: migrate, then take updates from Telegram into the inbox and handle them.

Two ways in, one inbox behind them (`bot.inbox`):
- long polling: each batch is stored before the next getUpdates acknowledges it;
- webhook (`--webhook`): the 200 answer means the update is stored.

SIGTERM or SIGINT stops taking updates, finishes the ones in hand and lets the outbox
drain for up to SHUTDOWN_GRACE_SECONDS, then exits; what is left is picked up on the
next start. Start-up waits out a flaky Bot API and an unreachable database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import create_bot, create_dispatcher, patiently
from bot.clock import SystemClock
from bot.config import Settings
from bot.inbox import Inbox, Outage, storage_probe
from bot.metrics import Metrics, add_health_routes, listen_address, serve_health
from storage.db import create_engine, create_session_factory, is_busy, is_outage
from storage.migrate import upgrade
from storage.repositories.inbox import InboxRepository

log = logging.getLogger("supportbot")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


class Runner:
    """One running bot: the dispatcher, its inbox, and the way updates come in."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.bot = create_bot(settings)
        self.clock = clock = SystemClock()
        self.dp = create_dispatcher(settings, engine=engine, clock=clock)
        self.dp.startup.register(self.dp["scheduler"].start)
        self.dp.shutdown.register(self.dp["scheduler"].stop)
        self.sessions = sessions = create_session_factory(engine)
        self.outage = Outage(storage_probe(sessions, settings.redis_url))
        # Several processes share the chats through Redis locks; one needs none.
        shared = self.dp["locks"] if settings.redis_url else None
        self.inbox = Inbox(self.dp, self.bot, sessions, clock, self.outage, locks=shared)
        self.stopping = asyncio.Event()
        self._lag_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # A database unreachable at start is one line and a non-zero exit (bot.cli):
        # an operator is watching a start; outages later are waited out.
        await upgrade(self.engine)
        await patiently(self.bot.me, "getMe")
        await self.inbox.resume()
        self._lag_task = asyncio.get_running_loop().create_task(self._watch_inbox_lag())
        workflow = {**self.dp.workflow_data, "dispatcher": self.dp, "bots": [self.bot]}
        await self.dp.emit_startup(bot=self.bot, **workflow)

    async def _watch_inbox_lag(self, every: float = 5.0) -> None:
        """Keep the inbox-lag gauge (metrics, /healthz) current; with several processes,
        take over the updates that one which stopped left waiting."""
        metrics: Metrics = self.dp["metrics"]
        left_after = timedelta(seconds=self.settings.lock_lease_seconds)
        while True:
            try:
                async with self.sessions() as session:
                    oldest = await InboxRepository(session).oldest_pending_at()
                now = self.clock.now()
                metrics.set_inbox_lag((now - oldest).total_seconds() if oldest else 0.0)
                if self.inbox.locks is not None and oldest and oldest < now - left_after:
                    await self.inbox.adopt(received_before=now - left_after)
            except Exception as error:
                if not is_outage(error):
                    raise
            await asyncio.sleep(every)

    async def serve_health(self) -> web.AppRunner | None:
        """/healthz and /metrics on METRICS_LISTEN (polling mode)."""
        if self.settings.metrics_listen is None:
            return None
        host, port = listen_address(self.settings.metrics_listen)
        return await serve_health(
            self.settings, host, port, engine=self.engine, metrics=self.dp["metrics"]
        )

    def stop_on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._signalled, signum)

    def _signalled(self, signum: int) -> None:
        if not self.stopping.is_set():
            log.info("%s: no new updates; finishing the ones in hand", signal.Signals(signum).name)
            self.stopping.set()

    async def poll(self) -> None:
        """Long polling, acknowledging a batch only once it is stored."""
        offset = await self._stored_offset()
        allowed = self.dp.resolve_used_update_types()
        wait = 1.0
        while not self.stopping.is_set():
            timeout = self.settings.polling_timeout_seconds
            call = GetUpdates(offset=offset, timeout=timeout, allowed_updates=allowed)
            updates = await self._unless_stopping(self.bot(call, request_timeout=timeout + 10))
            if updates is None:
                continue
            if isinstance(updates, BaseException):
                wait = await self._polling_failed(updates, wait)
                continue
            wait = 1.0
            if not updates:
                continue
            try:
                await self.inbox.accept(updates)
            except Exception as error:
                if not is_outage(error):
                    raise
                # Not stored, so not acknowledged: Telegram hands the batch out again.
                if not is_busy(error):
                    await self.outage.wait(error)
                continue
            offset = updates[-1].update_id + 1

    async def _stored_offset(self) -> int | None:
        while True:
            try:
                return await self.inbox.next_offset()
            except Exception as error:
                if not is_outage(error):
                    raise
                await self.outage.wait(error)

    async def _unless_stopping(
        self, call: Awaitable[list[Update]]
    ) -> list[Update] | BaseException | None:
        """The call's result, its error, or None when a stop came first (nothing was
        acknowledged by a call that did not return)."""
        task: asyncio.Task[list[Update]] = asyncio.ensure_future(call)
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            return None
        return task.exception() or task.result()

    async def _polling_failed(self, error: BaseException, wait: float) -> float:
        if isinstance(error, TelegramRetryAfter):
            await self._pause(float(error.retry_after))
            return wait
        if isinstance(error, TelegramServerError | TelegramNetworkError):
            log.warning("getUpdates failed (%s); trying again in %.0f s", error.message, wait)
            await self._pause(wait)
            return min(wait * 2, 30.0)
        raise error

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def serve_webhook(self) -> None:
        """Take updates posted by Telegram; 200 means stored."""
        settings = self.settings
        assert settings.webhook_url is not None
        assert settings.webhook_secret is not None
        secret = settings.webhook_secret.get_secret_value()
        app = web.Application()
        app.router.add_post(_path(settings.webhook_url), self._receive(secret))
        add_health_routes(app, settings, self.engine, self.dp["metrics"])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = settings.listen_address()
        await web.TCPSite(runner, host, port).start()
        await patiently(
            lambda: self.bot.set_webhook(
                settings.webhook_url or "",
                secret_token=secret,
                allowed_updates=self.dp.resolve_used_update_types(),
            ),
            "setWebhook",
        )
        log.info("webhook listening on %s:%s", host, port)
        try:
            await self.stopping.wait()
        finally:
            await runner.cleanup()

    def _receive(self, secret: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), secret.encode()):
                return web.Response(status=401, text="wrong secret token")
            if self.stopping.is_set():
                return web.Response(status=503, text="stopping")
            try:
                update = Update.model_validate(await request.json(), context={"bot": self.bot})
            except (ValueError, ValidationError, json.JSONDecodeError):
                return web.Response(status=400, text="not a Telegram update")
            try:
                await self.inbox.accept([update])
            except Exception as error:
                if not is_outage(error):
                    raise
                # Telegram posts it again later; meanwhile wait for the database.
                asyncio.get_running_loop().create_task(self.outage.wait(error))
                return web.Response(status=503, text="storage unavailable")
            return web.json_response({})

        return receive

    async def finish(self) -> None:
        """Finish the updates in hand and drain the outbox within the grace period."""
        grace = self.settings.shutdown_grace_seconds
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.inbox.drain(), grace)
        if self.inbox.busy:
            log.warning("%d updates stay in the inbox for the next start", self.inbox.busy)
        await self.inbox.cancel()
        delivery = self.dp["delivery"]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(delivery.settle(), max(deadline - loop.time(), 0))
        workflow = {**self.dp.workflow_data, "dispatcher": self.dp, "bots": [self.bot]}
        await self.dp.emit_shutdown(bot=self.bot, **workflow)
        if self._lag_task is not None:
            self._lag_task.cancel()


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


async def run(settings: Settings, *, webhook: bool = False) -> None:
    engine = create_engine(settings.database_url)
    runner = Runner(settings, engine)
    runner.stop_on_signals()
    try:
        await runner.start()
        if webhook:
            await runner.serve_webhook()
        else:
            health = await runner.serve_health()
            log.info("polling %s", settings.telegram_api_url)
            await runner.poll()
            if health is not None:
                await health.cleanup()
        await runner.finish()
    finally:
        await runner.bot.session.close()  # also when start-up failed
        await engine.dispose()
