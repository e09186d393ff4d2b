"""The seam: builds the Bot and the Dispatcher with everything they need."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from functools import partial
from http import HTTPStatus
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import AnswerCallbackQuery, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, ChatMemberAdministrator
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiohttp import FormData
from aiohttp.payload import BytesPayload
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.config import LOCALES, Settings
from bot.desk.delivery import Delivery, Sleep
from bot.desk.handoff import Handoff
from bot.desk.pacing import Pacer
from bot.desk.scheduler import Scheduler
from bot.errors import ErrorHandler, answered_here
from bot.flood import FloodGuard, FloodMiddleware
from bot.i18n import LocaleMiddleware, create_i18n
from bot.intents import shipped
from bot.metrics import Metrics, UpdateMetricsMiddleware
from bot.middlewares import CardGuardMiddleware, UnitOfWorkMiddleware
from bot.ui.keyboards import is_fixed
from handlers import create_routers
from storage.db import create_session_factory
from storage.fsm import SqlStorage
from storage.isolation import LocalEventIsolation
from storage.locks import create_locks

log = logging.getLogger("supportbot")

T = TypeVar("T")
_MARKUP = {"reply_markup"}


FIRST_RETRY_SECONDS = 1.0


async def patiently(call: Callable[[], Awaitable[T]], what: str, *, attempts: int = 6) -> T:
    """Retry a Bot API call through 5xx answers, 429s and network errors (waiting 1, 2,
    4, ... seconds, or as long as a 429 says); after `attempts` tries the error stands,
    so a Bot API that is really unreachable ends start-up with one line."""
    wait = FIRST_RETRY_SECONDS
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except TelegramRetryAfter as error:
            if attempt == attempts:
                raise
            pause = float(error.retry_after)
        except (TelegramServerError, TelegramNetworkError) as error:
            # A malformed TELEGRAM_API_URL never starts working: say so at once.
            if attempt == attempts or "InvalidUrl" in error.message:
                raise
            pause, wait = wait, wait * 2
            log.warning("%s failed (%s); trying again in %.0f s", what, error.message, pause)
        await asyncio.sleep(pause)
    raise AssertionError("unreachable")  # the loop returns or raises


STALE_QUERY = "query is too old"


async def _stale_queries_answered(
    make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
) -> Any:
    """Answering a button press that Telegram already forgot is not a failure.

    It happens when an update is handled again after a restart (the inbox keeps what
    was not committed): the press was answered the first time, and what matters, the
    dialog step, must still happen.
    """
    try:
        return await make_request(bot, method)
    except TelegramBadRequest as error:
        if isinstance(method, AnswerCallbackQuery) and STALE_QUERY in error.message:
            return True
        raise


class BotSession(AiohttpSession):
    """aiogram's HTTP session, sending JSON and keeping the models of the answers it
    reads alive.

    aiogram reads every answer through a `Response[T]` model; pydantic keeps such
    generic models only in a weak cache, so after each garbage collection the next
    answer builds its model's schema again, on the hot path. One reference per
    result type keeps them built.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._responses: dict[Any, Any] = {}
        self._keyboards: dict[int, Any] = {}
        """The request part of each fixed keyboard sent (`bot.ui.keyboards.is_fixed`)."""

    def build_form_data(  # type: ignore[override]  # aiohttp posts either
        self, bot: Bot, method: TelegramMethod[TelegramType]
    ) -> FormData | BytesPayload:
        """The call's body: the fields of aiogram's form, as one JSON object, which the
        Bot API takes for any call that uploads no file. aiogram's form URL-encodes every
        field on each call, the keyboard's JSON byte by byte: 0.17-0.20 ms a message with
        the Russian menu, against 0.05 ms for the whole JSON body. A fixed keyboard's part is
        prepared once. A call with a file goes as aiogram's multipart form."""
        markup = getattr(method, "reply_markup", None)
        fixed = markup if markup is not None and is_fixed(markup) else None
        files: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(
            warnings=False, exclude=_MARKUP if fixed is not None else None
        ).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is not None and prepared != "":  # what aiogram's form leaves out
                body[key] = prepared
        if files:
            return super().build_form_data(bot, method)
        if fixed is not None:
            part = self._keyboards.get(id(fixed))
            if part is None:
                part = self._keyboards[id(fixed)] = self.prepare_value(
                    fixed.model_dump(warnings=False), bot=bot, files=files, _dumps_json=False
                )
            body["reply_markup"] = part
        return BytesPayload(self.json_dumps(body).encode(), content_type="application/json")

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        """aiogram's reading of the answer, except that a message sent with a fixed
        keyboard gets that keyboard object back instead of a copy read from the answer:
        Telegram returns the markup it was sent, and reading the menu's button by
        button took 0.1 ms of the answer's 0.13."""
        returning = method.__returning__
        response: type[Response[TelegramType]] | None = self._responses.get(returning)
        if response is None:
            response = self._responses[returning] = Response[returning]  # type: ignore[valid-type]
        markup = getattr(method, "reply_markup", None)
        if status_code == HTTPStatus.OK and markup is not None and is_fixed(markup):
            answer = self.json_loads(content)
            ok = isinstance(answer, dict) and answer.get("ok") is True
            result = answer.get("result") if ok else None
            if isinstance(result, dict) and result.get("reply_markup") is not None:
                result["reply_markup"] = markup  # a model already: pydantic keeps it as it is
                with suppress(ValidationError):  # aiogram's own reading says what is wrong
                    return response.model_validate(answer, context={"bot": bot})
        return super().check_response(bot, method, status_code, content)


