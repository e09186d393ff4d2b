"""The hot path's plumbing: filters on the event loop, fixed keyboards built once per
language, SQLite writers that queue instead of failing with "database is locked", quick
SQLite calls on the event loop and waiting ones off it."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from datetime import timedelta
from inspect import signature
from typing import Any

import pytest
from aiogram import Bot, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import AnswerCallbackQuery, GetUpdates, SendMessage, SendPhoto
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiohttp import FormData
from aiohttp.payload import BytesPayload
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session

import storage.db
from bot.app import BotSession
from bot.clock import ManualClock
from bot.config import Settings
from bot.emulator.http import json_fields
from bot.emulator.sandbox import Sandbox
from bot.i18n import create_i18n
from bot.inbox import Inbox
from bot.ui.keyboards import main_menu, person_button
from handlers import create_routers, nested_filters, payment, written_as_command
from storage.db import (
    CHECKPOINT_EVERY,
    OFFLOAD,
    InlineConnection,
    create_engine,
    create_session_factory,
    is_busy,
    is_write,
)
from tests.conftest import make_settings
from tests.desk import AGENT_ID, BUYER_ID, GROUP


def _filters(router: Router) -> list[FilterObject]:
    """Every filter of the router and its sub-routers, with those inside `or_f`,
    `and_f` and `invert_f`, however deep."""
    found = [
        inner
        for observer in router.observers.values()
        for handler in (observer._handler, *observer.handlers)
        for filter_ in handler.filters or ()
        for inner in (filter_, *_inside(filter_))
    ]
    return found + [f for sub_router in router.sub_routers for f in _filters(sub_router)]


def _inside(filter_: FilterObject) -> list[FilterObject]:
    inner = nested_filters(filter_)
    return [f for one in inner for f in (one, *_inside(one))]


def test_every_filter_runs_on_the_event_loop() -> None:
    routers = create_routers()
    checks = [filter_.awaitable for router in routers for filter_ in _filters(router)]
    assert len(checks) > 50
    assert all(checks)
    # The agents' notes and unknown commands are or_f's of magic filters.
    agents = routers[1]
    assert sum(len(nested_filters(f)) for f in _filters(agents)) >= 5


async def test_dialog_routers_are_passed_over_at_once_outside_their_states() -> None:
    buyers = create_routers()[0]
    gated = {r.name: r for r in buyers.sub_routers if r.message._handler.filters}
    assert list(gated) == ["slash commands", "dialogs"]
    dialogs = gated["dialogs"]
    inner = {r.name for r in dialogs.sub_routers if r.message._handler.filters}
    assert inner == {
        f"handlers.{name}"
        for name in (
            "person",
            "payment",
            "seller",
            "order_picker",
            "cancel_order",
            "refund",
            "defect",
            "my_cases",
        )
    }
    (gate,) = dialogs.message._handler.filters
    assert not await gate.callback(None, raw_state=None)
    assert await gate.callback(None, raw_state=payment.PaymentDialog.describe.state)
    assert await gate.callback(None, raw_state="RatingDialog:comment")


async def test_button_presses_pass_other_dialogs_routers_at_once(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A press is unpacked only by the handlers of the routers its data's prefix
    names; the others turn it away with one check each. Every dialog and the slash
    commands are gated; the routers that answer any press (stale buttons) are not."""
    buyers = create_routers()[0]
    gated = {r.name for r in buyers.sub_routers if r.callback_query._handler.filters}
    assert gated == {"slash commands", "dialogs", "handlers.typed", "handlers.relay"}
    dialogs = next(r for r in buyers.sub_routers if r.name == "dialogs")
    assert all(r.callback_query._handler.filters for r in dialogs.sub_routers)

    def gate(router: Router) -> Any:
        (only,) = router.callback_query._handler.filters
        return only.callback

    by_name = {r.name: r for r in dialogs.sub_routers}
    query = CallbackQuery.model_validate(
        {"id": "1", "from": {"id": 7, "is_bot": False, "first_name": "A"}, "chat_instance": "c"}
    )
    payment_gate = gate(by_name["handlers.payment"])
    picker_gate = gate(by_name["handlers.order_picker"])
    for data, payment_takes, picker_takes in (
        ("pay:nx", True, False),
        ("m:payment", True, False),  # the menu button that opens the dialog
        ("rf:y", False, False),
        ("pn", False, True),  # a kind without fields is its prefix alone
        ("pnx", False, False),
        ("uo:1", False, True),
        ("o:12", False, False),  # an order button: the dialogs' own routers take it
        (None, False, False),
    ):
        press = query.model_copy(update={"data": data})
        assert await payment_gate(press) is payment_takes, data
        assert await picker_gate(press) is picker_takes, data

    unpacked: list[str] = []
    unpack = CallbackData.unpack.__func__  # type: ignore[attr-defined]

    def counted(cls: type[CallbackData], value: str) -> CallbackData:
        unpacked.append(value)
        return unpack(cls, value)  # type: ignore[no-any-return]

    buyer = sandbox.person(BUYER_ID, "Anna")
    await buyer.send("/start")
    await buyer.press("Payment problem")
    await buyer.press("Paying for a new order")
    monkeypatch.setattr(CallbackData, "unpack", classmethod(counted))
    (screen,) = await buyer.press("Not this, next cause")
    assert screen["text"].startswith("Possible cause 2 of 5")
    # The payment router's own handlers only (eleven before the gates).
    assert 1 <= len(unpacked) <= 4, unpacked


