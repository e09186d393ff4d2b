"""A bot killed with SIGKILL in the middle of a dialog picks the dialog up again."""

from __future__ import annotations

from pathlib import Path

from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.fsm import SqlStorage
from storage.models import Case, CaseMessage
from tests.e2e.conftest import start_live_bot
from tests.e2e.harness import TOKEN, LiveBot


async def dialog_saved(live: LiveBot, user_id: int) -> None:
    """Wait until the bot has stored the person's dialog state (its unit of work has
    committed), where the bot keeps it: Redis when REDIS_URL is set, else the database."""
    env = live.process.env
    key = StorageKey(bot_id=int(TOKEN.split(":")[0]), chat_id=user_id, user_id=user_id)
    engine = create_engine(env["DATABASE_URL"])
    storage: BaseStorage = (
        RedisStorage.from_url(env["REDIS_URL"])
        if "REDIS_URL" in env
        else SqlStorage(create_session_factory(engine))
    )

    async def saved() -> bool:
        return await storage.get_state(key) is not None

    try:
        await live.eventually(saved)
    finally:
        await storage.close()
        await engine.dispose()


async def _dialog_survives_sigkill(workdir: Path, database_url: str, **env: str) -> None:
    server, process, live = await start_live_bot(workdir, DATABASE_URL=database_url, **env)
    try:
        anna = live.person(600_001, "Анна", language_code="ru")
        await anna.send("/start")
        [prompt] = await anna.press("Связаться с сотрудником")
        assert prompt["text"].startswith("Расскажите одним сообщением")
        # The prompt is sent before the dialog state commits: kill only once it has.
        await dialog_saved(live, 600_001)

        await live.restart_after_kill()

        # If the kill came before the press was committed, the inbox handles the press
        # again on start (the prompt may show twice); either way the dialog goes on.
        anna.model.send_message(anna.id, "Посылка потерялась, заказ 777")
        await live.settle(
            lambda: anna.inbox()[-1]["text"].startswith("Ваше обращение №1 зарегистрировано")
        )
    finally:
        await process.stop()
        await server.stop()

    engine = create_engine(database_url)
    async with create_session_factory(engine)() as session:
        case = (await session.scalars(select(Case))).one()
        texts = (await session.scalars(select(CaseMessage.text))).all()
    await engine.dispose()
    assert (case.buyer_id, case.type, case.status) == (600_001, "general", "waiting")
    assert texts == ["Посылка потерялась, заказ 777"]


async def test_dialog_survives_sigkill_on_sqlite(tmp_path: Path) -> None:
    await _dialog_survives_sigkill(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")


async def test_dialog_survives_sigkill_on_postgres_and_redis(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    await _dialog_survives_sigkill(tmp_path, postgres_url, REDIS_URL=redis_url)
