"""Defective or damaged item: a description, 2 to 10 photos, a check, then a case.

An album arrives as separate updates, one per photo; a buyer's updates are handled
one at a time, so the photos collected so far live in the dialog data. The bot keeps
one progress message under the latest photos, edited while an album comes in.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict
from enum import StrEnum
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import policies
from bot.domain.cases import CaseType, Entry
from bot.domain.orders import Buyer, order_status_label
from bot.domain.policies import DEFECT_MAX_PHOTOS, DEFECT_MIN_PHOTOS
from bot.i18n import ngettext
from bot.services import Services
from bot.ui.callbacks import MenuAction
from bot.ui.keyboards import main_menu, with_way_out
from bot.ui.replies import ChatMessage, reply
from bot.ui.texts import case_opened
from handlers.free_text import FreeText
from handlers.order_picker import (
    OrderQuestion,
    OrderStep,
    Purpose,
    ask,
    ask_order,
    order_summary,
)
from storage.models import Order, User

STATUSES = policies.IN_HANDS

# A photo, or an image sent as a file (which keeps its full quality).
IMAGE = F.photo | F.document.mime_type.startswith("image/")


class DefectDialog(StatesGroup):
    order = State()
    describe = FreeText()
    photos = State()
    confirm = State()


class DefectAction(StrEnum):
    done = "done"
    send = "send"
    back = "back"


class DefectCb(CallbackData, prefix="df"):
    action: DefectAction
    order_id: str


def step_keyboard(order_id: str, *actions: tuple[DefectAction, str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for action, label in actions:
        builder.button(text=label, callback_data=DefectCb(action=action, order_id=order_id))
    return with_way_out(builder, DefectCb(action=DefectAction.back, order_id=order_id))


def photos_keyboard(order_id: str, count: int) -> InlineKeyboardMarkup:
    if count < DEFECT_MIN_PHOTOS:
        return step_keyboard(order_id)
    return step_keyboard(order_id, (DefectAction.done, _("✅ Done")))


def photos_prompt() -> str:
    return _(
        "Now send photos of the packaging and of the defect, with the item in the frame "
        "together with its box. At least {min} and at most {max} photos; an album works, "
        "and so do images sent as files."
    ).format(min=DEFECT_MIN_PHOTOS, max=DEFECT_MAX_PHOTOS)


def photos_progress(count: int) -> str:
    if count < DEFECT_MIN_PHOTOS:
        return ngettext(
            "{count} photo received. Send at least {more} more.",
            "{count} photos received. Send at least {more} more.",
            count,
        ).format(count=count, more=DEFECT_MIN_PHOTOS - count)
    if count < DEFECT_MAX_PHOTOS:
        return ngettext(
            "{count} photo received. Send more (up to {max} in all) or press Done.",
            "{count} photos received. Send more (up to {max} in all) or press Done.",
            count,
        ).format(count=count, max=DEFECT_MAX_PHOTOS)
    return ngettext(
        "{count} photo received: the most one claim can take. Press Done.",
        "{count} photos received: the most one claim can take. Press Done.",
        count,
    ).format(count=count)


async def ask_to_describe(target: ChatMessage, order: Order, state: FSMContext) -> None:
    await state.set_state(DefectDialog.describe)
    await state.update_data(order_id=order.order_id)
    await target.answer(
        _(
            "Your {order}.\n\nDescribe the problem in one message: what is wrong with the "
            "item or its packaging, and when you noticed it."
        ).format(order=order_summary(order)),
        reply_markup=step_keyboard(order.order_id),
    )


async def begin(
    target: ChatMessage,
    order: Order,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    """Start a claim about this order, if it is one a claim can be about."""
    if policies.defect_claim_allowed(order):
        await state.set_data({})
        await ask_to_describe(target, order, state)
        return
    await state.set_state(DefectDialog.order)
    await target.answer(
        _(
            "Your {order} is {status}. A claim about a defective or damaged item is for an "
            "order that is on its way or delivered. Choose another order or type its number."
        ).format(order=order_summary(order), status=order_status_label(order.status)),
        reply_markup=step_keyboard(order.order_id),
    )


async def ask_for_photos(target: ChatMessage, state: FSMContext) -> None:
    data = await state.get_data()
    count = len(data.get("photos", []))
    await state.set_state(DefectDialog.photos)
    text = photos_prompt()
    if count:
        text += "\n\n" + photos_progress(count)
    await target.answer(text, reply_markup=photos_keyboard(str(data["order_id"]), count))
    # The instructions stay in the chat; progress goes in a message of its own.
    await state.update_data(status_id=None, status_group=None)


QUESTION = OrderQuestion(
    step=OrderStep(Purpose.defect, DefectDialog.order, begin=begin),
    menu=MenuAction.defect,
    statuses=STATUSES,
    prompt=lambda: _(
        "Which order has a defective or damaged item? Choose it below or type its number."
    ),
    no_orders=lambda: _(
        "You have no orders on their way or delivered. If you mean an order that is not "
        "listed, type its number."
    ),
)


async def described(message: Message, state: FSMContext) -> None:
    await state.update_data(description=asdict(Entry.from_message(message)))
    await ask_for_photos(message, state)


async def describe_expected(message: Message) -> None:
    await message.answer(
        _("Please describe the problem in words first; I will ask for the photos right after.")
    )


def refused_text(count: int) -> str:
    return ngettext(
        "{count} photo was not added: a claim takes at most {max}, and I already have them "
        "all. The ones I have are kept: press Done to go on.",
        "{count} photos were not added: a claim takes at most {max}, and I already have them "
        "all. The ones I have are kept: press Done to go on.",
        count,
    ).format(count=count, max=DEFECT_MAX_PHOTOS)


async def refuse_photo(message: Message, state: FSMContext, bot: Bot, data: dict[str, Any]) -> None:
    """A photo over the limit: one message per album, counting the photos left out."""
    group = message.media_group_id
    same_album = group is not None and group == data.get("refused_group")
    count = data.get("refused", 0) + 1 if same_album else 1
    text = refused_text(count)
    markup = photos_keyboard(str(data["order_id"]), DEFECT_MAX_PHOTOS)
    refused_id: int | None = data.get("refused_id") if same_album else None
    if refused_id is not None:
        # The next refused part of the same album: the count in that message goes up.
        with suppress(TelegramBadRequest):
            await bot.edit_message_text(
                text=text, chat_id=message.chat.id, message_id=refused_id, reply_markup=markup
            )
    else:
        refused_id = (await message.answer(text, reply_markup=markup)).message_id
    await state.update_data(refused_group=group, refused=count, refused_id=refused_id)


async def photo(message: Message, state: FSMContext, bot: Bot) -> None:
    data = await state.get_data()
    order_id = str(data["order_id"])
    photos: list[dict[str, Any]] = data.get("photos", [])
    group = message.media_group_id
    if len(photos) >= DEFECT_MAX_PHOTOS:
        await refuse_photo(message, state, bot, data)
        return
    photos.append(asdict(Entry.from_message(message)))
    text = photos_progress(len(photos))
    markup = photos_keyboard(order_id, len(photos))
    status_id: int | None = data.get("status_id")
    edited = False
    if status_id is not None and group is not None and group == data.get("status_group"):
        # The next part of the same album: update the progress message under it.
        with suppress(TelegramBadRequest):
            await bot.edit_message_text(
                text=text, chat_id=message.chat.id, message_id=status_id, reply_markup=markup
            )
            edited = True
    if not edited:
        if status_id is not None:
            # Keep one progress message, under the newest photos.
            with suppress(TelegramBadRequest):
                await bot.delete_message(chat_id=message.chat.id, message_id=status_id)
        status_id = (await message.answer(text, reply_markup=markup)).message_id
    await state.update_data(photos=photos, status_id=status_id, status_group=group)


async def not_an_image(message: Message) -> None:
    await message.answer(
        _(
            "This file is not an image. Please send photos, or images as files (JPEG, PNG "
            "and the like)."
        )
    )


async def photos_expected(message: Message, state: FSMContext) -> None:
    count = len((await state.get_data()).get("photos", []))
    text = _("I am waiting for photos now: send them as photos or as image files.")
    if count:
        text += "\n\n" + photos_progress(count)
    await message.answer(text)


async def own_step(query: CallbackQuery, callback_data: DefectCb, state: FSMContext) -> bool:
    """Whether the pressed button belongs to the claim in progress."""
    if (await state.get_data()).get("order_id") == callback_data.order_id:
        return True
    await query.answer(_("This button no longer works."))
    return False


async def done(
    query: CallbackQuery,
    callback_data: DefectCb,
    state: FSMContext,
    svc: Services,
    account: User,
) -> None:
    if not await own_step(query, callback_data, state):
        return
    data = await state.get_data()
    count = len(data.get("photos", []))
    if count < DEFECT_MIN_PHOTOS:
        await query.answer(photos_progress(count), show_alert=True)
        return
    order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    assert order is not None  # the dialog only keeps the buyer's own order
    await state.set_state(DefectDialog.confirm)
    await reply(
        query,
        _(
            "Please check your claim before I send it:\n\n"
            "Order #{number}: {title}\nProblem: {description}\nPhotos: {count}\n\n"
            "Send it to the support team?"
        ).format(
            number=order.order_id,
            title=order.title,
            description=data["description"]["text"],
            count=count,
        ),
        step_keyboard(order.order_id, (DefectAction.send, _("📨 Send the claim"))),
    )


async def send(
    query: CallbackQuery,
    callback_data: DefectCb,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    if not await own_step(query, callback_data, state):
        return
    data = await state.get_data()
    photos = sorted(data["photos"], key=lambda p: p["chat_message_id"] or 0)
    opened = await svc.cases.open(
        buyer_id=account.id,
        type_=CaseType.defect,
        locale=i18n.current_locale,
        order_id=callback_data.order_id,
        reason=data["description"]["text"],
        entries=[Entry(**data["description"]), *(Entry(**p) for p in photos)],
    )
    await state.clear()
    await svc.commit()
    await reply(
        query,
        case_opened(
            opened,
            svc.cases,
            _("Your claim about order #{number} and its photos are with the support team.").format(
                number=callback_data.order_id
            ),
        ),
        main_menu(),
    )


async def confirm_expected(message: Message) -> None:
    await message.answer(_("Press Send to pass the claim to support, or Back to add more photos."))


async def back(
    query: CallbackQuery,
    callback_data: DefectCb,
    state: FSMContext,
    svc: Services,
    account: User,
) -> None:
    current = await state.get_state()
    if current in (DefectDialog.order, DefectDialog.describe):
        await ask(query, state, svc, account, QUESTION)
        return
    if not await own_step(query, callback_data, state) or query.message is None:
        return
    await query.answer()
    if current == DefectDialog.confirm:
        await ask_for_photos(query.message, state)
        return
    order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    assert order is not None  # the dialog only keeps the buyer's own order
    await ask_to_describe(query.message, order, state)


def create_router() -> Router:
    router = Router(name=__name__)
    ask_order(router, QUESTION)
    router.message.register(described, DefectDialog.describe, F.text)
    router.message.register(describe_expected, DefectDialog.describe)
    router.message.register(photo, DefectDialog.photos, IMAGE)
    router.message.register(not_an_image, DefectDialog.photos, F.document)
    router.message.register(photos_expected, DefectDialog.photos)
    router.callback_query.register(
        done, DefectCb.filter(F.action == DefectAction.done), StateFilter(DefectDialog.photos)
    )
    router.callback_query.register(
        send, DefectCb.filter(F.action == DefectAction.send), StateFilter(DefectDialog.confirm)
    )
    router.message.register(confirm_expected, DefectDialog.confirm)
    router.callback_query.register(
        back, DefectCb.filter(F.action == DefectAction.back), StateFilter(DefectDialog)
    )
    return router
