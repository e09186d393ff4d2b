"""Deep links that connect a Telegram account to the marketplace's buyer id."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.cli import main
from bot.clock import ManualClock
from bot.domain.linking import MAX_BUYER_ID_BYTES, LinkError, LinkSigner
from bot.domain.orders import OrderStatus, PaymentMethod
from bot.emulator.sandbox import Sandbox
from bot.ops.order_import import OrderRecord
from storage.models import User
from tests.conftest import make_settings
from tests.demo import seed

SECRET = "correct horse battery staple, 32 bytes and more"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def signer(secret: str = SECRET) -> LinkSigner:
    return LinkSigner(secret.encode(), timedelta(hours=72))


def test_token_round_trip_fits_telegram_start_parameter() -> None:
    longest = "b" * MAX_BUYER_ID_BYTES
    for buyer in ("B-58211", "покупатель-7", longest):
        token = signer().token(buyer, NOW)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", token)
        assert signer().read(token, NOW + timedelta(hours=71)) == buyer
    with pytest.raises(ValueError, match="1 to 31 bytes"):
        signer().token(longest + "b", NOW)


def test_forged_tampered_and_expired_tokens_are_refused() -> None:
    token = signer().token("B-1", NOW)
    assert signer("another secret").read(token, NOW) is LinkError.invalid
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert signer().read(flipped, NOW) is LinkError.invalid
    assert signer().read(token[:-2], NOW) is LinkError.invalid
    for junk in ("", "hello", "!!!!", "x" * 65):
        assert signer().read(junk, NOW) is LinkError.invalid
    assert signer().read(token, NOW + timedelta(hours=72)) is LinkError.expired


@pytest.fixture
async def linked_sandbox(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Sandbox]:
    box = await Sandbox.start(make_settings(sqlite_url, link_secret=SECRET), clock)
    yield box
    await box.stop()


async def buyer_id_of(sandbox: Sandbox, user_id: int) -> str | None:
    async with sandbox.db() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user.buyer_id


MARKETPLACE_ORDER = OrderRecord(
    order_id="100234-0002",
    buyer_telegram_id=None,
    buyer_id="B-58211",
    status=OrderStatus.paid,
    placed_at=NOW - timedelta(hours=1),
    paid_at=NOW - timedelta(hours=1),
    payment_method=PaymentMethod.card,
    amount=Decimal("2490"),
    currency="RUB",
    title="Power bank 10000 mAh",
)


@pytest.mark.parametrize(
    ("lang", "linked", "orders"),
    [("en", "Done: your marketplace account is connected.", "You have 1 order:"),
     ("ru", "Готово: аккаунт маркетплейса подключён", "У вас 1 заказ:")],
)  # fmt: skip
async def test_opening_the_link_connects_the_buyer_and_shows_their_orders(
    linked_sandbox: Sandbox, clock: ManualClock, lang: str, linked: str, orders: str
) -> None:
    await seed(linked_sandbox, MARKETPLACE_ORDER)
    anna = linked_sandbox.person(20, "Anna", language_code=lang)
    token = LinkSigner.from_settings(linked_sandbox.settings).token(  # type: ignore[union-attr]
        "B-58211", clock.now()
    )
    [reply] = await anna.send(f"/start {token}")
    assert reply["text"].startswith(linked)
    assert await buyer_id_of(linked_sandbox, 20) == "B-58211"
    [listing] = await anna.press({"en": "My orders", "ru": "Мои заказы"}[lang])
    assert listing["text"].startswith(orders)
    assert any("100234-0002" in label for label, _ in anna.buttons(listing))


@pytest.mark.parametrize(
    ("lang", "forged", "expired"),
    [("en", "I couldn't use this link", "This link has expired"),
     ("ru", "Эта ссылка не сработала", "Срок действия ссылки истёк")],
)  # fmt: skip
async def test_forged_or_expired_link_links_nothing(
    linked_sandbox: Sandbox, clock: ManualClock, lang: str, forged: str, expired: str
) -> None:
    anna = linked_sandbox.person(21, "Anna", language_code=lang)
    token = signer("not our secret").token("B-58211", clock.now())
    [reply] = await anna.send(f"/start {token}")
    assert reply["text"].startswith(forged)
    good = LinkSigner.from_settings(linked_sandbox.settings).token(  # type: ignore[union-attr]
        "B-58211", clock.now()
    )
    clock.advance(timedelta(hours=72, seconds=1))
    [reply] = await anna.send(f"/start {good}")
    assert reply["text"].startswith(expired)
    assert await buyer_id_of(linked_sandbox, 21) is None


async def test_without_link_secret_the_bot_refuses_links(sandbox: Sandbox) -> None:
    anna = sandbox.person(22, "Anna")
    [reply] = await anna.send("/start " + signer().token("B-1", sandbox.clock.now()))
    assert reply["text"].startswith("I couldn't use this link")
    assert await buyer_id_of(sandbox, 22) is None


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_link_command_prints_a_signed_deep_link(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINK_SECRET", SECRET)
    code, out, _err = run_cli(["link", "B-58211", "--bot-username", "@shop_help_bot"], capsys)
    assert code == 0
    match = re.fullmatch(r"https://t\.me/shop_help_bot\?start=([A-Za-z0-9_-]{1,64})\n", out)
    assert match is not None
    assert signer().read(match[1], datetime.now(UTC)) == "B-58211"
    assert SECRET not in out


def test_link_command_explains_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LINK_SECRET", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    code, _out, err = run_cli(["link", "B-1", "--bot-username", "x_bot"], capsys)
    assert code == 2
    assert err.startswith("supportbot: LINK_SECRET is not set.")
    monkeypatch.setenv("LINK_SECRET", SECRET)
    code, _out, err = run_cli(["link", "B-1"], capsys)
    assert code == 2
    assert "--bot-username" in err
    code, _out, err = run_cli(["link", "b" * 40, "--bot-username", "x_bot"], capsys)
    assert code == 2
    assert "1 to 31 bytes" in err


def test_settings_secret_is_a_secret() -> None:
    settings = make_settings("sqlite+aiosqlite://", link_secret=SECRET)
    assert isinstance(settings.link_secret, SecretStr)
    assert SECRET not in repr(settings)


def token_for(sandbox: Sandbox, buyer: str, now: datetime) -> str:
    signer = LinkSigner.from_settings(sandbox.settings)
    assert signer is not None
    return signer.token(buyer, now)


@pytest.mark.parametrize(
    ("lang", "used"),
    [("en", "This link was already used by another Telegram account, so I couldn't connect"),
     ("ru", "Эту ссылку уже открыли из другого аккаунта Telegram, поэтому ваш подключить")],
)  # fmt: skip
async def test_a_link_binds_only_the_first_account_that_opens_it(
    linked_sandbox: Sandbox, clock: ManualClock, lang: str, used: str
) -> None:
    await seed(linked_sandbox, MARKETPLACE_ORDER)
    token = token_for(linked_sandbox, "B-58211", clock.now())
    anna = linked_sandbox.person(30, "Anna", language_code="en")
    [reply] = await anna.send(f"/start {token}")
    assert reply["text"].startswith("Done: your marketplace account is connected.")

    mallory = linked_sandbox.person(31, "Mallory", language_code=lang)
    [reply] = await mallory.send(f"/start {token}")
    assert reply["text"].startswith(used)
    assert await buyer_id_of(linked_sandbox, 31) is None
    [listing] = await mallory.press(data="m:orders")  # My orders: none of Anna's
    assert "100234-0002" not in listing["text"]
    assert not any("100234-0002" in label for label, _ in mallory.buttons(listing))

    [again] = await anna.send(f"/start {token}")
    assert again["text"].startswith("Your marketplace account is already connected")
    assert await buyer_id_of(linked_sandbox, 30) == "B-58211"


@pytest.mark.parametrize(
    ("lang", "stays"),
    [("en", "Your marketplace account stays connected as before."),
     ("ru", "Аккаунт маркетплейса по-прежнему подключён.")],
)  # fmt: skip
async def test_a_bad_link_after_a_good_one_says_the_account_stays_connected(
    linked_sandbox: Sandbox, clock: ManualClock, lang: str, stays: str
) -> None:
    anna = linked_sandbox.person(32, "Anna", language_code=lang)
    good = token_for(linked_sandbox, "B-58211", clock.now())
    await anna.send(f"/start {good}")
    forged = signer("not our secret, though quite long enough").token("B-666", clock.now())
    used_elsewhere = token_for(linked_sandbox, "B-7", clock.now())
    await linked_sandbox.person(33, "Bob").send(f"/start {used_elsewhere}")
    for token in (forged, good[:-3], used_elsewhere):
        [reply] = await anna.send(f"/start {token}")
        assert reply["text"].endswith(stays)
        assert "not connected" not in reply["text"]
        assert "не подключ" not in reply["text"]
    clock.advance(timedelta(hours=73))
    [reply] = await anna.send(f"/start {good}")
    assert reply["text"].endswith(stays)
    assert await buyer_id_of(linked_sandbox, 32) == "B-58211"


@pytest.mark.parametrize("secret", ["x", "a" * 31, "ключ" * 3])
def test_a_short_link_secret_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, secret: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINK_SECRET", secret)
    with pytest.raises(SystemExit) as exited:
        main(["link", "B-1", "--bot-username", "shop_help_bot"])
    message = str(exited.value.code)
    assert message.startswith("supportbot: configuration error: LINK_SECRET: ")
    assert "at least 32 bytes" in message
    assert secret not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "name",
    ["shop", "shop_help", "bot", "abot", "1shop_bot", "shop-help_bot", "shop help bot",
     "a" * 30 + "bot", "shop_bot?start=x", "@", ""],
)  # fmt: skip
def test_link_command_refuses_a_name_that_cannot_be_a_bot(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINK_SECRET", SECRET)
    code, out, err = run_cli(["link", "B-1", "--bot-username", name], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("supportbot: --bot-username ")
    assert "ending in 'bot'" in err


@pytest.mark.parametrize("name", ["shop_help_bot", "@ShopHelpBot", "abcbot", "a" * 29 + "bot"])
def test_link_command_takes_real_bot_names(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINK_SECRET", SECRET)
    code, out, _err = run_cli(["link", "B-1", "--bot-username", name], capsys)
    assert code == 0
    assert out.startswith(f"https://t.me/{name.removeprefix('@')}?start=")
