"""Card numbers and security codes are found and masked; look-alikes are left alone."""

from __future__ import annotations

import pytest

from bot.domain.card_guard import luhn_valid, scan


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "5555555555554444", "378282246310005", "2200000000000004",
     "6011111111111117", "4222222222222", "6250941006528599", "3530111333300000"],
)  # fmt: skip
def test_luhn_accepts_real_test_cards(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "5555555555554440", "1234567812345678"])
def test_luhn_rejects_a_wrong_check_digit(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111111111111111", "••••••••••••1111"),
        ("card 4111 1111 1111 1111 please", "card •••• •••• •••• 1111 please"),
        ("4111-1111-1111-1111", "••••-••••-••••-1111"),
        ("Amex 3782 822463 10005", "Amex •••• •••••• •0005"),
        ("моя карта 2200 0000 0000 0004", "моя карта •••• •••• •••• 0004"),
        ("4111\u00a01111\u00a01111\u00a01111", "••••\u00a0••••\u00a0••••\u00a01111"),
    ],
)
def test_card_numbers_keep_only_the_last_four_digits(text: str, masked: str) -> None:
    result = scan(text)
    assert result.text == masked
    assert result.cards == 1
    assert len(result.text) == len(text)  # Telegram's entity offsets still fit


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111 1111 1111 1111 12/27 123", "•••• •••• •••• 1111 12/27 •••"),
        ("4111111111111111 cvv 321", "••••••••••••1111 cvv •••"),
        ("4111 1111 1111 1111, CVC: 0421", "•••• •••• •••• 1111, CVC: ••••"),
        ("карта 4111111111111111 срок 12/27 код безопасности 555",
         "карта ••••••••••••1111 срок 12/27 код безопасности •••"),
        ("4111 1111 1111 1111 123", "•••• •••• •••• 1111 •••"),
        ("мой CVV 987", "мой CVV •••"),
    ],
)  # fmt: skip
def test_security_codes_typed_with_a_card_are_masked_entirely(text: str, masked: str) -> None:
    assert scan(text).text == masked


def test_several_numbers_in_one_text() -> None:
    result = scan("first 5555 5555 5555 4444, then 4111-1111-1111-1111 and 378282246310005")
    assert result.text == (
        "first •••• •••• •••• 4444, then ••••-••••-••••-1111 and •••••••••••0005"
    )
    assert result.cards == 3


@pytest.mark.parametrize(
    "text",
    [
        "+7 916 123-45-67",
        "8 (916) 123-45-67",
        "+44 7911 123456",
        "звоните 89161234567",
        "order 4111111111111111",
        "заказ №4111111111111111",
        "Order #5555555555554444 has not arrived",
        "номер заказа: 4111111111111111",
        "DEMO-1001-07",
        "ORD-4111111111111111",
        "4111111111111112",  # fails Luhn
        "1234567812345670",  # passes Luhn, but no card starts with 1
        "track RU123456789CN, 24 items, 1999 rub",
        "12345678901234567890123",  # longer than any card
        "the bank said wrong CVV",
        "I paid 4 500 rubles on 12/11",
    ],
)
def test_look_alikes_are_left_alone(text: str) -> None:
    result = scan(text)
    assert result.text == text
    assert not result.found
