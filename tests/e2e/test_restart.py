"""A bot killed with SIGKILL in the middle of a dialog picks the dialog up again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.models import Case, CaseMessage
from tests.e2e.conftest import start_live_bot


async def _dialog_survives_sigkill(workdir: Path, database_url: str, **env: str) -> None:
    server, process, live = await start_live_bot(workdir, DATABASE_URL=database_url, **env)
    try:
        anna = live.person(600_001, "Анна", language_code="ru")
        await anna.send("/start")
        [prompt] = await anna.press("Связаться с сотрудником")
        assert prompt["text"].startswith("Расскажите одним сообщением")

        await live.restart_after_kill()

        # If the kill came before the press was committed, the inbox handles the press
        # again on start (the prompt may show twice); either way the dialog goes on.
        anna.model.send_message(anna.id, "Посылка потерялась, заказ 777")
        await live.settle(
            lambda: anna.inbox()[-1]["text"].startswith("Ваше обращение №1 зарегистрировано")
        )
    finally:
        process.stop()
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