@pytest.mark.parametrize(
    ("text", "caption"),
    [
        ("/start", None),
        ("  /help", None),
        ("\n/language@SupportBot ru", None),
        ("/forget_me", None),
        ("/start order-123", None),
        (None, "/cancel"),
        ("hello", None),
        ("hello /start", None),
        ("", None),
        (None, None),
        (None, "a photo"),
        ("   ", None),
    ],
)
async def test_the_commands_gate_lets_through_what_a_command_filter_takes(
    text: str | None, caption: str | None
) -> None:
    """The slash commands' router checks one character; no command that aiogram's own
    filters would take may be kept out."""
    bot = Bot("42:" + "x" * 35)
    message = Message.model_validate(
        {
            "message_id": 1,
            "date": 1764000000,
            "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "Anna"},
            "text": text,
            "caption": caption,
        }
    )
    names = ("help", "cancel", "language", "forget_me")
    commands = [Command(*names, ignore_mention=True), CommandStart(ignore_mention=True)]
    taken = [bool(await command(message, bot)) for command in commands]
    assert written_as_command(message) == (text or caption or "").lstrip().startswith("/")
    if any(taken):
        assert written_as_command(message)


async def test_a_command_after_spaces_is_still_a_command(desk: tuple[Sandbox, Meter]) -> None:
    box, _meter = desk
    buyer = box.person(BUYER_ID, "Anna", language_code="ru")
    (answer,) = await buyer.send("  /forget_me")
    assert answer["text"].startswith("Я удалю всё, что храню о вас")


def test_no_dialog_lives_in_the_agents_group() -> None:
    """The unit of work knows an agent has no dialog row without a query; that holds
    while no handler of the agents' router reads or sets a dialog state."""
    routers, handlers = [create_routers()[1]], []
    while routers:
        router = routers.pop()
        routers += router.sub_routers
        handlers += [h for o in router.observers.values() for h in (o._handler, *o.handlers)]
    assert len(handlers) > 10
    for handler in handlers:
        assert "state" not in handler.params
        assert "raw_state" not in handler.params
        assert not any(isinstance(f.callback, StateFilter) for f in handler.filters or ())


def test_fixed_keyboards_are_built_once_per_language(settings: Settings) -> None:
    i18n: I18n = create_i18n(settings.default_locale)
    with i18n.context():
        with i18n.use_locale("en"):
            english = main_menu()
            assert main_menu() is english
            assert payment.cause_screen(1)[1] is payment.cause_screen(1)[1]
            assert payment.cause_screen(4)[1] is not payment.cause_screen(1)[1]  # "None of these"
        with i18n.use_locale("ru"):
            russian = main_menu()
    assert english.inline_keyboard[0][0].text == "❌ Cancel an order"
    assert russian.inline_keyboard[0][0].text == "❌ Отменить заказ"


