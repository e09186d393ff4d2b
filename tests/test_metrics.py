"""Health and metrics as an operator's monitoring reads them: /healthz and /metrics."""

from __future__ import annotations

import io
import json
import logging
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.clock import ManualClock
from bot.config import ConfigError, load_settings
from bot.emulator.sandbox import Sandbox
from bot.logs import Redactor, setup_logging
from bot.metrics import Metrics, add_health_routes, listen_address, serve_health
from storage.db import create_engine
from tests.conftest import make_settings
from tests.desk import GROUP, open_case


async def _client(sandbox: Sandbox) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    add_health_routes(app, sandbox.settings, sandbox.engine, sandbox.dp["metrics"])
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


def _value(exposition: str, name: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise LookupError(name)


async def test_metrics_count_updates_and_cases(sandbox: Sandbox) -> None:
    anna = sandbox.person(21, "Anna")
    await anna.send("/start")
    await anna.press("Talk to a person")
    await anna.send("My parcel is late")
    client = await _client(sandbox)
    try:
        response = await client.get("/metrics")
        assert response.status == 200
        body = await response.text()
    finally:
        await client.close()
    assert _value(body, 'supportbot_updates_total{type="message"}') == 2
    assert _value(body, 'supportbot_updates_total{type="callback_query"}') == 1
    assert _value(body, 'supportbot_handler_seconds_count{type="message"}') == 2
    assert _value(body, 'supportbot_cases{status="waiting"}') == 1
    assert _value(body, 'supportbot_cases{status="closed"}') == 0
    assert _value(body, 'supportbot_outbox_messages{delivery="failed"}') == 0
    assert _value(body, "supportbot_telegram_429_total") == 0


async def test_429_from_telegram_is_counted(sqlite_url: str, clock: ManualClock) -> None:
    box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock)
    try:
        opened = await open_case(box, 10)
        olga = box.agent(500, "Olga")
        box.model.fail("sendMessage", 429, retry_after=3, chat_id=10, times=2)
        box.model.send_message(
            500, "to Anna", chat_id=GROUP, thread_id=olga.topic_id(opened.case.id)
        )
        await box.process()
        client = await _client(box)
        try:
            body = await (await client.get("/metrics")).text()
        finally:
            await client.close()
    finally:
        await box.stop()
    assert _value(body, "supportbot_telegram_429_total") == 2


async def _healthz(sandbox: Sandbox) -> tuple[int, dict[str, Any]]:
    client = await _client(sandbox)
    try:
        response = await client.get("/healthz")
        return response.status, await response.json()
    finally:
        await client.close()


async def test_healthz_answers_200_when_the_database_answers(sandbox: Sandbox) -> None:
    sandbox.dp["metrics"].set_inbox_lag(2.5)
    status, body = await _healthz(sandbox)
    assert status == 200
    assert body == {"status": "ok", "database": "ok", "inbox_lag_seconds": 2.5}


async def test_healthz_answers_503_when_the_inbox_lags(sandbox: Sandbox) -> None:
    sandbox.dp["metrics"].set_inbox_lag(600)
    status, body = await _healthz(sandbox)
    assert status == 503
    assert body["status"] == "unhealthy"


async def test_healthz_answers_503_when_the_database_is_gone(tmp_path: Path) -> None:
    # A database file that was there and is gone with its folder.
    folder = tmp_path / "gone"
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{folder / 'bot.sqlite3'}"
    settings = make_settings(url)
    engine = create_engine(url)
    folder.rmdir()
    app = web.Application()
    add_health_routes(app, settings, engine, Metrics())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.get("/healthz")
        body = await response.json()
    finally:
        await client.close()
        await engine.dispose()
    assert response.status == 503
    assert body["database"].startswith("OperationalError")


@pytest.mark.redis
async def test_healthz_checks_redis_when_it_is_set(sandbox: Sandbox, redis_url: str) -> None:
    settings = sandbox.settings.model_copy(update={"redis_url": redis_url})
    app = web.Application()
    add_health_routes(app, settings, sandbox.engine, Metrics())
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        body = await (await client.get("/healthz")).json()
    finally:
        await client.close()
    assert body["redis"] == "ok"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_serve_health_listens_on_its_own_port(sandbox: Sandbox) -> None:
    port = _free_port()
    runner = await serve_health(
        sandbox.settings, "127.0.0.1", port, engine=sandbox.engine, metrics=sandbox.dp["metrics"]
    )
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert "supportbot_cases" in await response.text()
    finally:
        await runner.cleanup()


def test_metrics_listen_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_LISTEN", "127.0.0.2:9108")
    assert load_settings(None).metrics_listen == "127.0.0.2:9108"
    assert listen_address("127.0.0.2:9108") == ("127.0.0.2", 9108)
    assert listen_address(":9108") == ("127.0.0.1", 9108)
    monkeypatch.setenv("METRICS_LISTEN", "")
    assert load_settings(None).metrics_listen is None
    monkeypatch.setenv("METRICS_LISTEN", "localhost")
    with pytest.raises(ConfigError, match="METRICS_LISTEN"):
        load_settings(None)


def test_json_logs_are_one_object_per_line_without_secrets() -> None:
    token = "123456:secret-token-value"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        setup_logging("INFO", Redactor([token]), "json")
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("supportbot").info("calling %s with %s", "getMe", token)
        try:
            raise RuntimeError(f"boom {token}")
        except RuntimeError:
            logging.getLogger("supportbot").exception("failed")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = stream.getvalue().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "calling getMe with ***"
    assert first["level"] == "INFO"
    assert first["logger"] == "supportbot"
    assert second["level"] == "ERROR"
    assert "boom ***" in second["exception"]
    assert token not in stream.getvalue()
