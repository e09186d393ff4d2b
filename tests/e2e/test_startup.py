"""Start-up rides out a flaky Bot API: 5xx, 429 and lost calls are retried."""

from __future__ import annotations

from pathlib import Path

from bot.emulator.model import BotApiModel
from tests.e2e.conftest import start_live_bot


def _flaky(model: BotApiModel) -> None:
    model.fail("getMe", 502, times=2)
    model.fail("setMyCommands", 500)
    model.fail("setMyCommands", 429, retry_after=1)
    model.fail("getChat", 502)
    model.fail("getUpdates", 502, times=2)


async def test_the_bot_starts_through_5xx_and_429_and_answers(tmp_path: Path) -> None:
    server, process, live = await start_live_bot(tmp_path, prepare=_flaky)
    try:
        anna = live.person(990_001, "Anna", language_code="ru")
        [hello] = await anna.send("/start")
        assert hello["text"].startswith("Здравствуйте")
        assert live.model.faults == []  # every injected failure was met and got past
        assert {scope for scope, _ in live.model.commands} == {"all_private_chats"}
        assert {language for _, language in live.model.commands} == {"", "ru"}
    finally:
        await process.stop()
        await server.stop()
    log = process.log()
    assert "Traceback" not in log, log[-3000:]
    assert "getMe failed (Bad Gateway); trying again" in log
