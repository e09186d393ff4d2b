"""aiogram routers, one module per dialog or audience."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import F, Router
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.enums import ChatType
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message

from bot.middlewares import DialogTimeoutMiddleware
from handlers import (
    agents,
    cancel_order,
    commands,
    deep_link,
    defect,
    fallback,
    free_text,
    my_cases,
    my_orders,
    order_picker,
    payment,
    person,
    privacy,
    refund,
    relay,
    seller,
    typed,
)

T = TypeVar("T")


def create_routers() -> list[Router]:
    """All routers in the order they must see updates: global commands first,
    dialogs next, free text understood, the relay to agents, the fallback last.
    Buyers' routers only see private chats; the agents' router only the configured
    agents' groups."""
    buyers = Router(name="buyers")
    buyers.message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.edited_message.filter(F.chat.type == ChatType.PRIVATE)
    buyers.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    # Outer, so a dialog left too long is reset before the state filters look at it.
    timeout = DialogTimeoutMiddleware()
    buyers.message.outer_middleware(timeout)
    buyers.callback_query.outer_middleware(timeout)
    buyers.include_routers(
        _commands(),
        # A message too long for a free-text step, before that step's handler sees it.
        free_text.create_router(),
        # A clear "talk to a person" typed inside a dialog; other text stays the dialog's.
        typed.create_anywhere_router(),
        _dialogs(),
        # Typed requests outside dialogs; what it leaves goes to the relay or the fallback.
        typed.create_router(),
        relay.create_router(),
        fallback.create_router(),
    )
    gate_dialogs(buyers)
    routers = [buyers, agents.create_router()]
    for router in routers:
        gate_buttons(router)
        check_filters_inline(router)
    return routers


def _commands() -> Router:
    """The slash commands, in one router: a message that is no command (most of them)
    passes them with one look at its first character instead of six command filters."""
    router = Router(name="slash commands")
    router.include_routers(
        # The deep-link /start first: the plain /start in commands takes any payload.
        deep_link.create_router(),
        commands.create_router(),
        privacy.create_router(),
    )
    router.message.filter(written_as_command)
    return router


def written_as_command(message: Message) -> bool:
    """Whether a message can be a slash command: aiogram's command filters read the
    first word of its text or caption, which must begin with "/"."""
    words = message.text or message.caption
    return words is not None and words.lstrip()[:1] == "/"


def _dialogs() -> Router:
    """The guided dialogs, in one router: a message outside all of them (most plain
    text) passes them with one check of the state (`gate_dialogs`)."""
    dialogs = Router(name="dialogs")
    dialogs.include_routers(
        person.create_router(),
        my_orders.create_router(),
        payment.create_router(),
        seller.create_router(),
        order_picker.create_router(),
        cancel_order.create_router(),
        refund.create_router(),
        defect.create_router(),
        my_cases.create_router(),
    )
    return dialogs


def gate_dialogs(router: Router) -> frozenset[str] | None:
    """A router whose every message handler, its sub-routers' included, waits for a
    dialog state gets one router-level check of those states, so a message in none of
    them passes the whole router at once. aiogram otherwise tries each handler's
    filters in turn: a plain message outside any dialog went through some thirty of
    them. The states the router's messages need (none: it takes no message); None
    when some handler takes a message in any state."""
    return _gate(router, lambda r: r.message, _awaited_states, _in_states)


def _gate(
    router: Router,
    observer: Callable[[Router], TelegramEventObserver],
    own: Callable[[Router], frozenset[T] | None],
    check: Callable[[frozenset[T]], Callable[..., bool]],
) -> frozenset[T] | None:
    """What the router's handlers of one event take (`own`), its sub-routers' included,
    checked once at the router's door; None (no door) when some handler takes any."""
    taken = own(router)
    for sub_router in router.sub_routers:
        inner = _gate(sub_router, observer, own, check)
        taken = None if taken is None or inner is None else taken | inner
    if taken:
        observer(router).filter(check(taken))
    return taken


