"""Logs at INFO name cases, never people: a whole buyer's journey (linking, a case,
photos, replies, a 429, a topic deleted by hand, a rating, erasure) leaves no name,
Telegram id, buyer id or message text in the log."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from bot.clock import ManualClock
from bot.desk.card import CaseAction, CaseCb
from bot.domain.linking import LinkSigner
from bot.emulator.sandbox import Sandbox
from bot.ui.callbacks import MenuAction, MenuCb, RateCb
from handlers.privacy import ForgetAction, ForgetCb
from tests.conftest import make_settings
from tests.desk import AGENT_ID, GROUP
from tests.factories import PHOTO

TELEGRAM_ID = 987654321
NAME = "Gwendolyn"
BUYER_ID = "MK-GWEN-4242"
WORDS = "parcel to Baker street"


async def test_a_buyers_journey_leaves_no_personal_data_in_info_logs(
    sqlite_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(
        sqlite_url, agent_chat_id=GROUP, link_secret=SecretStr("k" * 40), log_level="INFO"
    )
    box = await Sandbox.start(settings, clock)
    try:
        buyer = box.person(TELEGRAM_ID, NAME)
        agent = box.agent(AGENT_ID)
        signer = LinkSigner.from_settings(settings)
        assert signer is not None
        await buyer.send(f"/start {signer.token(BUYER_ID, clock.now())}")
        await buyer.press(data=MenuCb(action=MenuAction.person).pack())
        await buyer.send(f"Hello, I am {NAME}, {WORDS}")
        await buyer.send(photo=PHOTO, caption=f"{NAME} {WORDS}")
        box.model.fail("sendMessage", 429, retry_after=3, chat_id=TELEGRAM_ID)
        await agent.say(1, f"Dear {NAME}, we check the {WORDS}")
        box.model.delete_topic_by_hand(GROUP, agent.topic_id(1))
        await buyer.send(f"Thanks, {NAME} here")
        await agent.press(1, data=CaseCb(action=CaseAction.resolve, case_id=1).pack())
        await buyer.press(data=RateCb(case_id=1, score=5).pack())
        await buyer.send(f"{NAME} is happy")
        await buyer.send("/forget_me")
        await buyer.press(data=ForgetCb(action=ForgetAction.confirm).pack())
        await box.process()
    finally:
        await box.stop()
    logged = caplog.text
    assert "case 1" in logged  # the log did see the journey (the deleted topic, by case)
    assert "429" in logged
    for secret in (NAME, str(TELEGRAM_ID), BUYER_ID, WORDS):
        assert secret not in logged, secret
