"""Finding payment card data in what people type, and masking it.

The text is normalised before it is scanned, the way a person's eye would read it:
NFKC (fullwidth digits and spaces become plain ones), every Unicode decimal digit
(Arabic-Indic, Devanagari...) becomes 0-9, and invisible characters (zero-width
spaces, direction marks, soft hyphens) are dropped.

A card number is then 13 to 19 digits, in groups split by any run of separators
(spaces of every kind, tabs, newlines, dots, slashes, dashes of every kind,
underscores), that starts like a real card (2 to 6: Mir, Visa, Mastercard, Amex,
UnionPay...) and passes the Luhn check. A whole date (24.11.2026, 2026-11-24)
is read as a date and never joins a card. Inside a link, digits glued to letters
count too. Phone numbers (`+...`) are left alone. A number the buyer calls an order
number is still masked, unless it is one of that buyer's own order numbers (`own`).
A security code (CVV/CVC) is masked when it follows a card number (with or without
the expiry date in between) or is named as one ("CVV 123").

Masking replaces the original characters one for one (a character outside the
Basic Multilingual Plane by two marks), so the text keeps its length in UTF-16 and
Telegram's entity offsets still fit; a card keeps its last four digits only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, replace

MASK = "•"
CARD_DIGITS = range(13, 20)
CARD_FIRST_DIGITS = "23456"
# Spaces of every kind (tabs and newlines too), dots, slashes, dashes of every kind,
# underscores: what people put between the groups of a card number.
SEPARATOR = r"[\s._/\\\-\u2010-\u2015\u2212\u2043\u2e3a\u2e3b\ufe58\ufe63]"
# Digit groups joined by separators; a letter, `+` or `-` glued to the front makes it
# an identifier or a phone number rather than a card.
DIGIT_RUN = re.compile(rf"(?<![\w+\-])[0-9]+(?:{SEPARATOR}+[0-9]+)*(?!\w)")
# Inside a link, `?card=4111...` or `/pay4111...` are still card numbers.
URL = re.compile(r"(?:https?://|tg://|www\.)\S+", re.I)
URL_DIGIT_RUN = re.compile(rf"[0-9]+(?:{SEPARATOR}+[0-9]+)*")
GROUP = re.compile(r"[0-9]+")
# Whole dates are read as dates, never as part of a card: 24.11.2026, 1/2/2026, 2026-11-24.
DATE = re.compile(
    r"(?<![0-9])(?:(?:0?[1-9]|[12][0-9]|3[01])([./-])(?:0?[1-9]|1[0-2])\1(?:19|20)[0-9]{2}"
    r"|(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]))(?![0-9])"
)
CVV_NAME = (
    r"(?:cvv2?|cvc2?|cvn|cid|свв2?|свс2?|security\s+code|код\s+безопасности|"
    r"секретный\s+код|код\s+cvv|код\s+cvc)"
)
NAMED_CVV = re.compile(CVV_NAME + r"\W{0,3}([0-9]{3,4})(?![0-9])", re.I)
# What may sit between a card number and its code: separators, an expiry date, a name.
CVV_AFTER_CARD = re.compile(
    r"[\s,;:/.\-]*(?:[0-9]{2}\s*/\s*(?:[0-9]{4}|[0-9]{2})[\s,;:.\-]*)?(?:" + CVV_NAME + r"\W{0,3})?"
    r"([0-9]{3,4})(?![0-9/])",
    re.I,
)


@dataclass(frozen=True)
class Scan:
    """What `scan` found: the masked text and how many card numbers and codes it hid."""

    text: str
    cards: int = 0
    codes: int = 0
    numbers: tuple[str, ...] = ()
    """The digits of each card number found (to check against the buyer's orders)."""

    @property
    def found(self) -> bool:
        return bool(self.cards or self.codes)


@dataclass(frozen=True)
class _Normalised:
    text: str
    origin: list[int]
    """For each character of `text`, the index of the original character it came from."""


def _normalise(text: str) -> _Normalised:
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cf":  # zero-width and direction marks
            continue
        # NFKC makes "№" the letters "No", which would glue the number to a word.
        for part in "#" if char == "№" else unicodedata.normalize("NFKC", char):
            digit = unicodedata.decimal(part, None)
            chars.append(part if digit is None else str(digit))
            origin.append(index)
    return _Normalised("".join(chars), origin)


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


def _runs(text: str) -> list[tuple[int, int]]:
    text = DATE.sub(lambda date: "#" * len(date[0]), text)
    spans = [run.span() for run in DIGIT_RUN.finditer(text)]
    for url in URL.finditer(text):
        for run in URL_DIGIT_RUN.finditer(url[0]):
            start, end = url.start() + run.start(), url.start() + run.end()
            if not any(a <= start and end <= b for a, b in spans):
                spans.append((start, end))
    return sorted(spans)


def _card_spans(text: str, own: Collection[str]) -> list[tuple[int, int]]:
    """(start, end) of each card number in the normalised text."""
    spans: list[tuple[int, int]] = []
    for run_start, run_end in _runs(text):
        groups = [
            (m.start() + run_start, m.end() + run_start)
            for m in GROUP.finditer(text[run_start:run_end])
        ]
        i = 0
        while i < len(groups):
            candidates = []
            for j in range(i, len(groups)):
                digits = "".join(text[a:b] for a, b in groups[i : j + 1])
                if len(digits) > max(CARD_DIGITS):
                    break
                if _looks_like_card(digits) and digits not in own:
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


def _leftovers(text: str, cards: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """At most four digits left in a run right after a card: the end of a longer card
    or a security code. They are masked entirely, so none of them is shown."""
    tails = []
    for run_start, run_end in _runs(text):
        ends = [end for start, end in cards if run_start <= start < run_end]
        if (
            ends
            and max(ends) < run_end
            and sum(c.isdigit() for c in text[max(ends) : run_end]) <= 4
        ):
            tails.append((max(ends), run_end))
    return tails


def _digits(text: str, start: int, end: int) -> str:
    return "".join(c for c in text[start:end] if c.isdigit())


def scan(text: str, own: Collection[str] = ()) -> Scan:
    """Mask card numbers (keeping the last four digits) and security codes in `text`.

    `own` holds the buyer's own order numbers (digits only): those are left alone.
    """
    norm = _normalise(text)
    cards = _card_spans(norm.text, own)
    codes: set[tuple[int, int]] = set()
    for _start, end in cards:
        after = CVV_AFTER_CARD.match(norm.text, end)
        if after is not None:
            codes.add(after.span(1))
    for named in NAMED_CVV.finditer(norm.text):
        if not any(a <= named.start(1) < b for a, b in cards):
            codes.add(named.span(1))
    codes.update(_leftovers(norm.text, cards))
    if not cards and not codes:
        return Scan(text)
    masked: set[int] = set()
    for start, end in cards:
        positions = [norm.origin[k] for k in range(start, end) if norm.text[k].isdigit()]
        masked.update(positions[:-4])
    for start, end in codes:
        masked.update(norm.origin[k] for k in range(start, end) if norm.text[k].isdigit())
    chars = [
        MASK * (2 if ord(char) > 0xFFFF else 1) if index in masked else char
        for index, char in enumerate(text)
    ]
    numbers = tuple(_digits(norm.text, start, end) for start, end in cards)
    return Scan("".join(chars), cards=len(cards), codes=len(codes), numbers=numbers)


def scan_split(before: str, after: str, own: Collection[str] = ()) -> tuple[str, Scan] | None:
    """A card number begun at the end of one message and finished in the next.

    Returns both texts masked (the second as a Scan) when a card number runs across
    the two, else None.
    """
    joined = before + "\n" + after
    norm = _normalise(joined)
    boundary = len(before)
    if not any(
        norm.origin[start] < boundary < norm.origin[end - 1]
        for start, end in _card_spans(norm.text, own)
    ):
        return None
    result = scan(joined, own)
    return result.text[:boundary], replace(result, text=result.text[boundary + 1 :])


def digits_only(text: str) -> str:
    """The digits of `text`, normalised to 0-9."""
    return "".join(c for c in _normalise(text).text if c.isdigit())
