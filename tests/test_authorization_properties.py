"""Property: forged updates change no one else's case and reach no one else.

Hypothesis drives the real dispatcher (middlewares, routers, handoff) with forged
callback data, message thread ids, chat ids and user ids: from buyers acting on
another buyer's case, from strangers who never wrote to the bot, and from people in
another group (the bot's real agent among them). After every update: no case that is
not the actor's own changed (status, assignee, tags, rating, messages, order, buyer),
and no buyer but the actor got anything from the bot.
"""

from __future__ import annotations

import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.desk.card import CaseAction, CaseCb, TagCb
from bot.domain.cases import USUAL_TAGS
from bot.emulator.sandbox import Sandbox
from bot.ui.callbacks import BuyerCaseAction, BuyerCaseCb, MenuAction, MenuCb, RateCb
from handlers.order_picker import OrderCb, Purpose, UnknownOrderCb
from handlers.privacy import ForgetAction, ForgetCb
from storage.models import Case, CaseMessage, CaseTag
from tests.conftest import make_settings
from tests.desk import AGENT_ID, GROUP

OTHER_GROUP = -1009000000009
ANNA, BORIS, STRANGER = 201, 202, 203
BUYERS = (ANNA, BORIS, STRANGER)
CASE_IDS = (1, 2, 3, 0, -1, 2**31 - 1)
ALL_TAGS = sorted({tag for tags in USUAL_TAGS.values() for tag in tags} | {"general", "vip"})

# Anna's open case 1 is the likeliest target: forging against it must change nothing.
case_ids = st.one_of(st.just(1), st.sampled_from(CASE_IDS))
# Buttons that act on a case come up most often; the rest (menus, orders, erasure,
# junk) check that nothing else leaks either.
on_cases = st.one_of(
    st.builds(
        lambda action, case_id: CaseCb(action=action, case_id=case_id).pack(),
        st.sampled_from(CaseAction),
        case_ids,
    ),
    st.builds(lambda c, t: TagCb(case_id=c, tag=t).pack(), case_ids, st.sampled_from(ALL_TAGS)),
    st.builds(lambda c, s: RateCb(case_id=c, score=s).pack(), case_ids, st.integers(-1, 6)),
    st.builds(
        lambda a, c, m: BuyerCaseCb(action=a, case_id=c, message_id=m).pack(),
        st.sampled_from(BuyerCaseAction),
        case_ids,
        st.integers(0, 12),
    ),
)
elsewhere = st.one_of(
    st.builds(
        lambda p, o: OrderCb(purpose=p, order_id=o).pack(),
        st.sampled_from(Purpose),
        st.sampled_from(["A-1", "B-1", "1"]),
    ),
    st.builds(lambda p: UnknownOrderCb(purpose=p, number="A-1").pack(), st.sampled_from(Purpose)),
    st.builds(lambda a: MenuCb(action=a).pack(), st.sampled_from(MenuAction)),
    st.builds(lambda a: ForgetCb(action=a).pack(), st.sampled_from(ForgetAction)),
    st.text(string.ascii_letters + string.digits + ":_-", max_size=40),
)
callback_data = st.one_of(on_cases, on_cases, elsewhere)
texts = st.sampled_from(
    ["hello", "/tag vip", "!note", "/note x", "/macro hello", "/macro thanks", "/stats",
     "/start", "/cancel", "/forget_me", "A-1", "solved"]
)  # fmt: skip


@dataclass(frozen=True)
class Forged:
    """One forged update: who sends it, where, and what."""

    actor: int
    where: str
    """"private" (the actor's own chat) or "other" (another group the bot is in)."""
    thread_id: int | None
    press: str | None
    text: str


forged = st.builds(
    Forged,
    actor=st.sampled_from([BORIS, STRANGER, ANNA, AGENT_ID]),
    where=st.sampled_from(["private", "other"]),
    # Topic thread ids in the agents' group are small numbers: these hit them.
    thread_id=st.one_of(st.none(), st.integers(1, 12)),
    press=st.one_of(callback_data, st.none()),
    text=texts,
)


