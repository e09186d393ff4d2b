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
import html
import re
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType, ParseMode
from aiogram.filters import Command, CommandObject
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
from bot.reports.chart import render_chart
from bot.reports.render import render
from bot.reports.service import ReportError, stats_period
from bot.services import Services
from bot.ui.callbacks import RateCb
from storage.models import Case
from storage.repositories.reports import Segment

TAG = re.compile(r"^[a-z0-9_]{2,32}$")
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
    table = render(report, "md", None)
    await message.reply(f"<pre>{html.escape(table)}</pre>", parse_mode=ParseMode.HTML)
    if not report.empty:
        chart = await asyncio.to_thread(render_chart, report)
        await message.reply_photo(BufferedInputFile(chart, "stats.png"))


async def in_topic(message: Message, svc: Services, i18n: I18n) -> None:
    assert message.message_thread_id is not None
    case = await svc.cases.in_topic(message.chat.id, message.message_thread_id)
    if case is None:
        return  # a topic agents made themselves
    text = message.text or message.caption or ""
    command = text.split(maxsplit=1)[0].split("@")[0] if text.startswith("/") else ""
    if text.startswith(NOTE_PREFIX) or command == "/note":
        await svc.cases.add_note(case, Entry.from_message(message, Sender.note))
        return
    if command == "/tag":
        await _tag(message, svc, case, text)
    elif command == "/macro":
        await _macro(message, svc, case, text, i18n)
    elif command:
        await message.reply(
            _(
                "Commands in a case topic: /tag NAME, /macro, /macro NAME, /note TEXT. "
                "Anything else you write here goes to the buyer; start a note with !"
            )
        )
    elif message.content_type in RELAYED:
        await svc.cases.add_agent_message(case, Entry.from_message(message, Sender.agent))
    else:
        await message.reply(_("This kind of message can't be passed on to the buyer."))


async def edited(message: Message, svc: Services) -> None:
    assert message.message_thread_id is not None
    case = await svc.cases.in_topic(message.chat.id, message.message_thread_id)
    if case is None:
        return
    entry = Entry.from_message(message, Sender.agent)
    row = await svc.cases.edit_message(
        case, Sender.agent, message.message_id, entry.text, entry.entities
    )
    if row is not None:
        row_id = row.id
        svc.after_commit(lambda h, b: h.edited(b, case.id, row_id, Sender.agent))


async def card_button(query: CallbackQuery, callback_data: CaseCb, svc: Services) -> None:
    case = await _own_case(query, svc, callback_data.case_id)
    if case is None:
        return
    agent = query.from_user
    action = callback_data.action
    name = agent.first_name
    done = False
    if action == CaseAction.take:
        before = case.assignee_name
        done = svc.cases.take(case, agent.id, name)
        if done and before:
            line = _("🙋 {agent} took the case over from {previous}.").format(
                agent=name, previous=before
            )
        else:
            line = _("🙋 {agent} took the case.").format(agent=name)
    elif action == CaseAction.release:
        done = svc.cases.release(case, agent.id, name)
        line = _("↩️ {agent} released the case.").format(agent=name)
    elif action == CaseAction.resolve:
        done = svc.cases.resolve(case, agent.id, name)
        line = _("✅ {agent} resolved the case; the buyer is asked to rate it.").format(agent=name)
        if done:
            svc.after_commit(lambda h, b: h.tell_buyer(b, case.id, rating_request(case.id)))
    elif action == CaseAction.close:
        done = svc.cases.close(case, agent.id, name)
        line = _("🚫 {agent} closed the case without action.").format(agent=name)
    else:
        done = svc.cases.reopen(case, agent.id, name)
        line = _("🔄 {agent} reopened the case.").format(agent=name)
    if not done:
        await query.answer(_("Nothing to change: the case is already like that."))
        return
    await query.answer()
    svc.after_commit(lambda h, b: h.tell_topic(b, case.id, lambda: _plain(line)))


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
    router = Router(name=__name__)
    agents = Router(name=f"{__name__}.group")
    agents.message.filter(in_agent_group)
    agents.edited_message.filter(in_agent_group)
    agents.callback_query.filter(in_agent_group)
    router.include_router(agents)
    router.my_chat_member.register(added_elsewhere, in_other_group)
    agents.message.register(anonymous, F.sender_chat)
    agents.message.register(stats, Command("stats"))
    agents.message.register(in_topic, F.message_thread_id)
    agents.edited_message.register(edited, F.message_thread_id)
    agents.callback_query.register(card_button, CaseCb.filter())
    agents.callback_query.register(tag_button, TagCb.filter())
    agents.callback_query.register(not_for_agents, RateCb.filter())
    agents.callback_query.register(stale)
    return router


async def _own_case(query: CallbackQuery, svc: Services, case_id: int) -> Case | None:
    """The button's case, only if its topic lives in the group where it was pressed."""
    case = await svc.cases.get(case_id)
    chat = getattr(query.message, "chat", None)
    if case is None or chat is None or case.agent_chat_id != chat.id:
        await query.answer(_("This case is not handled in this group."), show_alert=True)
        return None
    return case


async def _tag(message: Message, svc: Services, case: Case, text: str) -> None:
    parts = text.split()
    tag = parts[1].lower().lstrip("#") if len(parts) == 2 else ""
    if not TAG.match(tag):
        await message.reply(
            _("Write /tag NAME: 2 to 32 Latin letters, digits or _, e.g. /tag payment_delay")
        )
        return
    added = await svc.cases.tag(case, tag)
    reply = _("Tagged #{tag}.") if added else _("The case already has #{tag}.")
    await message.reply(reply.format(tag=tag))


async def _macro(message: Message, svc: Services, case: Case, text: str, i18n: I18n) -> None:
    parts = text.split()
    name = parts[1].lower() if len(parts) == 2 else ""
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


def rating_request(case_id: int) -> Notice:
    """The buyer's notice that a case is resolved, with 1 to 5 star buttons."""

    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        builder = InlineKeyboardBuilder()
        for score in range(1, 6):
            builder.button(text=f"{score} ⭐", callback_data=RateCb(case_id=case_id, score=score))
        builder.adjust(5)
        return _(
            "Your request №{number} is resolved. How would you rate our help? Tap 1 to 5 stars."
        ).format(number=case_id), builder.as_markup()

    return notice
