"""Webhook mode: Telegram posts updates; the 200 means the update is stored."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from storage.db import create_engine, create_session_factory
from storage.models import InboxUpdate
from tests.e2e.conftest import start_live_bot

SECRET = "e2e-webhook-secret-0123456789"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _stored(database_url: str) -> int:
    engine = create_engine(database_url)
    async with create_session_factory(engine)() as session:
        count = await session.scalar(select(func.count()).select_from(InboxUpdate))
    await engine.dispose()
    return int(count or 0)


async def test_webhook_answers_buyers_refuses_strangers_and_survives_a_kill(
    tmp_path: Path,
) -> None:
    port = _free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook"
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    server, process, live = await start_live_bot(
        tmp_path,
        "--webhook",
        WEBHOOK_URL=hook,
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_LISTEN=f"127.0.0.1:{port}",
    )
    try:
        assert live.model.webhook is not None
        assert live.model.webhook["secret_token"] == SECRET
        anna = live.person(970_001, "Anna", language_code="en")
        [hello] = await anna.send("/start")
        assert hello["text"].startswith("Hello")
        stored = await _stored(database_url)

        update = {"update_id": 999_999, "message": {"message_id": 1, "date": 1, "chat": {
            "id": 970_002, "type": "private"}, "text": "/start"}}  # fmt: skip
        async with aiohttp.ClientSession() as client:
            async with client.post(hook, json=update) as answer:
                assert answer.status == 401
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret-at-all"}
            async with client.post(hook, json=update, headers=wrong) as answer:
                assert answer.status == 401
            right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with client.post(hook, data=b"{not json", headers=right) as answer:
                assert answer.status == 400
            async with client.post(hook, json={"update_id": "x"}, headers=right) as answer:
                assert answer.status == 400
        assert await _stored(database_url) == stored  # refused requests touched nothing
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as client:
            async with client.get(f"{base}/healthz") as answer:
                assert answer.status == 200
                assert (await answer.json())["database"] == "ok"
            async with client.get(f"{base}/metrics") as answer:
                assert 'supportbot_updates_total{type="message"}' in await answer.text()

        # Killed: Telegram's posts fail until the bot is back, then arrive.
        process.kill()
        live.model.send_message(anna.id, "/help")
        since = len(live.model.calls)
        process.start()
        await live.ready(since)
        await live.settle(lambda: "/cancel" in anna.inbox()[-1].get("text", ""))
        assert 0 in server.webhook_answers  # a post failed while the bot was down
    finally:
        await process.stop()
        await server.stop()
    assert SECRET not in process.log()