def _fields(form: FormData) -> dict[str, Any]:
    return {options["name"]: value for options, _headers, value in form._fields}


def _as_fields(body: object) -> dict[str, Any]:
    """A JSON body's fields as the emulator reads them (as a form spells them)."""
    assert isinstance(body, BytesPayload)
    assert body.content_type == "application/json"
    return json_fields(json.loads(body._value))


def test_calls_go_as_json_with_a_fixed_keyboard_prepared_once(settings: Settings) -> None:
    bot = Bot("42:" + "x" * 35, default=DefaultBotProperties(link_preview_is_disabled=True))
    ours, aiograms = BotSession(), AiohttpSession()
    walked: list[Any] = []
    prepare = ours.prepare_value

    def counting(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, dict) and "inline_keyboard" in value:
            walked.append(value)
        return prepare(value, *args, **kwargs)

    ours.prepare_value = counting  # type: ignore[method-assign]
    i18n: I18n = create_i18n(settings.default_locale)
    with i18n.context():
        for locale in ("en", "ru", "en", "ru"):
            with i18n.use_locale(locale):
                menu = SendMessage(chat_id=7, text="Hello", reply_markup=main_menu())
                built = InlineKeyboardMarkup(inline_keyboard=[[person_button()]])
                fresh = SendMessage(chat_id=7, text="Hi", reply_markup=built)
                calls = (
                    menu,
                    fresh,
                    SendMessage(
                        chat_id=-100, message_thread_id=5, text="Привет", protect_content=False
                    ),
                    AnswerCallbackQuery(callback_query_id="q1", text="", show_alert=False),
                    GetUpdates(offset=0, timeout=25, allowed_updates=["message"]),
                )
                # Field for field what aiogram's own form sends, whichever way it was built
                # (defaults filled in, empty values left out, false and 0 kept).
                for method in calls:
                    assert _as_fields(ours.build_form_data(bot, method)) == _fields(
                        aiograms.build_form_data(bot, method)
                    )
    sent = json.loads(_as_fields(ours.build_form_data(bot, menu))["reply_markup"])  # ru, last
    assert sent["inline_keyboard"][0][0]["text"] == "❌ Отменить заказ"
    # The fixed menu was walked once per language; the keyboard built per message, each time.
    assert len(walked) == 2 + 4


def test_a_call_with_a_file_goes_as_aiograms_form() -> None:
    bot = Bot("42:" + "x" * 35)
    photo = SendPhoto(chat_id=7, photo=BufferedInputFile(b"\x89PNG", "chart.png"), caption="Week")
    form = BotSession().build_form_data(bot, photo)
    assert isinstance(form, FormData)
    fields = _fields(form)
    assert fields["caption"] == "Week"
    assert fields["photo"].removeprefix("attach://") in fields  # the file's own part


def _answer(method: SendMessage) -> str:
    """Telegram's answer to a sendMessage: the message, with the markup it was sent."""
    markup = method.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    message = {
        "message_id": 11,
        "from": {"id": 42, "is_bot": True, "first_name": "Support"},
        "chat": {"id": 7, "type": "private", "first_name": "Anna"},
        "date": 1764000000,
        "text": method.text,
        "reply_markup": markup.model_dump(mode="json", exclude_none=True),
    }
    return json.dumps({"ok": True, "result": message})


def test_the_answer_to_a_fixed_keyboard_is_not_read_button_by_button(
    settings: Settings,
) -> None:
    bot = Bot("42:" + "x" * 35)
    ours, aiograms = BotSession(), AiohttpSession()
    i18n: I18n = create_i18n(settings.default_locale)
    with i18n.context(), i18n.use_locale("ru"):
        menu = SendMessage(chat_id=7, text="Здравствуйте", reply_markup=main_menu())
        built = InlineKeyboardMarkup(inline_keyboard=[[person_button()]])
        fresh = SendMessage(chat_id=7, text="Hi", reply_markup=built)
    for method in (menu, fresh):
        read = ours.check_response(bot, method, 200, _answer(method))
        # The same message as aiogram reads, keyboard and all.
        theirs = aiograms.check_response(bot, method, 200, _answer(method))
        assert read.model_dump() == theirs.model_dump()
        assert read.result.reply_markup.model_dump() == method.reply_markup.model_dump()
    # The fixed menu is the very object sent; a keyboard built per message is read.
    assert (
        ours.check_response(bot, menu, 200, _answer(menu)).result.reply_markup is menu.reply_markup
    )
    assert ours.check_response(bot, fresh, 200, _answer(fresh)).result.reply_markup is not built
    # A refusal is read as aiogram reads it.
    refusal = (
        '{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}'
    )
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        ours.check_response(bot, menu, 403, refusal)


