"""The real bot as a subprocess (`supportbot run`) against the HTTP emulator.

Time: when libfaketime is installed (Debian package `faketime`), the bot runs
under it and `BotProcess.shift(...)` moves the bot's wall clock forward, so
deadlines, reminders and resets can be seen end to end. Nothing in the bot knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from bot.emulator.model import BotApiModel
from bot.emulator.sandbox import Person

FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
)
TOKEN = "4242424242:AAF-e2e-token-never-in-logs"
STARTUP_TIMEOUT = 90.0
"""Start-up imports and migrates: on a busy 2-core machine that takes far longer than
an answer, so waiting for it has its own, longer limit."""


def faketime_library() -> str | None:
    return next((lib for lib in FAKETIME_LIBS if Path(lib).exists()), None)


def need_time_travel() -> None:
    """Skip (fail in CI) a test that moves the bot's clock when libfaketime is missing."""
    if faketime_library() is not None:
        return
    message = "libfaketime is not installed (apt-get install faketime)"
    if os.environ.get("SUPPORTBOT_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


class BotProcess:
    """One `supportbot run` process, its environment, log and clock."""

    def __init__(self, workdir: Path, env: dict[str, str], args: Sequence[str] = ("run",)) -> None:
        self.workdir = workdir
        self.args = list(args)
        self.log_path = workdir / "bot.log"
        self.time_file = workdir / "faketime"
        self.shifted = timedelta()
        self.env = {**os.environ, "LOG_LEVEL": "INFO", **env}
        self.env.pop("SUPPORTBOT_REQUIRE_SERVICES", None)
        library = faketime_library()
        self.can_shift_time = library is not None
        if library is not None:
            self.time_file.write_text("+0\n")
            self.env.update(
                LD_PRELOAD=library,
                FAKETIME_TIMESTAMP_FILE=str(self.time_file),
                # Re-read the shift at most once a second: reading it on every clock call
                # costs the bot more system time than all its real work.
                FAKETIME_CACHE_DURATION="1",
                FAKETIME_DONT_FAKE_MONOTONIC="1",
            )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", *self.args],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no goodbye."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    async def stop(self) -> None:
        """SIGTERM, as a deployment stops the bot, and wait for it to exit by itself after
        its grace period. Waits in a thread: the emulator in this event loop must go on
        answering while the bot finishes what it has."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 60)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)

    def shift(self, delta: timedelta) -> None:
        """Move the bot's wall clock forward (needs libfaketime)."""
        if not self.can_shift_time:
            raise RuntimeError("libfaketime is not installed")
        self.shifted += delta
        self.time_file.write_text(f"+{int(self.shifted.total_seconds())}s\n")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class LiveBot:
    """Drives people against a bot that runs in another process.

    Waits are for facts about the emulator (a message in a chat, an answered button),
    looked at again each time the bot makes a request, never for a fixed time."""

    def __init__(
        self, model: BotApiModel, process: BotProcess, timeout: float = 30.0, start_up: float = 90.0
    ) -> None:
        self.model = model
        self.process = process
        self.timeout = timeout
        # Starting takes longer than answering: imports and migrations, on a busy machine.
        self.start_up = start_up
        self._watched: subprocess.Popen[bytes] | None = None

    def _watch_exit(self) -> None:
        """Wake the waits when the bot process exits, so a crash is reported at once.

        A daemon thread waits for the exit: it never holds up closing the event loop or
        the test run, even when a test leaves its bot process running."""
        popen = self.process.process
        if popen is None or popen is self._watched:
            return
        self._watched = popen
        loop = asyncio.get_running_loop()

        def wait() -> None:
            popen.wait()
            with contextlib.suppress(RuntimeError):  # the event loop was closed first
                loop.call_soon_threadsafe(self.model.changed)

        threading.Thread(target=wait, name=f"bot-{popen.pid}-exit", daemon=True).start()

    def _running(self) -> bool:
        popen = self.process.process
        return popen is not None and popen.poll() is None

    async def settle(self, done: Callable[[], bool], *, within: float | None = None) -> None:
        """Return once `done()` holds; fail at once if the bot exits, or after `within`
        seconds (the default timeout)."""
        self._watch_exit()
        try:
            async with asyncio.timeout(within or self.timeout):
                await self.model.wait_until(lambda: done() or not self._running())
        except TimeoutError:
            raise AssertionError(
                f"the bot did not answer in time:\n{self.process.log()[-3000:]}"
            ) from None
        if not done():
            raise AssertionError(f"the bot process is not running:\n{self.process.log()[-3000:]}")

    async def eventually(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Wait for a fact outside the emulator (what the bot stored), which nothing
        announces: look again every 20 ms until `check()` holds; fail after the timeout."""
        self._watch_exit()
        try:
            async with asyncio.timeout(self.timeout):
                while not await check():
                    if not self._running():
                        raise AssertionError(
                            f"the bot process is not running:\n{self.process.log()[-3000:]}"
                        )
                    await asyncio.sleep(0.02)
        except TimeoutError:
            raise AssertionError(
                f"the bot did not store it in time:\n{self.process.log()[-3000:]}"
            ) from None

    async def ready(self, since: int = 0) -> None:
        """The bot is up once it long-polls for updates or sets its webhook (after call
        number `since`)."""
        await self.settle(
            lambda: any(m in ("getUpdates", "setWebhook") for m, _ in self.model.calls[since:]),
            within=self.start_up,
        )

    async def restart_after_kill(self) -> None:
        """SIGKILL the bot in the middle of whatever it does, start it again, wait for it."""
        self.process.kill()
        since = len(self.model.calls)
        self.process.start()
        await self.ready(since)

    def person(self, user_id: int, first_name: str, *, language_code: str | None) -> Person:
        self.model.add_user(user_id, first_name, language_code=language_code)
        return Person(self, user_id)