def create_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    """A Bot talking to TELEGRAM_API_URL (the official server, a self-hosted one, or a test)."""
    if settings.bot_token is None:
        raise ValueError("BOT_TOKEN is not set")
    if session is None:
        session = BotSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    session.middleware(_stale_queries_answered)
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(link_preview_is_disabled=True),
    )


def _fsm(settings: Settings, engine: AsyncEngine) -> BaseStorage:
    if settings.redis_url:
        # Imported only here: redis costs a one-process bot 0.3 s of start-up.
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return SqlStorage(create_session_factory(engine))


def create_dispatcher(
    settings: Settings, *, engine: AsyncEngine, clock: Clock, sleep: Sleep | None = None
) -> Dispatcher:
    """Everything the bot does, wired: storage, middlewares, routers, hooks.

    `sleep` is how the delivery path waits (429 pauses, backoff, gathering an album);
    the sandbox passes one it controls, so tests never wait for real.
    """
    i18n = create_i18n(settings.default_locale)
    # Across processes a chat's updates are taken one at a time by the inbox (bot.inbox);
    # this keeps it so inside the process for whoever feeds the dispatcher directly.
    dp = Dispatcher(storage=_fsm(settings, engine), events_isolation=LocalEventIsolation())
    sessions = create_session_factory(engine)
    dp["locks"] = locks = create_locks(
        settings.redis_url, lease=settings.lock_lease_seconds, namespace=settings.bot_id()
    )
    delivery = Delivery(sleep, locks=locks) if sleep is not None else Delivery(locks=locks)
    handoff = Handoff(sessions, settings, clock, i18n, delivery)
    dp["settings"] = settings
    dp["clock"] = clock
    dp["i18n"] = i18n
    dp["delivery"] = delivery
    dp["handoff"] = handoff
    dp["scheduler"] = Scheduler(handoff, settings.scheduler_interval_seconds, locks)
    dp["metrics"] = metrics = Metrics()
    metrics.watch_delivery(delivery)
    # The vocabulary for typed requests, indexed once (bot/intents/data/*.toml).
    dp["recogniser"] = shipped()
    dp["pacer"] = pacer = Pacer.from_settings(settings)
    pacer.on_backlog = handoff.queue_note
    if sleep is None:  # the sandbox never waits for real; its pacing tests attach it
        dp.startup.register(pacer.attach)
    dp.shutdown.register(pacer.close)

    # Outermost of ours: times and counts every update, whatever happens inside.
    dp.update.outer_middleware(UpdateMetricsMiddleware(metrics))
    # First: card data is masked before anything else, storage and relay included, sees it.
    dp.update.outer_middleware(CardGuardMiddleware(sessions, i18n, settings.default_locale, clock))
    # Before aiogram's FSM middleware, so the dialog state is read in the update's session.
    dp.update.outer_middleware.unregister(dp.fsm)
    dp.update.outer_middleware(UnitOfWorkMiddleware(sessions, settings, clock, dp.fsm, handoff))
    dp.update.outer_middleware(dp.fsm)
    LocaleMiddleware(i18n).setup(dp)
    dp["flood"] = flood = FloodGuard.from_settings(settings)
    dp.message.outer_middleware(FloodMiddleware(flood))
    dp.include_routers(*create_routers())
    errors = ErrorHandler(sessions, clock, i18n, settings.default_locale)
    dp.errors.register(errors.on_error, answered_here)
    dp.startup.register(register_commands)
    dp.startup.register(check_agent_groups)
    if sleep is None:  # one long-running process (the sandbox's are many and short)
        dp.startup.register(freeze_startup_objects)
    dp.shutdown.register(delivery.close)
    dp.shutdown.register(locks.close)
    return dp