def test_statements_that_write_are_told_apart() -> None:
    assert is_write("INSERT INTO users (id) VALUES (1)")
    assert is_write("  update users set locale = 'en'")
    assert is_write("WITH x AS (SELECT 1) DELETE FROM cases WHERE id IN (SELECT * FROM x)")
    assert not is_write("SELECT * FROM users")
    assert not is_write("WITH x AS (SELECT 1) SELECT * FROM x")
    assert not is_write("PRAGMA foreign_keys=ON")


async def _counter(sqlite_url: str) -> AsyncEngine:
    """An engine on a database with one counter row (id 1) at 0."""
    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
    return engine


async def test_concurrent_writers_queue_instead_of_failing(sqlite_url: str) -> None:
    engine = await _counter(sqlite_url)
    sessions = create_session_factory(engine)

    async def one() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT n FROM counter"))
            await session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
            await asyncio.sleep(0.01)  # a handler talking to Telegram mid-transaction
            await session.commit()

    try:
        await asyncio.gather(*(one() for _ in range(40)))
        async with sessions() as session:
            total = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
    finally:
        await engine.dispose()
    assert total == 40


async def test_a_writer_kept_waiting_past_the_busy_timeout_fails_as_sqlite_would(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue for the writer's turn keeps SQLite's promise: a write that waited
    longer than the busy timeout fails with "database is locked" (the inbox tries the
    update again), and the turn goes on to the next writer once the holder is done."""
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_SECONDS", 0.2)
    engine = await _counter(sqlite_url)
    sessions = create_session_factory(engine)
    add = text("UPDATE counter SET n = n + 1 WHERE id = 1")
    try:
        async with sessions() as holder:
            await holder.execute(add)  # holds the writer's turn
            async with sessions() as waiting:
                started = time.monotonic()
                with pytest.raises(OperationalError) as refused:
                    await waiting.execute(add)
                assert is_busy(refused.value)
                assert time.monotonic() - started >= 0.2
            await holder.commit()
        async with sessions() as after:
            await after.execute(add)
            await after.commit()
            total = (await after.execute(text("SELECT n FROM counter"))).scalar_one()
    finally:
        await engine.dispose()
    assert total == 2


async def test_quick_statements_run_on_the_loop_and_waiting_ones_off_it(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)

    @event.listens_for(engine.sync_engine, "connect")
    def _thread_function(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread", 0, threading.get_ident)

    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE seen (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER)"))
        await conn.execute(text("INSERT INTO seen VALUES (1, 0, 0)"))
    loop_thread = threading.get_ident()
    try:
        async with create_session_factory(engine)() as session:
            quick = (await session.execute(text("SELECT thread()"))).scalar_one()
            long = await session.execute(text("SELECT thread()"), execution_options={OFFLOAD: True})
            off = long.scalar_one()
            # The first write takes the file's lock: nobody else holds it, so it is
            # taken at once, on the loop (the next test has another process hold it).
            await session.execute(text("UPDATE seen SET a = thread() WHERE id = 1"))
            await session.execute(text("UPDATE seen SET b = thread() WHERE id = 1"))
            await session.commit()
            first, second = (await session.execute(text("SELECT a, b FROM seen"))).one()
    finally:
        await engine.dispose()
    assert quick == loop_thread
    assert off != loop_thread
    assert first == loop_thread
    assert second == loop_thread


async def test_a_burst_of_updates_reuses_the_connections_of_the_last(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda connection, _record: opened.append(1))
    sessions = create_session_factory(engine)
    burst = signature(Inbox).parameters["concurrency"].default  # updates in hand at once

    async def update(all_in: asyncio.Barrier) -> None:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
            await all_in.wait()  # each holds its connection until every one has one

    try:
        for _ in range(3):
            barrier = asyncio.Barrier(burst)
            await asyncio.wait_for(asyncio.gather(*(update(barrier) for _ in range(burst))), 10)
    finally:
        await engine.dispose()
    # Opened once, for the first burst; the next ones found them waiting in the pool.
    assert len(opened) == burst


def _size(path: str) -> int:
    return os.path.getsize(path)


async def test_checkpoints_keep_the_wal_small_and_run_off_the_loop(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = await _counter(sqlite_url)
    sessions = create_session_factory(engine)
    checkpoints: list[int] = []
    made = InlineConnection._commit_and_checkpoint

    def watched(connection: InlineConnection) -> None:
        checkpoints.append(threading.get_ident())
        made(connection)

    monkeypatch.setattr(InlineConnection, "_commit_and_checkpoint", watched)
    wal = sqlite_url.removeprefix("sqlite+aiosqlite:///") + "-wal"
    sizes = []
    try:
        for n in range(1, 5 * CHECKPOINT_EVERY + 1):
            async with sessions() as session:
                await session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n})
                await session.commit()
            sizes.append(_size(wal))
        async with sessions() as session:
            total = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
    finally:
        await engine.dispose()
    assert total == 5 * CHECKPOINT_EVERY
    assert len(checkpoints) >= 4
    assert threading.get_ident() not in checkpoints
    # Each transaction adds a page or two to the WAL; once checkpointed, it is written
    # again from its start, so it stops growing after the first checkpoint.
    assert max(sizes) == max(sizes[: 2 * CHECKPOINT_EVERY])


async def test_a_write_waiting_for_another_process_leaves_the_loop_free(sqlite_url: str) -> None:
    engine = await _counter(sqlite_url)
    sessions = create_session_factory(engine)

    async def write() -> None:
        async with sessions() as session:
            await session.execute(text("UPDATE counter SET n = 1 WHERE id = 1"))
            await session.commit()

    # Another process (a `supportbot` command, say) holds the write lock.
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite+aiosqlite:///"))
    other.execute("BEGIN IMMEDIATE")
    try:
        waiting = asyncio.create_task(write())
        started = time.monotonic()
        for _ in range(20):
            await asyncio.sleep(0.01)
        free_for = time.monotonic() - started
        assert not waiting.done()
        other.rollback()
        await asyncio.wait_for(waiting, 10)
        async with sessions() as session:
            n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
    finally:
        other.close()
        await engine.dispose()
    # Had the write waited on the loop, the loop would have stood still until the busy
    # timeout (30 s), and the other process could never have let go.
    assert free_for < 2
    assert n == 1


# ---------------------------------------------------------------- what an update costs


@dataclass(repr=False)
class Cost:
    """What the database saw while the bot handled one update and its Telegram work."""

    statements: list[str] = field(default_factory=list)
    sessions: dict[int, Session] = field(default_factory=dict)
    """The ORM sessions that reached the database (kept, so that no id is reused)."""
    transactions: int = 0
    """Connections checked out of the pool: one per transaction."""
    commits: int = 0

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """(statements, sessions, transactions, commits)"""
        return len(self.statements), len(self.sessions), self.transactions, self.commits

    def __repr__(self) -> str:
        lines = [" ".join(s.split())[:120] for s in self.statements]
        head = "{} statements, {} sessions, {} transactions, {} commits:\n".format(*self.counts)
        return head + "\n".join(lines)


class Meter:
    """Counts the statements, sessions, transactions and commits of the sandbox's engine."""

    def __init__(self, box: Sandbox) -> None:
        self.clock = box.clock
        self.cost = Cost()
        engine = box.engine.sync_engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(Session, "after_begin", self._begin)

    def close(self) -> None:
        event.remove(Session, "after_begin", self._begin)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.cost.statements.append(statement)

    def _commit(self, _conn: Any) -> None:
        self.cost.commits += 1

    def _checkout(self, *_args: Any) -> None:
        self.cost.transactions += 1

    def _begin(self, session: Session, *_args: Any) -> None:
        self.cost.sessions[id(session)] = session

    async def __call__(self, step: Awaitable[Any]) -> Cost:
        """The cost of one update, a second after the previous one."""
        assert isinstance(self.clock, ManualClock)
        self.clock.advance(timedelta(seconds=1))
        self.cost = Cost()
        await step
        return self.cost


@pytest.fixture
async def desk(sqlite_url: str, clock: ManualClock) -> AsyncIterator[tuple[Sandbox, Meter]]:
    box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock)
    meter = Meter(box)
    yield box, meter
    meter.close()
    await box.stop()


