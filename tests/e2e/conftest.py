"""One emulator and one bot process for all end-to-end tests (started once)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from bot.emulator.http import EmulatorServer
from bot.emulator.model import BotApiModel
from tests.e2e.harness import TOKEN, BotProcess, LiveBot

AGENT_CHAT = -1001000000001


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


async def start_live_bot(
    workdir: Path,
    *args: str,
    prepare: Callable[[BotApiModel], None] | None = None,
    **env: str,
) -> tuple[EmulatorServer, BotProcess, LiveBot]:
    """An emulator on 127.0.0.1 and `supportbot run ARGS` pointed at it, up and polling
    (or, with --webhook, with its webhook set). `prepare` sets the emulator up first."""
    model = BotApiModel(TOKEN)
    model.add_group(AGENT_CHAT, "Support agents")
    if prepare is not None:
        prepare(model)  # e.g. faults the bot meets as it starts
    server = EmulatorServer(model)
    url = await server.start()
    process = BotProcess(
        workdir,
        {
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": url,
            "AGENT_CHAT_ID": str(AGENT_CHAT),
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bot.sqlite3'}",
            # Telegram's real limits (20 messages a minute to a group) would make every
            # end-to-end test wait minutes; pacing has its own tests (tests/test_pacing.py).
            "GROUP_MESSAGES_PER_MINUTE": "6000",
            "PRIVATE_MESSAGES_PER_SECOND": "100",
            "BOT_MESSAGES_PER_SECOND": "1000",
            **env,
        },
        ("run", *args),
    )
    process.start()
    live = LiveBot(model, process)
    try:
        await live.ready()
    except BaseException:
        await process.stop()
        await server.stop()
        raise
    return server, process, live


@pytest_asyncio.fixture(scope="session")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveBot]:
    """The shared bot process; tests use distinct user ids so they never meet."""
    server, process, bot = await start_live_bot(tmp_path_factory.mktemp("live"))
    yield bot
    await process.stop()
    await server.stop()
    log = process.log()
    assert TOKEN not in log
    assert "Traceback" not in log, log[-3000:]


# Each test module owns a block of Telegram user ids on the shared bot, so no two tests
# ever see each other's chats or cases: first conversation 500_000, restart 600_000,
# buyer dialogs 700_000 and 710_000, more dialog branches 720_000 and 730_000,
# handoff 740_000, orders/payment/seller 800_000, reports 950_000, free text 960_000.