GC_YOUNG_OBJECTS = 10_000
"""New container objects (net of those freed) between two passes of the garbage
collector over the young ones; Python's default is 700."""


async def freeze_startup_objects() -> None:
    """Keep what start-up built (modules, routers, models, catalogs) out of the garbage
    collector's full passes: they live as long as the process, and a full collection
    walking them all held the event loop for a quarter of a second under load.

    Then collect the young objects less often. An update's objects are mostly freed as
    it ends, but the 64 updates in hand at once keep thousands alive: at Python's 700,
    the collector passed over them 1,083 times in 2,000 updates (text and relayed
    messages at 50 buyers), 5% of the CPU; at 10,000, 26 times (bench/PROFILE.md,
    round seven). What is left in reference cycles is still collected, a little later.
    """
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_OBJECTS, middle, old)


async def check_agent_groups(bot: Bot, settings: Settings) -> None:
    """Say in one line what to fix when an agents' group cannot take cases."""
    chats = settings.agent_chat_ids()
    if not chats:
        log.warning(
            "AGENT_CHAT_ID is not set: cases are kept in the database and reach agents "
            "once it points at the agents' forum group"
        )
    me = await patiently(bot.me, "getMe")
    for chat_id in sorted(chats):
        try:
            chat = await patiently(partial(bot.get_chat, chat_id), "getChat")
            member = await patiently(partial(bot.get_chat_member, chat_id, me.id), "getChatMember")
        except TelegramAPIError as error:
            log.warning(
                "agents' group %s: the bot cannot reach it (%s); add the bot to the group",
                chat_id,
                error.message,
            )
            continue
        if not chat.is_forum:
            log.warning(
                "agents' group %s is not a forum: turn on Topics in the group's settings", chat_id
            )
        if not isinstance(member, ChatMemberAdministrator) or not member.can_manage_topics:
            log.warning(
                "agents' group %s: make the bot an administrator with the right to manage topics",
                chat_id,
            )


async def register_commands(bot: Bot, i18n: I18n) -> None:
    """The command menu Telegram shows, in each language (the default list is English)."""
    for locale in LOCALES:
        with i18n.context(), i18n.use_locale(locale):
            commands = [
                BotCommand(command="start", description=_("Main menu")),
                BotCommand(command="cancel", description=_("Stop the current step")),
                BotCommand(command="language", description=_("Change the language")),
                BotCommand(command="help", description=_("What I can do")),
                BotCommand(command="forget_me", description=_("Erase my data")),
            ]
        await patiently(
            partial(
                bot.set_my_commands,
                commands,
                scope=BotCommandScopeAllPrivateChats(),
                language_code=None if locale == "en" else locale,
            ),
            "setMyCommands",
        )
