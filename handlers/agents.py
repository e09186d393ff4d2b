"""The agents' forum group: replies in a case's topic reach its buyer; card buttons,
tags, macros and internal notes. Every other group is told once that the bot works
only in the agents' group, and ignored.

Only updates from a configured agents' group reach these handlers (the parent
router's filter), so a buyer's private chat can never act on a case, whatever
button data it forges; and a button's case must also belong to the group it was
pressed in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType, ParseMode
from aiogram.filters import Command, CommandObject, or_f
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.config import Settings
from bot.desk.card import CaseAction, CaseCb, TagCb
from bot.desk.handoff import Notice
from bot.domain.cases import RELAYED, USUAL_TAGS, Entry, Sender
from bot.domain.macros import MACROS, macro_text
from bot.errors import NotYet
from bot.reports.chart import render_chart
from bot.reports.render import render_telegram
from bot.reports.service import ReportError, stats_period, tag_name
from bot.services import Services
from bot.ui.callbacks import RateCb
from bot.ui.keyboards import main_menu
from storage.models import Case
from storage.repositories.reports import Segment

NOTE_PREFIX = "!"


def in_agent_group(event: Message | CallbackQuery, settings: Settings) -> bool:
    chat = event.chat if isinstance(event, Message) else getattr(event.message, "chat", None)
    return chat is not None and chat.id in settings.agent_chat_ids()


def in_other_group(event: ChatMemberUpdated, settings: Settings) -> bool:
    return event.chat.type != ChatType.PRIVATE and event.chat.id not in settings.agent_chat_ids()


def _plain(text: str) -> tuple[str, InlineKeyboardMarkup | None]:
    return text, None


async def added_elsewhere(event: ChatMemberUpdated, bot: Bot, i18n: I18n) -> None:
    joined = event.new_chat_member.status in (
        ChatMemberStatus.MEMBER,
        ChatMemberStatus.ADMINISTRATOR,
    )
    left_before = event.old_chat_member.status in (
        ChatMemberStatus.LEFT,
        ChatMemberStatus.KICKED,
    )
    if joined and left_before:
        await bot.send_message(
            event.chat.id,
            _(
                "I only work in the support agents' group, so I will not answer here. "
                "Buyers can write to me in a private chat."
            ),
        )


async def anonymous(message: Message) -> None:
    await message.reply(
        _(
            "Please write as yourself, not as the group or a channel: turn off "
            "“Remain anonymous” in your admin settings, so the buyer knows who answers."
        )
    )


async def stats(message: Message, command: CommandObject, svc: Services, i18n: I18n) -> None:
    """`/stats [7d|30d|YYYY-MM]`: the complaint-handling table and chart, here."""
    try:
        period = stats_period(command.args or "", ZoneInfo(svc.settings.timezone), svc.clock.now())
    except ReportError as error:
        await message.reply(str(error))
        return
    report = await svc.reports.build(period, Segment.locale, i18n.current_locale)
    await message.reply(render_telegram(report), parse_mode=ParseMode.HTML)
    if not report.empty:
        chart = await asyncio.to_thread(render_chart, report)
        await message.reply_photo(BufferedInputFile(chart, "stats.png"))


async def case_topic(message: Message, svc: Services) -> dict[str, Case] | bool:
    """Filter: the message is in a case's topic; hands the case to the handler as `case`.

    A topic agents made themselves has no case, and the bot leaves it alone. While a
    case's topic is being made, though, an unknown topic may be that one, written in
    the moment between Telegram making it and the bot storing its id: the message is
    handled again shortly (`NotYet`), not lost.
    """
    if message.message_thread_id is None:
        return False
    case = await svc.cases.in_topic(message.chat.id, message.message_thread_id)
    if case is not None:
        return {"case": case}
    if await svc.cases.topic_being_made():
        raise NotYet(f"topic {message.message_thread_id} may be a case's, not stored yet")
    return False


async def note(message: Message, svc: Services, case: Case) -> None:
    """`/note TEXT` or `! TEXT`: an internal note, kept with the case, never sent to the buyer."""
    await svc.cases.add_note(case, Entry.from_message(message, Sender.note))


async def tag(message: Message, command: CommandObject, svc: Services, case: Case) -> None:
    """`/tag NAME`: tag the case for the reports."""
    words = (command.args or "").split()
    name = tag_name(words[0]) if len(words) == 1 else None
    if name is None:
        await message.reply(
            _("Write /tag NAME: 2 to 32 Latin letters, digits or _, e.g. /tag payment_delay")
        )
        return
    added = await svc.cases.tag(case, name)
    reply = _("Tagged #{tag}.") if added else _("The case already has #{tag}.")
    await message.reply(reply.format(tag=name))


async def macro(
    message: Message, command: CommandObject, svc: Services, case: Case, i18n: I18n
) -> None:
    """`/macro NAME` sends a canned reply in the buyer's language; `/macro` lists them."""
    words = (command.args or "").split()
    name = words[0].lower() if len(words) == 1 else ""
    if name not in MACROS:
        lines = [_("Canned replies (/macro NAME sends one, in the buyer's language):")]
        lines += [f"• {key}: {macro_text(key, svc.settings)}" for key in MACROS]
        await message.reply("\n".join(lines))
        return
    with i18n.use_locale(case.locale):
        body = macro_text(name, svc.settings)
    author = message.from_user
    assert author is not None
    entry = Entry(
        sender=Sender.agent,
        text=body,
        topic_message_id=message.message_id,
        sender_id=author.id,
        sender_name=author.first_name,
    )
    await svc.cases.add_agent_message(case, entry)
    await message.reply(_("Sending to the buyer:\n{text}").format(text=body))


