"""Load benchmark: the real `supportbot run` over HTTP, many buyers at once, closed loop.

    python bench/load.py [--buyers 50] [--messages 20]
                         [--scenarios text,start,dialog,relay-in,relay-out]
                         [--database-url postgresql+asyncpg://...] [--no-echo]
                         [--workers N --redis-url redis://...] [--profile DIR]

This process runs the Bot API emulator (bot/emulator) on 127.0.0.1 and the buyers;
the bot runs in its own process, exactly as in production (polling, SQLite in a
temporary folder unless --database-url is given). `--workers N` runs N webhook
workers on PostgreSQL and Redis behind a round-robin proxy (as nginx would be); the
emulator posts over up to 40 connections, one update of a chat at a time, and the
bot's CPU and memory are the sum over its workers. Each buyer sends a message, waits
for the bot's answer at the emulator, then sends the next (closed loop), so the
figures say how fast answers come back, not how fast a queue fills.

Scenarios (an update is one buyer or agent message or button press):
- text: a plain message outside any dialog (the menu fallback answers);
- start: /start (greeting and main menu);
- dialog: payment help, one button press a step (kind, the causes, the advice, back
  to the menu, round again);
- relay-in: a buyer with an open case writes; the answer is the copy in the case's topic;
- relay-out: an agent writes in the case's topic; the answer is the copy at the buyer.

For each it prints updates/s, latency p50/p95/p99 (the update made available by the
emulator -> the bot's message stored by the emulator), the bot process's CPU per
update, its peak RSS, and failed updates (no answer within --timeout, or an ERROR or
traceback in the bot's log). The same harness then runs a bare aiogram echo bot
(bench/echo_bot.py) through text and /start, and the bot's CPU per update is shown
as a multiple of the echo's. Start-up (process start -> first getUpdates) and idle
memory are measured for both. The emulator's own CPU is shown too (this process, a
share of one core): near 100% would mean the emulator, not the bot, is the limit.

`--profile DIR` needs py-spy (`pip install py-spy`; it attaches to the bot's process,
which takes root or ptrace rights). It pauses the bot for each sample, so that every
stack is whole: a profiled run's own figures carry that cost (3.9 ms against 3.1-3.6 ms
per plain message without it).

Everything stays on the loopback interface; every wait has a deadline, and the bot
processes are stopped before the script returns.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import make_url
from sqlalchemy import text as sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.emulator.http import EmulatorServer
from bot.emulator.model import BotApiModel, Chat
from bot.emulator.proxy import RoundRobin
from storage.db import create_engine
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
# Not a secret: only the emulator on 127.0.0.1 accepts it.
TOKEN = "4242424242:AAF-bench-token-not-a-secret"  # noqa: S105
AGENT_CHAT = -1001000000777
SCENARIOS = ("text", "start", "dialog", "relay-in", "relay-out")
ECHO_SCENARIOS = ("text", "start")
# One round of the payment dialog, a button press a step; every step answers with one
# new message (and the button's toast).
DIALOG_ROUND = ("m:payment", "pay:n", "pay:nx", "pay:nx", "pay:nx", "pay:nx", "pay:nx", "pay:l")
TICKS = os.sysconf("SC_CLK_TCK")
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b")


class BenchModel(BotApiModel):
    """The emulator's model, telling waiting buyers the moment the bot's message lands."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.waiters: dict[tuple[int, int | None], list[asyncio.Future[float]]] = defaultdict(list)
        self.stored = 0
        self.unexpected = 0
        self.first_poll: float | None = None

    def reset_calls(self) -> None:
        self.calls.clear()

    async def call(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        uploads: dict[str, bytes] | None = None,
    ) -> Any:
        if self.first_poll is None and method.lower() in ("getupdates", "setwebhook"):
            self.first_poll = time.perf_counter()
        result = await super().call(token, method, params, uploads)
        # The harness reads nothing from the call log; keep memory flat.
        self.calls.clear()
        return result

    def expect(self, chat_id: int, thread_id: int | None = None) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[(chat_id, thread_id)].append(future)
        return future

    def _store(self, chat: Chat, message: dict[str, Any]) -> dict[str, Any]:
        stored = super()._store(chat, message)
        self.stored += 1
        waiting = self.waiters.get((chat.id, message.get("message_thread_id")))
        while waiting:
            future = waiting.pop(0)
            if not future.done():
                future.set_result(time.perf_counter())
                break
        else:
            self.unexpected += 1
        return stored