@pytest.fixture
async def box(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Sandbox]:
    settings = make_settings(sqlite_url, agent_chat_id=GROUP)
    sandbox = await Sandbox.start(settings, clock)
    sandbox.model.add_group(OTHER_GROUP, "Somebody else's group")
    anna = sandbox.person(ANNA, "Anna")
    boris = sandbox.person(BORIS, "Boris")
    sandbox.person(STRANGER, "Mallory")
    agent = sandbox.agent(AGENT_ID)
    for buyer, text in ((anna, "Anna's question"), (boris, "Boris's question")):
        await buyer.send("/start")
        await buyer.press(data=MenuCb(action=MenuAction.person).pack())
        await buyer.send(text)
    await agent.say(1, "Anna, we are on it")
    await agent.press(2, data=CaseCb(action=CaseAction.resolve, case_id=2).pack())
    yield sandbox
    await sandbox.stop()


async def cases_snapshot(box: Sandbox) -> dict[int, tuple[Any, ...]]:
    async with box.db() as session:
        cases = (await session.scalars(select(Case).order_by(Case.id))).all()
        counts = dict(
            (
                await session.execute(
                    select(CaseMessage.case_id, func.count()).group_by(CaseMessage.case_id)
                )
            ).all()
        )
        tags = (await session.execute(select(CaseTag.case_id, CaseTag.tag))).all()
        return {
            case.id: (
                case.buyer_id,
                case.status,
                case.assignee_id,
                case.rating,
                case.rating_comment,
                case.order_id,
                case.erased_at,
                sorted(tag for case_id, tag in tags if case_id == case.id),
                counts.get(case.id, 0),
            )
            for case in cases
        }


def inboxes(box: Sandbox) -> dict[int, list[tuple[int, Any]]]:
    return {
        buyer: [(m["message_id"], m.get("edit_date")) for m in box.model.bot_messages(buyer)]
        for buyer in BUYERS
    }


def send(box: Sandbox, step: Forged) -> None:
    chat_id = step.actor if step.where == "private" else OTHER_GROUP
    if step.actor == AGENT_ID and step.where == "private":
        chat_id = OTHER_GROUP  # the agent acts only from somebody else's group here
    if step.press is None:
        box.model.send_message(step.actor, step.text, chat_id=chat_id, thread_id=step.thread_id)
        return
    # A button under a message in that chat: its own, or the bot's latest there.
    message = box.model.send_message(
        step.actor, step.text, chat_id=chat_id, thread_id=step.thread_id, queue=False
    )
    box.model.press(step.actor, chat_id, message["message_id"], step.press)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(forged, min_size=1, max_size=3))
# The attacks a person would try first, every run; Hypothesis explores around them.
@example(steps=[Forged(STRANGER, "private", None, "bc:w:1:0", "x")])
@example(steps=[Forged(BORIS, "private", None, "bc:r:1:5", "hello")])
@example(
    steps=[Forged(ANNA, "private", None, "rt:2:1", "x"), Forged(ANNA, "private", None, None, "bad")]
)
@example(steps=[Forged(AGENT_ID, "other", None, "cs:take:1", "x")])
@example(steps=[Forged(AGENT_ID, "other", None, "cs:res:1", "x")])
@example(steps=[Forged(AGENT_ID, "other", None, "ct:1:vip", "x")])
@example(steps=[Forged(ANNA, "other", None, "cs:reopen:2", "x")])
@example(steps=[Forged(AGENT_ID, "other", t, None, "hello Anna") for t in range(1, 8)])
@example(steps=[Forged(AGENT_ID, "other", t, None, "/macro hello") for t in range(1, 8)])
@example(steps=[Forged(BORIS, "private", t, None, "/tag vip") for t in range(1, 8)])
async def test_forged_updates_touch_no_one_elses_case(box: Sandbox, steps: list[Forged]) -> None:
    for step in steps:
        cases_before = await cases_snapshot(box)
        inbox_before = inboxes(box)
        send(box, step)
        await box.process()
        cases_after = await cases_snapshot(box)
        inbox_after = inboxes(box)
        for case_id, before in cases_before.items():
            owner = before[0]
            if owner == step.actor and step.where == "private":
                continue  # a buyer may act on their own case
            assert cases_after[case_id] == before, (step, case_id)
        for buyer in BUYERS:
            if buyer == step.actor and step.where == "private":
                continue
            assert inbox_after[buyer] == inbox_before[buyer], (step, buyer)
