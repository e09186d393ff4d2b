"""Turning a typed message into words to look up: case, emoji, shouting, Latin-letter
Russian, and the order numbers in it."""

from __future__ import annotations

import re

# Runs of three or more of one letter ("помогитееее", "pleeease") are stretched words.
_STRETCHED = re.compile(r"([^\W\d_])\1{2,}")
# A letter word, or one symbol beyond ASCII punctuation (an emoji the vocabulary may name).
# "=word" in the vocabulary files asks for that exact form.
_TOKEN = re.compile(r"=?[^\W\d_]+|[^\w\s\x00-\x7f]")
_CYRILLIC = re.compile(r"[а-я]")

# Order numbers: "RX-1002", "DEMO-50-02", "100234", "#4471", "№ 4471", "order 4471".
# A bare number needs four digits (so "2 pcs" or "size 42" are not orders); after a
# marker (#, №, no., order, заказ) three are enough.
_MARKED = re.compile(
    r"(?:#|№|\bno\.|\border|\bзаказ[а-я]*)\s*(?:#|№|no\.)?\s*([a-z]{0,8}-?\d[a-z0-9_-]{2,39})",
    re.IGNORECASE,
)
_BARE = re.compile(r"(?<![\w+])([a-z]{0,8}-?\d[a-z0-9_-]{3,39})(?![\w])", re.IGNORECASE)

# Latin letters to Cyrillic, the way Russians type without a Russian keyboard.
# Longer letter groups first.
_TRANSLIT = [
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ch", "ч"), ("sh", "ш"),
    ("ts", "ц"), ("yu", "ю"), ("ya", "я"), ("yo", "е"), ("ye", "е"), ("ju", "ю"),
    ("ja", "я"), ("jo", "е"), ("iy", "ий"), ("yi", "ый"), ("'", "ь"),
    ("a", "а"), ("b", "б"), ("c", "к"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"),
    ("h", "х"), ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"),
    ("o", "о"), ("p", "п"), ("q", "к"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"),
    ("v", "в"), ("w", "в"), ("x", "кс"), ("y", "ы"), ("z", "з"),
]  # fmt: skip
_VOWELS = "aeiouy"


def normalise(text: str) -> str:
    """Lower case, ё as е, stretched letters squeezed."""
    # U+FE0F only asks for the colour form of an emoji ("❤️" and "❤" are one).
    text = text.lower().replace("ё", "е").replace("\ufe0f", "")
    return _STRETCHED.sub(r"\1", text)


def order_numbers(text: str) -> list[str]:
    """Order numbers in the message, as typed, in order of appearance, without repeats."""
    found: list[tuple[int, str]] = []
    for pattern in (_MARKED, _BARE):
        for match in pattern.finditer(text):
            number = match[1].strip("-_")
            if sum(ch.isdigit() for ch in number) >= (3 if pattern is _MARKED else 4):
                found.append((match.start(1), number))
    seen: dict[str, None] = {}
    for _start, number in sorted(found):
        seen.setdefault(number, None)
    return list(seen)


def words(text: str) -> list[str]:
    """The words (and single symbols) of a normalised message, numbers left out."""
    return _TOKEN.findall(text)


def is_cyrillic(word: str) -> bool:
    return bool(_CYRILLIC.search(word))


def is_latin(word: str) -> bool:
    return word.isascii() and word.isalpha()


def to_cyrillic(word: str) -> str:
    """Latin-letter Russian ("otmenit", "gde moi zakaz") in Cyrillic letters."""
    out: list[str] = []
    i = 0
    while i < len(word):
        # "y" after a vowel is "й" ("moy", "kakoy"); elsewhere the table decides.
        if (
            word[i] == "y"
            and i > 0
            and word[i - 1] in _VOWELS
            and word[i : i + 2]
            not in (
                "ya",
                "yu",
                "yo",
                "ye",
            )
        ):
            out.append("й")
            i += 1
            continue
        for latin, cyrillic in _TRANSLIT:
            if word.startswith(latin, i):
                out.append(cyrillic)
                i += len(latin)
                break
        else:
            out.append(word[i])
            i += 1
    return "".join(out)