async def test_text_and_start_cost_two_statements_and_one_commit(
    desk: tuple[Sandbox, Meter],
) -> None:
    box, meter = desk
    buyer = box.person(BUYER_ID, "Anna")
    await buyer.send("/start")

    text = await meter(buyer.send("hello"))
    start = await meter(buyer.send("/start"))

    # The account, the dialog's row and "has no case" in one SELECT; the inbox's UPDATE.
    assert text.counts == (2, 1, 1, 1), text
    assert start.counts == (2, 1, 1, 1), start


async def test_a_dialog_step_costs_one_session_and_commit(desk: tuple[Sandbox, Meter]) -> None:
    box, meter = desk
    buyer = box.person(BUYER_ID, "Anna")
    await buyer.send("/start")
    await buyer.press("Payment problem")
    await buyer.press("Paying for a new order")

    flushes: list[Session] = []

    def flushing(session: Session, *_: Any) -> None:
        flushes.append(session)

    event.listen(Session, "before_flush", flushing)
    try:
        step = await meter(buyer.press("Not this, next cause"))
    finally:
        event.remove(Session, "before_flush", flushing)
    assert step.counts == (3, 1, 1, 1), step
    # The dialog's row, already stored, is written by one Core UPDATE at the commit:
    # no pass of the ORM's unit of work (0.3 ms of a step).
    assert [s for s in step.statements if s.startswith("UPDATE fsm_states")] == [
        'UPDATE fsm_states SET state=?, data=? WHERE fsm_states."key" = ?'
    ]
    assert flushes == []


