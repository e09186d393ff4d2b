"""Card numbers and security codes are found and masked; look-alikes are left alone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.card_guard import digits_only, luhn_valid, scan, scan_split


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


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111.1111.1111.1111", "••••.••••.••••.1111"),
        ("4111/1111/1111/1111", "••••/••••/••••/1111"),
        ("4111  1111  1111  1111", "••••  ••••  ••••  1111"),
        ("4111 - 1111 - 1111 - 1111", "•••• - •••• - •••• - 1111"),
        ("4111\n1111\n1111\n1111", "••••\n••••\n••••\n1111"),
        ("4111\t1111\t1111\t1111", "••••\t••••\t••••\t1111"),
        ("4111\u202f1111\u202f1111\u202f1111", "••••\u202f••••\u202f••••\u202f1111"),
        ("4111\u20091111\u20091111\u20091111", "••••\u2009••••\u2009••••\u20091111"),
        ("4111\u20131111\u20131111\u20131111", "••••\u2013••••\u2013••••\u20131111"),
        ("4111_1111_1111_1111", "••••_••••_••••_1111"),
        ("4111\u200b1111\u200b1111\u200b1111", "••••\u200b••••\u200b••••\u200b1111"),
        ("４１１１ １１１１ １１１１ １１１１", "•••• •••• •••• １１１１"),
        ("٤١١١١١١١١١١١١١١١", "••••••••••••١١١١"),
        ("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "• • • • • • • • • • • • 1 1 1 1"),
        ("order 4111111111111111", "order ••••••••••••1111"),
        ("заказ №4111111111111111", "заказ №••••••••••••1111"),
        ("Order #5555555555554444 has not arrived", "Order #••••••••••••4444 has not arrived"),
        ("https://pay.example/card4111111111111111?cvv=123",
         "https://pay.example/card••••••••••••1111?cvv=•••"),
    ],
)  # fmt: skip
def test_what_a_person_would_type_is_masked(text: str, masked: str) -> None:
    result = scan(text)
    assert result.text == masked
    assert result.cards == 1
    assert len(result.text.encode("utf-16-le")) == len(text.encode("utf-16-le"))


def test_digits_outside_the_basic_plane_keep_the_utf16_length() -> None:
    text = "".join(chr(0x1D7CE + int(d)) for d in "4111111111111111")  # 𝟒𝟏𝟏𝟏...
    result = scan(text)
    assert result.cards == 1
    assert len(result.text.encode("utf-16-le")) == len(text.encode("utf-16-le"))
    assert result.text.endswith(text[-4:])


def test_the_buyers_own_order_number_is_left_alone() -> None:
    text = "order 4111111111111111 and card 5555 5555 5555 4444"
    result = scan(text, own={"4111111111111111"})
    assert result.text == "order 4111111111111111 and card •••• •••• •••• 4444"
    assert result.numbers == ("5555555555554444",)


def test_a_number_split_over_two_messages_is_masked_in_both() -> None:
    split = scan_split("my card 4111 1111", "1111 1111 thanks")
    assert split is not None
    before, after = split
    assert before == "my card •••• ••••"
    assert after.text == "•••• 1111 thanks"
    assert scan_split("my phone is +7 916", "123-45-67") is None
    assert scan_split("order 100234", "arrived broken") is None
    assert scan_split("4111 1111 1111 1111", "hello") is None  # whole in the first: masked there


# Hypothesis: any valid card, written any way a person would, is masked.
DIGIT_SETS = [0x30, 0xFF10, 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0x1D7CE, 0x1D7D8]
SEPARATORS = [" ", "  ", "\u00a0", "\u2009", "\u202f", "\u3000", "\t", "\n", ".", "/", "-",
              " - ", "\u2010", "\u2013", "\u2014", "\u2212", "\uff0d", "_", "\u200b"]  # fmt: skip
ZERO_WIDTH = ["", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]


def with_check_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError(body)  # pragma: no cover - one check digit always fits


@st.composite
def written_cards(draw: st.DrawFn) -> tuple[str, str]:
    """(how the person wrote it, the card's digits)."""
    length = draw(st.integers(13, 19))
    body = draw(st.sampled_from("23456")) + draw(
        st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2)
    )
    card = with_check_digit(body)
    pieces, position = [], 0
    while position < len(card):
        size = draw(st.integers(1, 6))
        group = card[position : position + size]
        position += size
        written = ""
        for digit in group:
            written += chr(draw(st.sampled_from(DIGIT_SETS)) + int(digit))
            written += draw(st.sampled_from(ZERO_WIDTH))
        pieces.append(written)
    text = pieces[0]
    for piece in pieces[1:]:
        text += "".join(draw(st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=3)))
        text += piece
    return text, card


@settings(max_examples=300, deadline=None)
@given(written_cards(), st.sampled_from(["", "card ", "my card: ", "order "]),
       st.sampled_from(["", " thanks", ", please help", "\nexp 12/27"]))  # fmt: skip
def test_any_valid_card_written_any_way_is_masked(
    written: tuple[str, str], before: str, after: str
) -> None:
    text, card = written
    result = scan(before + text + after)
    assert result.cards >= 1
    visible = digits_only(result.text[len(before) : len(result.text) - len(after)])
    assert len(visible) <= 4  # at most the last four
    assert card not in digits_only(result.text)
    assert len(result.text.encode("utf-16-le")) == len((before + text + after).encode("utf-16-le"))


ORDINARY = [
    "+7 916 123-45-67", "8 (916) 123-45-67", "+44 7911 123456", "+1 (415) 555-0132",
    "24.11.2026", "2026-11-24", "24/11/2026 at 14:30", "1 999,00 ₽", "2 490.00 RUB",
    "$1,234.56", "order 100234", "order №100234-0002", "#100511-0002", "DEMO-1001-07",
    "track RU123456789CN",
]  # fmt: skip
# Luhn-invalid digits are left alone on their own; written right against other digits
# they may be read together with them, as any run of separators joins digit groups.
LUHN_INVALID = ["4111111111111112", "5555 5555 5555 4440", "4111-1111-1111-1112"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ORDINARY), min_size=1, max_size=4),
       st.sampled_from([" ", ", ", "; ", " and ", "\n"]),
       st.sampled_from(["", "Hello! ", "Привет, "]))  # fmt: skip
def test_ordinary_text_is_left_unchanged(parts: list[str], joint: str, greeting: str) -> None:
    text = greeting + joint.join(parts)
    result = scan(text)
    assert result.text == text
    assert not result.found


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(LUHN_INVALID), st.sampled_from(["", "card ", "order ", "№"]),
       st.sampled_from(["", " thanks", ", call +7 916 123-45-67", " on 24.11.2026"]))  # fmt: skip
def test_luhn_invalid_digits_are_left_unchanged(digits: str, before: str, after: str) -> None:
    text = before + digits + after
    assert scan(text).text == text
