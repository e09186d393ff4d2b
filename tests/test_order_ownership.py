"""Orders belong to their buyer everywhere: buyer B reaching for buyer A's order by any
entry point (typed numbers, forged buttons, the ask-support offer, deep links, a case
opened by the service) never gets A's order onto the agents' card."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.clock import ManualClock
from bot.domain.cases import CaseType
from bot.domain.linking import LinkSigner
from bot.emulator.sandbox import Agent, Person, Sandbox
from bot.ui.callbacks import MenuAction, MenuCb
from handlers.cancel_order import CancelAction, CancelCb
from handlers.defect import DefectAction, DefectCb
from handlers.order_picker import OrderCb, Purpose, UnknownOrderCb
from handlers.refund import RefundAction, RefundCb
from storage.models import Case, Order
from tests.conftest import START, make_settings
from tests.desk import AGENT_ID, GROUP, open_case
from tests.factories import add_orders, order

A, B = 61, 62
A_ORDER = "A-100"
A_TITLE = "Secret Drone XR-9"
# 98 765,43 ₽ / RUB 98,765.43: any grouping of A's amount.
A_AMOUNT = re.compile(r"98\D?765")
A_LINKED = "MK-A-7"
"""A's marketplace buyer id: their linked order is found through it, never by B."""


@pytest.fixture(params=["en", "ru"])
async def box(
    request: pytest.FixtureRequest, sqlite_url: str, clock: ManualClock
) -> AsyncIterator[Sandbox]:
    settings = make_settings(
        sqlite_url,
        agent_chat_id=GROUP,
        agent_locale=request.param,
        link_secret=SecretStr("s" * 40),
    )
    sandbox = await Sandbox.start(settings, clock)
    a_order = order(A_ORDER, A, "delivered", placed_at=START - timedelta(days=3), title=A_TITLE)
    a_order.amount = Decimal("98765.43")
    linked = order("A-200", 0, "shipped", placed_at=START - timedelta(days=2), title=A_TITLE)
    linked.buyer_telegram_id, linked.buyer_id, linked.amount = None, A_LINKED, Decimal("98765.43")
    await add_orders(
        sandbox,
        a_order,
        linked,
        order("B-1", B, "delivered", placed_at=START - timedelta(days=1), title="Kettle"),
    )
    yield sandbox
    await sandbox.stop()


async def take_offer(buyer: Person, text: str = "It is my order, please look") -> None:
    """Press the offered "ask support about №…" and describe the question."""
    [data] = [d for _label, d in buyer.buttons() if d.startswith("uo:")]
    await buyer.press(data=data)
    await buyer.send(text)


async def typed_in_cancel(box: Sandbox, buyer: Person) -> None:
    await buyer.press(data=MenuCb(action=MenuAction.cancel).pack())
    await buyer.send(A_ORDER)
    await take_offer(buyer)


async def typed_in_seller(box: Sandbox, buyer: Person) -> None:
    await buyer.press(data=MenuCb(action=MenuAction.seller).pack())
    await buyer.send(f"order №{A_ORDER}")
    await take_offer(buyer)


async def forged_order_buttons(box: Sandbox, buyer: Person) -> None:
    for purpose in Purpose:
        await buyer.press(data=OrderCb(purpose=purpose, order_id=A_ORDER).pack())
    await buyer.press(data=OrderCb(purpose=Purpose.defect, order_id="A-200").pack())
    await take_offer(buyer)


async def forged_step_buttons(box: Sandbox, buyer: Person) -> None:
    for data in (
        CancelCb(action=CancelAction.confirm, order_id=A_ORDER),
        RefundCb(action=RefundAction.not_received, order_id=A_ORDER),
        RefundCb(action=RefundAction.other, order_id=A_ORDER),
        DefectCb(action=DefectAction.send, order_id=A_ORDER),
        DefectCb(action=DefectAction.done, order_id=A_ORDER),
    ):
        await buyer.press(data=data.pack())
    await buyer.press(data=MenuCb(action=MenuAction.person).pack())
    await buyer.send(f"Please check order {A_ORDER}")


