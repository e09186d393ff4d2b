"""Scoring the recogniser on labelled phrases (tests/data/intents), for the benchmark
and the test that holds it to its targets."""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bot.intents.recogniser import Recogniser

NONE = "none"
"""The label of a phrase the bot should not understand (and the "prediction" then)."""


@dataclass(frozen=True)
class Phrase:
    text: str
    label: str
    lang: str

    @property
    def held_aside(self) -> bool:
        """One phrase in three, fixed by its text: never looked at while tuning."""
        return zlib.crc32(self.text.encode()) % 3 == 0


def read_phrases(path: Path) -> list[Phrase]:
    """`text<TAB>intent<TAB>lang` lines (or `text<TAB>lang` for off-topic files)."""
    phrases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) == 2:
            phrases.append(Phrase(parts[0], NONE, parts[1]))
        else:
            phrases.append(Phrase(parts[0], parts[1], parts[2]))
    return phrases


@dataclass
class Score:
    """Top-1 results of one set of phrases."""

    total: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    confident_right: Counter[str] = field(default_factory=Counter)
    confusion: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    misses: list[tuple[Phrase, str]] = field(default_factory=list)

    def accuracy(self, label: str | None = None) -> float:
        total = self.total[label] if label else sum(self.total.values())
        right = self.right[label] if label else sum(self.right.values())
        return right / total if total else 1.0

    def confident(self) -> float:
        total = sum(self.total.values())
        return sum(self.confident_right.values()) / total if total else 1.0


def score(recogniser: Recogniser, phrases: list[Phrase]) -> Score:
    """The best guess against the label: `none` when nothing at all was recognised."""
    result = Score()
    for phrase in phrases:
        understood = recogniser.recognise(phrase.text)
        predicted = understood.best.value if understood.best else NONE
        result.total[phrase.label] += 1
        result.confusion[phrase.label][predicted] += 1
        if predicted == phrase.label:
            result.right[phrase.label] += 1
            if understood.intent is not None:
                result.confident_right[phrase.label] += 1
        else:
            result.misses.append((phrase, predicted))
    return result


def rejected(recogniser: Recogniser, phrases: list[Phrase]) -> tuple[float, float]:
    """Off-topic phrases for which no flow is offered; and those with no guess at all."""
    offered = guessed = 0
    for phrase in phrases:
        understood = recogniser.recognise(phrase.text)
        offered += understood.intent is not None
        guessed += understood.best is not None
    total = len(phrases) or 1
    return 1 - offered / total, 1 - guessed / total