def _awaited_states(router: Router) -> frozenset[str] | None:
    """The states the router's own message handlers wait for; None if any handler does
    not begin with a state filter (or has none)."""
    found: set[str] = set()
    for handler in router.message.handlers:
        first = handler.filters[0].callback if handler.filters else None
        if isinstance(first, State) and first.state is not None:
            found.add(first.state)
        elif isinstance(first, StateFilter):
            named = [s.state if isinstance(s, State) else s for s in first.states]
            if not all(isinstance(name, str) and name != "*" for name in named):
                return None
            found.update(str(name) for name in named)
        else:
            return None
    return frozenset(found)


def _in_states(states: frozenset[str]) -> Callable[..., bool]:
    def in_states(event: Any, raw_state: str | None = None) -> bool:
        return raw_state in states

    return in_states


def gate_buttons(router: Router) -> frozenset[tuple[str, str]] | None:
    """The same for button presses: a router whose every button handler, its
    sub-routers' included, takes some kinds of callback data gets one router-level
    check of the data's prefix, so a press meant for another dialog passes it at once
    instead of being unpacked by each handler's filter in turn (a payment step went
    through some twenty of them). The (prefix, separator) pairs of the kinds the
    router's buttons take; None when some handler takes any press."""
    return _gate(router, lambda r: r.callback_query, _pressed_kinds, _of_kinds)


def _pressed_kinds(router: Router) -> frozenset[tuple[str, str]] | None:
    """The kinds of callback data the router's own button handlers take; None if a
    handler has no callback-data filter."""
    found: set[tuple[str, str]] = set()
    for handler in router.callback_query.handlers:
        kinds = [
            f.callback.callback_data
            for f in handler.filters or ()
            if isinstance(f.callback, CallbackQueryFilter)
        ]
        if not kinds:
            return None
        found.update((kind.__prefix__, kind.__separator__) for kind in kinds)
    return frozenset(found)


def _of_kinds(kinds: frozenset[tuple[str, str]]) -> Callable[..., bool]:
    """Whether a press's data can be one of the kinds: its first part, up to the
    kind's separator, is the kind's prefix (all of it, for a kind without fields)."""
    by_separator: dict[str, set[str]] = {}
    for prefix, separator in kinds:
        by_separator.setdefault(separator, set()).add(prefix)
    groups = [(separator, frozenset(prefixes)) for separator, prefixes in by_separator.items()]

    def of_kinds(query: CallbackQuery) -> bool:
        data = query.data or ""
        return any(data.split(separator, 1)[0] in prefixes for separator, prefixes in groups)

    return of_kinds


def check_filters_inline(router: Router) -> None:
    """aiogram runs every plain (not async) filter in a worker thread: each `F.…` magic
    filter and each bare dialog `State`, on every update that reaches it. Ours are
    quick, pure checks, so they run on the event loop instead (same answers, no thread
    hop). Applied to the router's own filters and its handlers', those inside `or_f`
    and the like included, then its sub-routers."""
    for observer in router.observers.values():
        # The router-level filters (`router.message.filter(...)`) live in `_handler`.
        for handler in (observer._handler, *observer.handlers):
            for filter_ in handler.filters or ():
                _inline(filter_)
    for sub_router in router.sub_routers:
        check_filters_inline(sub_router)


def _inline(filter_: FilterObject) -> None:
    for inner in nested_filters(filter_):
        _inline(inner)
    if filter_.awaitable:
        return
    check: Callable[..., Any] = filter_.callback

    async def on_loop(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    inline: Callable[..., Awaitable[Any]] = on_loop
    filter_.callback = inline
    filter_.awaitable = True


def nested_filters(filter_: FilterObject) -> tuple[FilterObject, ...]:
    """The filters inside aiogram's `or_f`, `and_f` and `invert_f`: each is a filter of
    its own, called (in a thread, when plain) by the one around it."""
    callback = filter_.callback
    inner = getattr(callback, "targets", None) or (getattr(callback, "target", None),)
    return tuple(f for f in inner if isinstance(f, FilterObject))
