"""Finding payment card data in what people type, and masking it.

A card number is 13 to 19 digits, written straight or in groups split by single
spaces or dashes, that starts like a real card (2 to 6: Mir, Visa, Mastercard,
Amex, UnionPay...) and passes the Luhn check. Phone numbers (`+...`), and numbers
written as order numbers (`№`, `#`, "order", "заказ" right before them) are left
alone. A security code (CVV/CVC) is masked when it follows a card number (with
or without the expiry date in between) or is named as one ("CVV 123").

Masking replaces digits one for one, so the text keeps its length and Telegram's
entity offsets still fit; a card keeps its last four digits only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MASK = "•"
CARD_DIGITS = range(13, 20)
CARD_FIRST_DIGITS = "23456"
# Digit groups joined by single separators; a letter, `+` or `-` glued to the front
# makes it an identifier or a phone number rather than a card.
DIGIT_RUN = re.compile(r"(?<![\w+\-])\d+(?:[ \u00a0-]\d+)*(?![\w])")
GROUP = re.compile(r"\d+")
ORDER_MARK = re.compile(r"(?:№|#|\border|\bзаказ\w*)\s*(?:no\.?|n|номер)?\s*[:.]?\s*$", re.I)
CVV_NAME = (
    r"(?:cvv2?|cvc2?|cvn|cid|свв2?|свс2?|security\s+code|код\s+безопасности|"
    r"секретный\s+код|код\s+cvv|код\s+cvc)"
)
NAMED_CVV = re.compile(CVV_NAME + r"\W{0,3}(\d{3,4})(?!\d)", re.I)
# What may sit between a card number and its code: separators, an expiry date, a name.
CVV_AFTER_CARD = re.compile(
    r"[\s,;:/.\-]*(?:\d{2}\s*/\s*(?:\d{4}|\d{2})[\s,;:.\-]*)?(?:" + CVV_NAME + r"\W{0,3})?"
    r"(\d{3,4})(?![\d/])",
    re.I,
)


@dataclass(frozen=True)
class Scan:
    """What `scan` found: the masked text and how many card numbers and codes it hid."""

    text: str
    cards: int = 0
    codes: int = 0

    @property
    def found(self) -> bool:
        return bool(self.cards or self.codes)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _looks_like_card(digits: str) -> bool:
    return len(digits) in CARD_DIGITS and digits[0] in CARD_FIRST_DIGITS and luhn_valid(digits)


def _card_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each card number in the text."""
    spans: list[tuple[int, int]] = []
    for run in DIGIT_RUN.finditer(text):
        if ORDER_MARK.search(text[max(0, run.start() - 24) : run.start()]):
            continue
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in GROUP.finditer(run[0])]
        i = 0
        while i < len(groups):
            candidates = []
            for j in range(i, len(groups)):
                digits = "".join(text[a:b] for a, b in groups[i : j + 1])
                if len(digits) > max(CARD_DIGITS):
                    break
                if _looks_like_card(digits):
                    candidates.append((j, len(digits)))
            if not candidates:
                i += 1
                continue
            # Sixteen digits is by far the commonest card; prefer it, so a code typed
            # right after the number is not swallowed into a longer "card".
            j, _ = min(candidates, key=lambda c: (c[1] != 16, -c[1]))
            spans.append((groups[i][0], groups[j][1]))
            i = j + 1
    return spans


def _mask_digits(chars: list[str], start: int, end: int, keep_last: int = 0) -> None:
    positions = [k for k in range(start, end) if chars[k].isdigit()]
    for k in positions[: len(positions) - keep_last]:
        chars[k] = MASK


def scan(text: str) -> Scan:
    """Mask card numbers (keeping the last four digits) and security codes in `text`."""
    cards = _card_spans(text)
    codes: set[tuple[int, int]] = set()
    for _start, end in cards:
        after = CVV_AFTER_CARD.match(text, end)
        if after is not None:
            codes.add(after.span(1))
    for named in NAMED_CVV.finditer(text):
        if not any(a <= named.start(1) < b for a, b in cards):
            codes.add(named.span(1))
    if not cards and not codes:
        return Scan(text)
    chars = list(text)
    for start, end in cards:
        _mask_digits(chars, start, end, keep_last=4)
    for start, end in codes:
        _mask_digits(chars, start, end)
    return Scan("".join(chars), cards=len(cards), codes=len(codes))