async def unknown_command(message: Message) -> None:
    await message.reply(
        _(
            "Commands in a case topic: /tag NAME, /macro, /macro NAME, /note TEXT. "
            "Anything else you write here goes to the buyer; start a note with !"
        )
    )


async def to_buyer(message: Message, svc: Services, case: Case) -> None:
    """Anything else an agent writes in a case's topic goes to its buyer."""
    await svc.cases.add_agent_message(case, Entry.from_message(message, Sender.agent))


async def not_relayable(message: Message) -> None:
    await message.reply(_("This kind of message can't be passed on to the buyer."))


async def edited(message: Message, svc: Services, case: Case) -> None:
    """An agent's edit reaches the copy the buyer has."""
    entry = Entry.from_message(message, Sender.agent)
    row = await svc.cases.edit_message(
        case, Sender.agent, message.message_id, entry.text, entry.entities
    )
    if row is not None:
        row_id = row.id
        svc.after_commit(lambda h, b: h.edited(b, case.id, row_id, Sender.agent))


async def take(query: CallbackQuery, callback_data: CaseCb, svc: Services) -> None:
    case = await _own_case(query, svc, callback_data.case_id)
    if case is None:
        return
    name, before = query.from_user.first_name, case.assignee_name
    done = svc.cases.take(case, query.from_user.id, name)
    if done and before:
        line = _("🙋 {agent} took the case over from {previous}.").format(
            agent=name, previous=before
        )
    else:
        line = _("🙋 {agent} took the case.").format(agent=name)
    await _tell_topic(query, svc, case, done, line)


async def release(query: CallbackQuery, callback_data: CaseCb, svc: Services) -> None:
    line = _("↩️ {agent} released the case.")
    await _change(query, svc, callback_data.case_id, svc.cases.release, line)


async def resolve(query: CallbackQuery, callback_data: CaseCb, svc: Services) -> None:
    """Resolve the case; its buyer is asked to rate the help."""
    line = _("✅ {agent} resolved the case; the buyer is asked to rate it.")
    await _change(query, svc, callback_data.case_id, svc.cases.resolve, line, rating_request)


async def close(query: CallbackQuery, callback_data: CaseCb, svc: Services) -> None:
    """Close the case without action; its buyer is told, so their next message is not a
    surprise."""
    line = _("🚫 {agent} closed the case without action; the buyer is told.")
    await _change(query, svc, callback_data.case_id, svc.cases.close, line, closed_notice)


async def reopen(query: CallbackQuery, callback_data: CaseCb, svc: Services) -> None:
    line = _("🔄 {agent} reopened the case.")
    await _change(query, svc, callback_data.case_id, svc.cases.reopen, line)


async def tag_button(query: CallbackQuery, callback_data: TagCb, svc: Services) -> None:
    case = await _own_case(query, svc, callback_data.case_id)
    if case is None:
        return
    if callback_data.tag not in USUAL_TAGS.get(case.type, ()):
        await query.answer(_("This button no longer works."))
        return
    await svc.cases.tag(case, callback_data.tag)
    await query.answer(_("Tagged #{tag}").format(tag=callback_data.tag))


