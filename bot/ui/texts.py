"""Texts that several dialogs show."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.domain import formatting, policies
from bot.domain.cases import CaseService, Opened
from bot.domain.orders import PaymentMethod
from storage.models import Order

MAX_TEXT = 3000


def too_long(limit: int = MAX_TEXT) -> str:
    return _(
        "That is longer than I can take in one message (up to {limit} characters). "
        "Please shorten it or send it in parts."
    ).format(limit=formatting.number(limit))


def case_opened(opened: Opened, cases: CaseService, intro: str | None = None) -> str:
    """What a buyer reads when their request reaches the support team, in one message.

    `intro` is what the dialog says first (what was passed on); the status then only
    adds the request's number and the deadline, instead of saying "passed on" again."""
    case = opened.case
    tz = ZoneInfo(cases.settings.timezone)
    if not opened.created:
        text = _(
            "You already have request #{number} open about this, so I added your message "
            "to it. An agent will answer here."
        ).format(number=case.id)
        return f"{intro} {text}" if intro else text
    assert case.response_due_at is not None
    deadline = formatting.moment(case.response_due_at, tz)
    if intro:
        text = (
            intro
            + " "
            + _(
                "Your request number is #{number}; an agent will answer here, in this chat, by "
                "{deadline} at the latest."
            ).format(number=case.id, deadline=deadline)
        )
    else:
        text = _(
            "Your request #{number} is registered and passed to the support team. "
            "An agent will answer here, in this chat, by {deadline} at the latest."
        ).format(number=case.id, deadline=deadline)
    now = cases.clock.now()
    if not cases.calendar.is_open(now):
        back = formatting.moment(cases.calendar.next_opening(now), tz)
        text += "\n\n" + _("Our agents are not at work right now; they are back on {time}.").format(
            time=back
        )
    return text


def refund_arrival(order: Order, settings: Settings, *, just_issued: bool = False) -> str:
    """Where an issued refund goes, and by which date it arrives at the latest.

    Right after an instant cancellation the money usually comes within minutes; asked
    about later, the buyer hears the latest date and what to do if it has not come."""
    money = formatting.money(order.amount, order.currency)
    if order.payment_method == PaymentMethod.bonus:
        return _(
            "The bonuses ({amount}) are back on your bonus balance; you can see it in the "
            "marketplace's mobile app."
        ).format(amount=money)
    assert order.refund_issued_at is not None
    due = formatting.day(
        policies.refund_due(order.refund_issued_at, settings), ZoneInfo(settings.timezone)
    )
    wallet = order.payment_method == PaymentMethod.wallet
    if just_issued:
        if wallet:
            text = _(
                "The money ({amount}) usually reaches your e-wallet within minutes, and at "
                "the latest by {date}."
            )
        else:
            text = _(
                "The money ({amount}) usually reaches your bank card within minutes, and at "
                "the latest by {date}."
            )
        return text.format(amount=money, date=due)
    if wallet:
        text = _(
            "The money ({amount}) goes back to your e-wallet and arrives by {date} at the latest."
        )
    else:
        text = _(
            "The money ({amount}) goes back to your bank card and arrives by {date} at the latest."
        )
    return (
        text.format(amount=money, date=due)
        + " "
        + _(
            "If it has not arrived by then, ask about this order's refund here again and I "
            "will pass it to a support agent to find out where it is."
        )
    )
