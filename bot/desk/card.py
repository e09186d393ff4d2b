"""The case card: the first message of a case's topic, edited in place as the case moves.

Rendered in AGENT_LOCALE (the caller sets the locale), from what the handoff loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel import Locale

from bot.domain import formatting
from bot.domain.cases import USUAL_TAGS, case_status_label, case_type_label
from bot.domain.orders import order_status_label
from storage.models import Case, CaseMessage, Order
from storage.repositories.cases import OPEN_STATUSES


class CaseAction(StrEnum):
    take = "take"
    release = "rel"
    resolve = "res"
    close = "close"
    reopen = "reopen"


class CaseCb(CallbackData, prefix="cs"):
    """A button on a case card in the agents' group."""

    action: CaseAction
    case_id: int


class TagCb(CallbackData, prefix="ct"):
    """One-tap tag on a case card; the tag must be one of the type's usual tags."""

    case_id: int
    tag: str


@dataclass(frozen=True)
class CardData:
    case: Case
    buyer_name: str
    tags: Sequence[str]
    order: Order | None
    earlier: Sequence[Case]


def shown_by_row(case: Case) -> tuple[object, ...]:
    """What the card shows from the case's own row (keyboard included): when none of it
    changed, neither did the card, but for what lives elsewhere (see `Handoff`)."""
    return (
        case.type,
        case.status,
        case.assignee_id,
        case.assignee_name,
        case.locale,
        case.buyer_id,
        case.order_id,
        case.reason,
        case.response_due_at,
        case.first_response_at,
        case.erased_at,
        case.rating,
        case.rating_comment,
    )


def erased_name() -> str:
    """Stands for the buyer's name once their data was erased."""
    return _("(data erased)")


def topic_name(case: Case, buyer_name: str) -> str:
    """ "№12 · Refund not received · Anna" (Telegram allows 128 characters)."""
    return f"№{case.id} · {case_type_label(case.type)} · {buyer_name}"[:128]


def language_name(locale: str, in_locale: str) -> str:
    return Locale.parse(locale).get_display_name(in_locale) or locale


def card_text(data: CardData, tz: ZoneInfo) -> str:
    case = data.case
    lines = [
        _("📂 Case #{number} · {type}").format(number=case.id, type=case_type_label(case.type)),
        _("Status: {status}").format(status=case_status_label(case.status)),
        _("Agent: {name}").format(name=case.assignee_name)
        if case.assignee_name
        else _("Agent: nobody has taken it yet"),
        _("Buyer: {name}, writes in {language}").format(
            name=data.buyer_name,
            language=language_name(case.locale, formatting.current_locale()),
        ),
    ]
    if data.order is not None:
        order = data.order
        lines.append(
            _("Order {number}: {title}, {amount}, {status}").format(
                number=order.order_id,
                title=order.title,
                amount=formatting.money(order.amount, order.currency),
                status=order_status_label(order.status),
            )
        )
        placed = _("placed {time}").format(time=formatting.moment(order.placed_at, tz))
        paid = (
            _("paid {time}").format(time=formatting.moment(order.paid_at, tz))
            if order.paid_at
            else _("not paid")
        )
        lines.append(f"    {placed}; {paid}")
    elif case.order_id:
        lines.append(_("Order {number}: not on record").format(number=case.order_id))
    if case.reason:
        lines.append(_("Reason: {reason}").format(reason=case.reason[:500]))
    if case.response_due_at is not None:
        due = formatting.moment(case.response_due_at, tz)
        if case.first_response_at is not None:
            lines.append(
                _("First response due {deadline}: answered {time}").format(
                    deadline=due, time=formatting.moment(case.first_response_at, tz)
                )
            )
        else:
            lines.append(_("First response due: {deadline}").format(deadline=due))
    if data.tags:
        lines.append(_("Tags: {tags}").format(tags=" ".join(f"#{tag}" for tag in data.tags)))
    if data.earlier:
        earlier = ", ".join(
            f"№{c.id} {case_type_label(c.type)} ({case_status_label(c.status)})"
            for c in data.earlier[:5]
        )
        lines.append(_("Earlier cases: {cases}").format(cases=earlier))
    else:
        lines.append(_("Earlier cases: none"))
    if case.erased_at is not None:
        lines.append(_("The buyer's personal data in this case was erased."))
    if case.rating is not None:
        lines.append(_("Buyer's rating: {stars} {score}/5").format(
            stars="★" * case.rating + "☆" * (5 - case.rating), score=case.rating
        ))  # fmt: skip
        if case.rating_comment:
            lines.append(_("Buyer's comment: {text}").format(text=case.rating_comment))
    lines.append("")
    lines.append(_("Write here to answer the buyer. Notes for agents only start with ! or /note."))
    return "\n".join(lines)


def card_keyboard(case: Case, tags: Sequence[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    sizes: list[int] = []
    if case.status in OPEN_STATUSES:
        take = _("🙋 Take over") if case.assignee_id else _("🙋 Take")
        builder.button(text=take, callback_data=CaseCb(action=CaseAction.take, case_id=case.id))
        row = 1
        if case.assignee_id:
            builder.button(
                text=_("↩️ Release"),
                callback_data=CaseCb(action=CaseAction.release, case_id=case.id),
            )
            row += 1
        sizes.append(row)
        builder.button(
            text=_("✅ Resolve"), callback_data=CaseCb(action=CaseAction.resolve, case_id=case.id)
        )
        builder.button(
            text=_("🚫 Close without action"),
            callback_data=CaseCb(action=CaseAction.close, case_id=case.id),
        )
        sizes.append(2)
        usual = [tag for tag in USUAL_TAGS.get(case.type, ()) if tag not in tags]
        for tag in usual:
            builder.button(text=f"#{tag}", callback_data=TagCb(case_id=case.id, tag=tag))
        sizes += [3] * ((len(usual) + 2) // 3)
    else:
        builder.button(
            text=_("🔄 Reopen"), callback_data=CaseCb(action=CaseAction.reopen, case_id=case.id)
        )
        sizes.append(1)
    builder.adjust(*sizes)
    return builder.as_markup()


def transcript_text(rows: Sequence[CaseMessage], tz: ZoneInfo) -> str:
    """The conversation so far, one line per message, for a (re)created topic."""
    lines = [_("Conversation so far:")]
    for row in rows:
        who = {
            "buyer": _("buyer"),
            "agent": row.sender_name or _("agent"),
            "note": _("note"),
        }.get(row.sender, row.sender)
        body = row.text or ""
        if row.content_type != "text":
            body = f"[{row.content_type}] {body}".strip()
        time = formatting.moment(row.at, tz).split(" (")[0]
        lines.append(f"{time} · {who}: {body}")
    return "\n".join(lines)