@dataclass
class Result:
    scenario: str
    bot: str
    updates: int = 0
    timeouts: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    emulator_cpu: float = 0.0
    peak_rss_mb: float = 0.0
    log_errors: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.updates / self.wall if self.wall else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.updates if self.updates else float("nan")

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fresh_database(url: str) -> str:
    """A new, empty database on the server of `url` (PostgreSQL), so that no earlier
    run's cases and queues weigh on this one; its URL."""
    import asyncpg

    name = f"supportbot_bench_{os.getpid()}"
    server = make_url(url)
    admin = await asyncpg.connect(
        user=server.username, host=server.host, port=server.port, database=server.database
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return server.set(database=name).render_as_string(hide_password=False)


async def empty_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def drop_database(url: str, fresh: str) -> None:
    import asyncpg

    server = make_url(url)
    admin = await asyncpg.connect(
        user=server.username, host=server.host, port=server.port, database=server.database
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{make_url(fresh).database}" WITH (FORCE)')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def memory_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Start the peak-RSS count (VmHWM) afresh, where the kernel allows it."""
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


class Subject:
    """One bot under load (ours or the echo bot): its processes (several webhook workers
    share one load), their log and their figures."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        workdir: Path,
        copies: list[dict[str, str]] | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.copies = copies or [{}]
        """Per-process additions to `env`; one process per entry."""
        self.log_path = workdir / f"{name}.log"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.startup = float("nan")
        self.idle_mb = float("nan")

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    async def start(self, model: BenchModel, limit: float) -> None:
        for n, extra in enumerate(self.copies):
            model.first_poll = None
            started = time.perf_counter()
            with self.log_path.open("ab") as log:
                # The bot under test, started from this script's own fixed command line.
                process = subprocess.Popen(  # noqa: S603, ASYNC220
                    self.argv,
                    cwd=self.workdir,
                    env={**self.env, **extra},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            self.processes.append(process)
            deadline = started + limit
            while model.first_poll is None:
                if process.poll() is not None or time.perf_counter() > deadline:
                    raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")
                await asyncio.sleep(0.005)
            if n == 0:
                self.startup = model.first_poll - started
        # Idle: started, taking updates, nothing to do for a moment.
        await asyncio.sleep(2)
        self.idle_mb = sum(memory_mb(pid, "VmRSS") for pid in self.pids)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def errors_since(self, offset: int) -> int:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            tail = log.read().decode(errors="replace")
        return sum(1 for line in tail.splitlines() if ERROR_LINE.search(line))


class Load:
    """The buyers, their agents' topics, and how one scenario is driven."""

    def __init__(self, model: BenchModel, args: argparse.Namespace) -> None:
        self.model = model
        self.args = args
        # Distinct ids on every run, so a reused PostgreSQL database never mixes runs.
        base = 10_000_000 + (time.time_ns() // 1_000_000) % 10_000_000 * 100
        self.buyers = [base + i for i in range(args.buyers)]
        self.agent = base - 1
        self.topics: dict[int, int] = {}
        self.menu: dict[int, int] = {}
        model.add_user(self.agent, "Agent", language_code="en")
        for buyer in self.buyers:
            model.add_user(buyer, f"Buyer{buyer % 1000}", language_code="en")

    async def exchange(self, send: Any, chat_id: int, thread_id: int | None = None) -> float | None:
        """Send one update, wait for the bot's message in (chat, thread); the latency."""
        waiter = self.model.expect(chat_id, thread_id)
        sent = time.perf_counter()
        send()
        try:
            answered = await asyncio.wait_for(asyncio.shield(waiter), self.args.timeout)
        except TimeoutError:
            waiter.cancel()
            return None
        return answered - sent

    def _last_bot_message(self, buyer: int) -> int:
        return self.model.bot_messages(buyer)[-1]["message_id"]

    def _step(self, scenario: str, buyer: int, i: int) -> tuple[Any, int, int | None]:
        model = self.model
        if scenario == "text":
            return (lambda: model.send_message(buyer, f"hello {i}")), buyer, None
        if scenario == "start":
            return (lambda: model.send_message(buyer, "/start")), buyer, None
        if scenario == "dialog":
            data = DIALOG_ROUND[i % len(DIALOG_ROUND)]
            message_id = self._last_bot_message(buyer)
            return (lambda: model.press(buyer, buyer, message_id, data)), buyer, None
        topic = self.topics[buyer]
        if scenario == "relay-in":
            return (lambda: model.send_message(buyer, f"more details {i}")), AGENT_CHAT, topic
        if scenario == "relay-out":
            return (
                lambda: model.send_message(
                    self.agent, f"agent answer {i}", chat_id=AGENT_CHAT, thread_id=topic
                ),
                buyer,
                None,
            )
        raise ValueError(scenario)

    async def buyer_loop(self, scenario: str, buyer: int, result: Result, count: int) -> None:
        for i in range(count):
            send, chat_id, thread_id = self._step(scenario, buyer, i)
            latency = await self.exchange(send, chat_id, thread_id)
            if latency is None:
                result.timeouts += 1
                if scenario == "dialog":
                    return  # the dialog lost its place; the rest would measure nonsense
            else:
                result.latencies.append(latency)
                result.updates += 1

    async def run(self, scenario: str, subject: Subject, count: int) -> Result:
        result = Result(scenario, subject.name)
        await self.quiet()
        log_offset = subject.log_size()
        for pid in subject.pids:
            reset_peak(pid)
        cpu_before, emu_before = subject.cpu(), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(self.buyer_loop(scenario, b, result, count) for b in self.buyers))
        result.wall = time.perf_counter() - started
        result.cpu = subject.cpu() - cpu_before
        result.emulator_cpu = (time.process_time() - emu_before) / result.wall
        result.peak_rss_mb = sum(memory_mb(pid, "VmHWM") for pid in subject.pids)
        await self.quiet()
        result.log_errors = subject.errors_since(log_offset)
        return result

    async def quiet(self, spell: float = 0.3, limit: float = 30) -> None:
        """Wait until the bot has sent nothing for a short spell (its tail work is done)."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            before = self.model.stored
            await asyncio.sleep(spell)
            if self.model.stored == before:
                return

    async def greet_all(self) -> None:
        """Every buyer has an account and a menu before anything is measured."""
        await asyncio.gather(
            *(
                self.exchange(lambda b=b: self.model.send_message(b, "/start"), b)
                for b in self.buyers
            )
        )

    async def open_cases(self, database_url: str) -> None:
        """Each buyer asks for a person and gets a case with its topic (not measured)."""

        async def one(buyer: int) -> None:
            await self.exchange(
                lambda: self.model.press(buyer, buyer, self._last_bot_message(buyer), "m:person"),
                buyer,
            )
            await self.exchange(
                lambda: self.model.send_message(buyer, "My parcel is late, please help"), buyer
            )

        await asyncio.gather(*(one(b) for b in self.buyers))
        engine = create_engine(database_url)
        deadline = time.perf_counter() + max(120, self.args.timeout)
        try:
            while len(self.topics) < len(self.buyers):
                if time.perf_counter() > deadline:
                    print(
                        f"only {len(self.topics)} of {len(self.buyers)} cases got a topic: "
                        "the relay scenarios run with those buyers",
                        file=sys.stderr,
                    )
                    self.buyers = [b for b in self.buyers if b in self.topics]
                    break
                async with engine.connect() as conn:
                    rows = await conn.execute(
                        sql(
                            "SELECT buyer_id, topic_id FROM cases "
                            "WHERE topic_id IS NOT NULL AND buyer_id >= :low AND buyer_id <= :high"
                        ),
                        {"low": self.buyers[0], "high": self.buyers[-1]},
                    )
                    self.topics = {int(b): int(t) for b, t in rows}
                await asyncio.sleep(0.2)
        finally:
            await engine.dispose()
        await self.quiet(spell=1.0)


def _echo_floor(results: list[Result]) -> float:
    """The echo bot's CPU per plain message in these results, the `x echo` divisor."""
    echo_text = next((r for r in results if r.bot == "echo" and r.scenario == "text"), None)
    return echo_text.cpu_ms if echo_text else float("nan")


def print_table(results: list[Result], subjects: dict[str, Subject]) -> None:
    floor = _echo_floor(results)
    header = (
        f"{'bot':<6} {'scenario':<10} {'updates':>7} {'upd/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'CPU ms/upd':>10} {'x echo':>6} {'peak MB':>7} {'t/o':>4} {'errors':>6} "
        f"{'emu CPU':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.bot:<6} {r.scenario:<10} {r.updates:>7} {r.rate:>7.0f} {r.pct(0.50):>7.0f} "
            f"{r.pct(0.95):>7.0f} {r.pct(0.99):>7.0f} {r.cpu_ms:>10.2f} "
            f"{r.cpu_ms / floor:>6.1f} {r.peak_rss_mb:>7.0f} {r.timeouts:>4} {r.log_errors:>6} "
            f"{100 * r.emulator_cpu:>6.0f}%"
        )
    print()
    for subject in subjects.values():
        print(
            f"{subject.name:<6} start-up (process start -> first getUpdates or setWebhook) "
            f"{subject.startup:.2f} s, idle RSS {subject.idle_mb:.0f} MB"
        )
    print(
        "t/o = updates with no answer within the timeout; errors = ERROR records in the "
        "bot's log (each a failed update or delivery); "
        "emu CPU = the emulator and the buyers (this process), share of one core"
    )


async def main(args: argparse.Namespace) -> int:
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    rounds = []
    for number in range(1, args.rounds + 1):
        if args.rounds > 1:
            print(f"round {number} of {args.rounds}", file=sys.stderr)
        rounds.append(await measure(args, scenarios))
    database = "PostgreSQL" if args.database_url else "SQLite"
    mode = (
        f"{database} + Redis, {args.workers} webhook worker(s)"
        if args.workers
        else f"{database}, polling"
    )
    print(f"\n{args.buyers} buyers x {args.messages} updates each, closed loop, {mode}\n")
    for number, (results, subjects) in enumerate(rounds, 1):
        if args.rounds > 1:
            print(f"round {number}:")
        print_table(results, subjects)
    if args.rounds > 1:
        print_medians([results for results, _subjects in rounds])
    return 0


def print_medians(rounds: list[list[Result]]) -> None:
    """The median over the rounds of each figure; `x echo` is the median of each round's
    own multiple (the echo bot measured minutes apart from the bot, on a machine whose
    speed drifts), not a ratio of medians."""
    print(f"\nmedian of {len(rounds)} rounds:")
    columns = ("upd/s", "p99 ms", "CPU ms/upd", "x echo")
    print(f"{'bot':<6} {'scenario':<10} " + " ".join(f"{c:>10}" for c in columns))
    keys = dict.fromkeys((r.bot, r.scenario) for results in rounds for r in results)
    for bot, scenario in keys:
        found = [
            (r, _echo_floor(results))
            for results in rounds
            for r in results
            if (r.bot, r.scenario) == (bot, scenario)
        ]
        rate = statistics.median(r.rate for r, _floor in found)
        p99 = statistics.median(r.pct(0.99) for r, _floor in found)
        cpu = statistics.median(r.cpu_ms for r, _floor in found)
        times = statistics.median(r.cpu_ms / floor for r, floor in found)
        print(f"{bot:<6} {scenario:<10} {rate:>10.0f} {p99:>10.0f} {cpu:>10.2f} {times:>10.1f}")


async def measure(
    args: argparse.Namespace, scenarios: list[str]
) -> tuple[list[Result], dict[str, Subject]]:
    """One round: a fresh emulator and database, the echo bot's scenarios, then ours."""
    model = BenchModel(TOKEN)
    model.add_group(AGENT_CHAT, "Support agents")
    server = EmulatorServer(model)
    url = await server.start()
    results: list[Result] = []
    subjects: dict[str, Subject] = {}
    with tempfile.TemporaryDirectory(prefix="supportbot-load-") as tmp:
        workdir = Path(tmp)
        database_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bot.sqlite3'}"
        if args.database_url:
            database_url = await fresh_database(args.database_url)
        # Migrated beforehand, as for every start but a database's first: start-up and
        # idle memory are a restart's (a first start also loads Alembic, +12 MB).
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
        base_env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": url,
            "LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT),
        }
        base_env.pop("REDIS_URL", None)
        base_env.update(args.env)
        ours_env = {
            **base_env,
            "AGENT_CHAT_ID": str(AGENT_CHAT),
            "DATABASE_URL": database_url,
            # Telegram's limits (1 message a second to a chat, 20 a minute to a group)
            # would make this a benchmark of patience: lifted, the pacing still runs and
            # its cost is counted.
            "BOT_MESSAGES_PER_SECOND": "1000000",
            "PRIVATE_MESSAGES_PER_SECOND": "1000000",
            "GROUP_MESSAGES_PER_MINUTE": "60000000",
            # The buyers here write faster than the flood guard lets a person (20
            # messages in 10 s): held to it, a buyer's 21st message is skipped and its
            # answer never comes. Lifted, the guard still counts every message.
            "FLOOD_LIMIT": "1000000",
            **args.env,
        }
        command = [sys.executable, "-m", "bot", "run"]
        copies = None
        proxy = None
        if args.workers:
            # Webhook workers behind a round-robin proxy, sharing PostgreSQL and Redis
            # (emptied: an earlier run's locks and queues must not weigh on this one).
            await empty_redis(args.redis_url)
            ports = [free_port() for _ in range(args.workers)]
            proxy_port = free_port()
            proxy = RoundRobin([f"http://127.0.0.1:{port}/hook" for port in ports])
            await proxy.start("127.0.0.1", proxy_port, "/hook")
            command.append("--webhook")
            ours_env.update(
                REDIS_URL=args.redis_url,
                WEBHOOK_URL=f"http://127.0.0.1:{proxy_port}/hook",
                WEBHOOK_SECRET="bench-webhook-secret",  # noqa: S106 - the local emulator's
            )
            copies = [{"WEBHOOK_LISTEN": f"127.0.0.1:{port}"} for port in ports]
        ours = Subject("ours", command, ours_env, workdir, copies)
        echo = Subject(
            "echo", [sys.executable, str(ROOT / "bench" / "echo_bot.py")], base_env, workdir
        )
        try:
            if not args.no_echo:
                subjects["echo"] = echo
                await echo.start(model, args.start_timeout)
                load = Load(model, args)
                for scenario in (s for s in scenarios if s in ECHO_SCENARIOS):
                    results.append(await load.run(scenario, echo, args.messages))
                    print(f"echo {scenario}: done", file=sys.stderr)
                echo.stop()
            subjects["ours"] = ours
            await ours.start(model, args.start_timeout)
            load = Load(model, args)
            await load.greet_all()
            for scenario in scenarios:
                if scenario.startswith("relay") and not load.topics:
                    await load.open_cases(database_url)
                profiler = start_profiler(args.profile, scenario, ours.pids[0])
                try:
                    results.append(await load.run(scenario, ours, args.messages))
                finally:
                    stop_profiler(profiler)
                print(f"ours {scenario}: done", file=sys.stderr)
            ours.stop()
        except Exception as error:  # still show what was measured before it broke
            print(f"the run stopped early: {error!r}", file=sys.stderr)
        finally:
            echo.stop()
            ours.stop()
            if proxy is not None:
                await proxy.stop()
            await server.stop()
            if args.database_url:
                await drop_database(args.database_url, database_url)
        if args.keep_logs:
            for subject in subjects.values():
                target = Path(args.keep_logs) / subject.log_path.name
                target.write_text(subject.log())
    return results, subjects


def start_profiler(
    directory: str | None, scenario: str, pid: int
) -> subprocess.Popen[bytes] | None:
    """py-spy on the bot for one scenario (collapsed stacks of the samples that hold
    the GIL), when --profile is given."""
    if directory is None:
        return None
    Path(directory).mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(  # noqa: S603
        [
            str(py_spy if py_spy.exists() else "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            # Only samples that hold the GIL: the CPU the bot spends, not its waits.
            "--gil",
            "--format",
            "raw",
            "--output",
            str(Path(directory) / f"{scenario}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profiler(profiler: subprocess.Popen[bytes] | None) -> None:
    if profiler is None:
        return
    profiler.send_signal(signal.SIGINT)
    try:
        profiler.wait(timeout=20)
    except subprocess.TimeoutExpired:
        profiler.kill()
        profiler.wait()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=20, help="updates per buyer")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server to make a fresh database on (dropped after the run); "
        "default: a fresh SQLite file",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for one answer")
    parser.add_argument(
        "--start-timeout", type=float, default=120.0, help="seconds for a bot to start"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="run N webhook workers behind a round-robin proxy (needs --database-url "
        "and --redis-url); default: one polling process",
    )
    parser.add_argument(
        "--redis-url", default=None, help="Redis for --workers; the benchmark empties it first"
    )
    parser.add_argument("--no-echo", action="store_true", help="skip the echo bot")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the whole run (fresh bots and database each time) and add the medians",
    )
    parser.add_argument("--profile", default=None, help="folder for py-spy stacks per scenario")
    parser.add_argument("--keep-logs", default=None, help="folder to copy the bots' logs to")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the bot (repeatable)"
    )
    args = parser.parse_args()
    args.env = dict(item.split("=", 1) for item in args.env)
    if args.buyers < 1 or args.messages < 1:
        parser.error("--buyers and --messages must be positive")
    if args.workers and not (args.database_url and args.redis_url):
        parser.error("--workers needs --database-url (PostgreSQL) and --redis-url")
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