async def test_relayed_messages_cost_few_statements(desk: tuple[Sandbox, Meter]) -> None:
    box, meter = desk
    buyer = box.person(BUYER_ID, "Anna")
    agent = box.agent(AGENT_ID, "Olga")
    await buyer.send("/start")
    await buyer.press("Talk to a person")
    await buyer.send("My parcel is late, please help")
    await agent.say(1, "Let me check")
    await buyer.send("Thanks, waiting", expect=0)

    flushed: list[str] = []

    def flushing(session: Session, *_: Any) -> None:
        flushed.extend(type(row).__name__ for row in (*session.new, *session.dirty))

    event.listen(Session, "before_flush", flushing)
    try:
        relay_in = await meter(buyer.send("One more detail", expect=0))
        assert agent.topic(1)[-1]["text"] == "One more detail"
        relay_out = await meter(agent.say(1, "Found it"))
        assert buyer.inbox()[-1]["text"].startswith("Found it")
        again_out = await meter(agent.say(1, "It arrives tomorrow"))
        assert buyer.inbox()[-1]["text"].startswith("It arrives tomorrow")
    finally:
        event.remove(Session, "before_flush", flushing)
    # Transcript rows are written by Core statements (the new row, then its "sending"
    # and "sent" marks): the ORM's unit of work runs for the case's row and its events.
    assert "CaseMessage" not in flushed
    assert set(flushed) <= {"Case", "CaseEvent"}, flushed
    # The update's session (the buyer's cases come with the account), then the topic
    # side's (the case comes with its unsent rows): the rows are marked "sending" and
    # committed before the call, "sent" after it (the outbox's crash safety).
    assert relay_in.counts == (7, 2, 3, 3), relay_in
    # The buyer wrote in between: the card's status changes, so it is built again.
    # The agent's dialog row is not read: there are none in the group.
    assert relay_out.counts == (13, 3, 4, 4), relay_out
    # Nothing on the card changed: the topic side is left alone.
    assert again_out.counts == (7, 2, 3, 3), again_out