async def forged_offer(box: Sandbox, buyer: Person) -> None:
    await buyer.press(data=UnknownOrderCb(purpose=Purpose.refund, number=A_ORDER).pack())
    await buyer.send("Where is my refund?")


async def forged_deep_links(box: Sandbox, buyer: Person) -> None:
    foreign = LinkSigner(b"not the bot's secret at all, 40 bytes!!", timedelta(hours=1))
    await buyer.send(f"/start {foreign.token(A_LINKED, box.clock.now())}")
    await buyer.send("/start AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    await buyer.press(data=MenuCb(action=MenuAction.refund).pack())
    await buyer.send("A-200")
    await take_offer(buyer)


async def opened_by_the_service(box: Sandbox, buyer: Person) -> None:
    """A dialog (or a future one) handing the service someone else's order id."""
    opened = await open_case(
        box, B, type_=CaseType.defect, order_id=A_ORDER, reason=f"order {A_ORDER}"
    )
    assert opened.case.order_id is None


ENTRY_POINTS: dict[str, Callable[[Sandbox, Person], Awaitable[None]]] = {
    "typed in the cancel dialog": typed_in_cancel,
    "typed in the seller dialog": typed_in_seller,
    "forged order buttons": forged_order_buttons,
    "forged dialog-step buttons": forged_step_buttons,
    "forged ask-support offer": forged_offer,
    "forged deep links": forged_deep_links,
    "the case service": opened_by_the_service,
}


def no_trace_of_a(text: str) -> None:
    assert A_TITLE not in text
    assert not A_AMOUNT.search(text), text


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_another_buyers_order_never_reaches_the_agents_card(box: Sandbox, entry: str) -> None:
    buyer = box.person(B, "Boris")
    agent: Agent = box.agent(AGENT_ID)
    await buyer.send("/start")
    await ENTRY_POINTS[entry](box, buyer)
    await box.process()
    async with box.db() as session:
        cases = list((await session.scalars(select(Case).where(Case.buyer_id == B))).all())
        a_order = await session.get(Order, A_ORDER)
        order_links = (await session.scalars(select(Case.order_id))).all()
    assert cases, "the entry point should end in a case"
    assert set(order_links) <= {None, "B-1"}
    assert a_order is not None
    assert a_order.status == "delivered"
    for case in cases:
        card = agent.card(case.id)["text"]
        no_trace_of_a(card)
        for message in agent.topic(case.id):
            no_trace_of_a(message.get("text") or message.get("caption") or "")
    for message in buyer.inbox():
        no_trace_of_a(message.get("text") or "")


async def test_the_card_checks_the_owner_even_when_a_case_row_names_anothers_order(
    box: Sandbox,
) -> None:
    """Defence in depth: a case row that names A's order (written before this check, or
    by hand) still shows it on B's card only as a number not on record."""
    agent = box.agent(AGENT_ID)
    opened = await open_case(box, B, type_=CaseType.general, reason="hello")
    async with box.db() as session:
        row = await session.get(Case, opened.case.id)
        assert row is not None
        row.order_id = A_ORDER
        await session.commit()
    box.dp["handoff"].sync(box.bot, opened.case.id)
    await box.process()
    card = agent.card(opened.case.id)["text"]
    no_trace_of_a(card)
    assert A_ORDER in card  # the number as a number: "not on record"


async def test_the_buyers_own_order_is_on_the_card(box: Sandbox) -> None:
    agent = box.agent(AGENT_ID)
    opened = await open_case(box, B, type_=CaseType.defect, order_id="B-1", reason="broken")
    assert opened.case.order_id == "B-1"
    assert "Kettle" in agent.card(opened.case.id)["text"]