async def not_for_agents(query: CallbackQuery) -> None:
    await query.answer(_("Only the buyer can rate the help."))


async def stale(query: CallbackQuery) -> None:
    await query.answer(_("This button no longer works."))


def create_router() -> Router:
    """Other groups are told the bot is not for them; the agents' group works its cases
    (commands anywhere in it, the rest only in a case's topic)."""
    router = Router(name=__name__)
    router.my_chat_member.register(added_elsewhere, in_other_group)

    agents = Router(name=f"{__name__}.group")
    agents.message.filter(in_agent_group)
    agents.edited_message.filter(in_agent_group)
    agents.callback_query.filter(in_agent_group)
    agents.message.register(anonymous, F.sender_chat)
    agents.message.register(stats, Command("stats"))
    for action, handler in (
        (CaseAction.take, take),
        (CaseAction.release, release),
        (CaseAction.resolve, resolve),
        (CaseAction.close, close),
        (CaseAction.reopen, reopen),
    ):
        agents.callback_query.register(handler, CaseCb.filter(F.action == action))
    agents.callback_query.register(tag_button, TagCb.filter())
    agents.callback_query.register(not_for_agents, RateCb.filter())
    agents.callback_query.register(stale)
    router.include_router(agents)

    topics = Router(name=f"{__name__}.topics")
    topics.message.filter(case_topic)
    topics.edited_message.filter(case_topic)
    topics.message.register(
        note,
        or_f(Command("note"), F.text.startswith(NOTE_PREFIX), F.caption.startswith(NOTE_PREFIX)),
    )
    topics.message.register(tag, Command("tag"))
    topics.message.register(macro, Command("macro"))
    topics.message.register(
        unknown_command, or_f(F.text.startswith("/"), F.caption.startswith("/"))
    )
    topics.message.register(to_buyer, F.content_type.in_(RELAYED))
    topics.message.register(not_relayable)
    topics.edited_message.register(edited)
    agents.include_router(topics)
    return router


async def _own_case(query: CallbackQuery, svc: Services, case_id: int) -> Case | None:
    """The button's case, only if its topic lives in the group where it was pressed."""
    case = await svc.cases.get(case_id)
    chat = getattr(query.message, "chat", None)
    if case is None or chat is None or case.agent_chat_id != chat.id:
        await query.answer(_("This case is not handled in this group."), show_alert=True)
        return None
    return case


async def _change(
    query: CallbackQuery,
    svc: Services,
    case_id: int,
    change: Callable[[Case, int, str], bool],
    line: str,
    buyer_notice: Callable[[int], Notice] | None = None,
) -> None:
    """Apply a card button's `change` to its case; `line` (with {agent}) goes to the topic
    and `buyer_notice`, if any, to the buyer."""
    case = await _own_case(query, svc, case_id)
    if case is None:
        return
    agent = query.from_user
    done = change(case, agent.id, agent.first_name)
    if done and buyer_notice is not None:
        case_number = case.id
        svc.after_commit(lambda h, b: h.tell_buyer(b, case_number, buyer_notice(case_number)))
    await _tell_topic(query, svc, case, done, line.format(agent=agent.first_name))


async def _tell_topic(
    query: CallbackQuery, svc: Services, case: Case, done: bool, line: str
) -> None:
    """Say in the case's topic what a button changed, or tell the agent nothing did."""
    if not done:
        await query.answer(_("Nothing changed: the case is already in that state."))
        return
    await query.answer()
    svc.after_commit(lambda h, b: h.tell_topic(b, case.id, lambda: _plain(line)))


def closed_notice(case_id: int) -> Notice:
    """The buyer's notice that an agent closed their case, with the menu to start anew."""

    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        return _(
            "Your request #{number} has been closed by the support team. If you still need "
            "help, choose a topic below and I will take it from there."
        ).format(number=case_id), main_menu()

    return notice


def rating_request(case_id: int) -> Notice:
    """The buyer's notice that a case is resolved, with 1 to 5 star buttons."""

    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        builder = InlineKeyboardBuilder()
        for score in range(1, 6):
            builder.button(text=f"{score} ⭐", callback_data=RateCb(case_id=case_id, score=score))
        builder.adjust(5)
        return _(
            "Your request #{number} is resolved. How would you rate our help? Tap 1 to 5 stars."
        ).format(number=case_id), builder.as_markup()

    return notice
