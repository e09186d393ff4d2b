"""Health and metrics: `/healthz` and `/metrics` (Prometheus) for an operator's monitoring.

One `Metrics` per dispatcher (its own registry, so tests never share counters):
- `supportbot_updates_total{type}`: updates handled, by type (message, callback_query…);
- `supportbot_handler_seconds{type}`: how long handling an update took (histogram);
- `supportbot_update_errors_total{type}`: updates whose handling raised;
- `supportbot_cases{status}`: cases by status, counted in the database on each scrape;
- `supportbot_outbox_messages{delivery}`: transcript rows still to relay (`pending`)
  or given up on (`failed`), counted on each scrape;
- `supportbot_telegram_429_total`: "Too Many Requests" answers the delivery path got;
- `supportbot_pacing_queue_depth`: calls waiting for their turn under Telegram's limits;
- `supportbot_inbox_lag_seconds`: age of the oldest update stored but not yet handled.
The last two are set by the update path (`Metrics.pacing_queue`, `Metrics.set_inbox_lag`).

`/healthz` answers 200 when the database answers within a second, Redis too (when
REDIS_URL is set) and the inbox lag is under HEALTH_MAX_INBOX_LAG_SECONDS; 503 otherwise,
with what failed in the JSON body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.desk.delivery import Delivery
from bot.domain.cases import CaseStatus
from bot.domain.cases import Delivery as DeliveryState
from storage.models import Case, CaseMessage

if TYPE_CHECKING:  # not an import cycle: redis loads only when REDIS_URL is set
    from redis.asyncio import Redis

CHECK_TIMEOUT = 1.0
"""Seconds a dependency gets to answer a health check."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Metrics:
    """The bot's counters, histograms and gauges, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "supportbot_updates", "Updates handled, by type", ["type"], registry=self.registry
        )
        self.handler_seconds = Histogram(
            "supportbot_handler_seconds",
            "Time to handle one update, by type",
            ["type"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "supportbot_update_errors",
            "Updates whose handling raised an error, by type",
            ["type"],
            registry=self.registry,
        )
        self.cases = Gauge(
            "supportbot_cases", "Cases by status", ["status"], registry=self.registry
        )
        self.outbox = Gauge(
            "supportbot_outbox_messages",
            "Transcript messages still to relay (pending) or given up on (failed)",
            ["delivery"],
            registry=self.registry,
        )
        self.pacing_queue = Gauge(
            "supportbot_pacing_queue_depth",
            "Bot API calls waiting for their turn under Telegram's limits",
            registry=self.registry,
        )
        self.inbox_lag = Gauge(
            "supportbot_inbox_lag_seconds",
            "Age of the oldest update stored but not handled yet",
            registry=self.registry,
        )
        self.inbox_lag_seconds = 0.0

    def set_inbox_lag(self, seconds: float) -> None:
        self.inbox_lag_seconds = seconds
        self.inbox_lag.set(seconds)

    def watch_delivery(self, delivery: Delivery) -> None:
        """Count the delivery path's 429s (read from it on each scrape)."""
        self.registry.register(_RateLimits(delivery))

    async def refresh(self, engine: AsyncEngine) -> None:
        """Count cases by status and the outbox in the database (on each scrape)."""
        async with engine.connect() as conn:
            by_status = dict(
                (await conn.execute(select(Case.status, func.count()).group_by(Case.status))).all()
            )
            by_delivery = dict(
                (
                    await conn.execute(
                        select(CaseMessage.delivery, func.count())
                        .where(
                            CaseMessage.delivery.in_([DeliveryState.pending, DeliveryState.failed])
                        )
                        .group_by(CaseMessage.delivery)
                    )
                ).all()
            )
        for status in CaseStatus:
            self.cases.labels(status=status.value).set(by_status.get(status.value, 0))
        for state in (DeliveryState.pending, DeliveryState.failed):
            self.outbox.labels(delivery=state.value).set(by_delivery.get(state.value, 0))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _RateLimits(Collector):
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "supportbot_telegram_429", "Too Many Requests answers received from Telegram"
        )
        family.add_metric([], self.delivery.rate_limited)
        yield family


class UpdateMetricsMiddleware(BaseMiddleware):
    """Outer middleware on updates: counts each one, times it, counts the failures."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        started = time.perf_counter()
        try:
            return await handler(event, data)
        except Exception:
            self.metrics.errors.labels(type=kind).inc()
            raise
        finally:
            self.metrics.updates.labels(type=kind).inc()
            self.metrics.handler_seconds.labels(type=kind).observe(time.perf_counter() - started)


class Health:
    """What `/healthz` checks: the database, Redis (when set), the inbox lag."""

    def __init__(self, settings: Settings, engine: AsyncEngine, metrics: Metrics) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.redis: Redis | None = None
        if settings.redis_url:  # imported only then: redis costs start-up time
            from redis.asyncio import Redis

            self.redis = Redis.from_url(settings.redis_url)

    async def check(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {"database": await _within(self._database())}
        if self.redis is not None:
            checks["redis"] = await _within(self._redis())
        lag = self.metrics.inbox_lag_seconds
        checks["inbox_lag_seconds"] = round(lag, 3)
        lag_ok = lag <= self.settings.health_max_inbox_lag_seconds
        healthy = lag_ok and all(
            value == "ok" for key, value in checks.items() if key != "inbox_lag_seconds"
        )
        return healthy, {"status": "ok" if healthy else "unhealthy", **checks}

    async def _database(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _redis(self) -> None:
        assert self.redis is not None
        await self.redis.ping()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


async def _within(check: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:g} s"
    except Exception as error:  # a health check reports any failure instead of raising
        return f"{type(error).__name__}: {error}".splitlines()[0][:200]
    return "ok"


def add_health_routes(
    app: web.Application, settings: Settings, engine: AsyncEngine, metrics: Metrics
) -> None:
    """`GET /healthz` and `GET /metrics` on an aiohttp application (webhook mode's, or
    the standalone one from `serve_health`)."""
    health = Health(settings, engine, metrics)

    async def healthz(_request: web.Request) -> web.Response:
        healthy, body = await health.check()
        return web.json_response(body, status=200 if healthy else 503)

    async def scrape(_request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(metrics.refresh(engine), CHECK_TIMEOUT)
        except Exception:  # the counters are still worth serving without the database's
            metrics.errors.labels(type="metrics_scrape").inc()
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def close(_app: web.Application) -> None:
        await health.close()

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", scrape)
    app.on_cleanup.append(close)


async def serve_health(
    settings: Settings, host: str, port: int, *, engine: AsyncEngine, metrics: Metrics
) -> web.AppRunner:
    """Serve `/healthz` and `/metrics` on their own port (polling mode: METRICS_LISTEN).
    Returns the runner; `await runner.cleanup()` stops it."""
    app = web.Application()
    add_health_routes(app, settings, engine, metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def listen_address(value: str) -> tuple[str, int]:
    """`host:port` (METRICS_LISTEN) as a pair; a bare port listens on 127.0.0.1."""
    host, _, port = value.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
