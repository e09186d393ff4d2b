"""Which request a typed message names, scored from per-language vocabulary files.

Each intent lists phrases in `data/<lang>.toml`: `sure` ones are enough on their own,
`hint` ones only together with another word. A phrase matches when all its words
appear in the message in any form: words are compared by their stems (snowball), by
known prefixes, and with one or two typos (rapidfuzz); Latin-letter Russian is read
in Cyrillic. Everything is indexed once, when the recogniser is built.
"""

from __future__ import annotations

import functools
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any

import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.intents import text as tx


class Intent(StrEnum):
    cancel = "cancel"
    refund = "refund"
    defect = "defect"
    payment = "payment"
    seller = "seller"
    where_order = "where_order"
    person = "person"
    my_orders = "my_orders"
    my_requests = "my_requests"
    language = "language"
    greeting = "greeting"
    thanks = "thanks"


SOCIAL = frozenset({Intent.greeting, Intent.thanks})
"""Small talk: it never wins over a request named in the same message."""

STRONG = 3.0
"""A phrase from a `strong` list: it wins over `sure` phrases of other intents."""
SURE = 2.0
"""A phrase from a `sure` list; an intent scoring this much is confident."""
HINT = 1.0
"""A phrase from a `hint` list; an intent scoring less is not understood at all."""
MARGIN = 0.75
"""How far ahead of the runner-up a confident intent must be."""

_CACHE_LIMIT = 20_000
_MIN_PREFIX = 4
# Shortest word read with a typo, per alphabet: short Russian words are too often
# another real word one letter away ("слона" is not "слома").
_MIN_FUZZY = {"cyr": 6, "lat": 4}
_MIN_FUZZY_STEM = 6
_STEMMERS = {"cyr": "russian", "lat": "english"}


@dataclass(frozen=True)
class Guess:
    intent: Intent
    score: float


@dataclass(frozen=True)
class Understanding:
    """What a message seems to ask for: guesses best first, and the numbers in it."""

    guesses: tuple[Guess, ...] = ()
    numbers: tuple[str, ...] = ()

    @property
    def best(self) -> Intent | None:
        return self.guesses[0].intent if self.guesses else None

    @property
    def intent(self) -> Intent | None:
        """The intent when the message names it clearly; None when unsure or off-topic."""
        if not self.guesses or self.guesses[0].score < SURE:
            return None
        top = self.guesses[0]
        # Only a rival named by a sure phrase of its own makes the message ambiguous.
        rivals = [g for g in self.guesses[1:] if g.intent not in SOCIAL and g.score >= SURE]
        if rivals and top.score - rivals[0].score < MARGIN:
            return None
        return top.intent


@dataclass
class _Phrase:
    intent: Intent
    weight: float
    keys: frozenset[str]


@dataclass
class _Script:
    """Lookup tables for one alphabet."""

    stemmer: Any
    min_fuzzy: int
    words: dict[str, str] = field(default_factory=dict)
    stems: dict[str, str] = field(default_factory=dict)
    by_length: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))
    surface: list[str] = field(default_factory=list)

    def stem(self, word: str) -> str:
        return str(self.stemmer.stemWord(word))

    def add(self, word: str, key: str) -> None:
        self.words.setdefault(word, key)
        stem = self.stem(word)
        if stem not in self.stems:
            self.stems[stem] = key
            if len(stem) >= _MIN_FUZZY_STEM:
                self.by_length[len(stem)].append(stem)
        if len(word) >= self.min_fuzzy:
            self.surface.append(word)

    def exact(self, word: str) -> str | None:
        """The word as listed, its stem, or the longest listed stem it starts with."""
        if word in self.words:
            return self.words[word]
        stem = self.stem(word)
        if stem in self.stems:
            return self.stems[stem]
        for length in range(len(word) - 1, _MIN_PREFIX - 1, -1):
            key = self.stems.get(word[:length])
            if key is not None:
                return key
        return None

    def fuzzy(self, word: str) -> str | None:
        """The listed word or stem this one is a typo of (1 letter; 2 in long words)."""
        if len(word) < self.min_fuzzy:
            return None
        limit = 1 if len(word) < 8 else 2
        found = process.extractOne(word, self.surface, scorer=OSA.distance, score_cutoff=limit)
        if found is not None:
            return self.words[found[0]]
        for length in sorted(self.by_length, reverse=True):
            if length > len(word) + 1:
                continue
            found = process.extractOne(
                word[:length], self.by_length[length], scorer=OSA.distance, score_cutoff=1
            )
            if found is not None:
                return self.stems[found[0]]
        return None


class Recogniser:
    """Built once at start-up from the vocabulary files; `recognise` is cheap."""

    def __init__(self, vocabularies: Iterable[Mapping[str, Any]]) -> None:
        self._scripts = {
            name: _Script(snowballstemmer.stemmer(lang), _MIN_FUZZY[name])
            for name, lang in _STEMMERS.items()
        }
        self._ignored: set[str] = set()
        self._phrases: list[_Phrase] = []
        self._by_key: dict[str, list[int]] = defaultdict(list)
        self._exact: set[str] = set()
        self._seen: set[tuple[Intent, frozenset[str]]] = set()
        self._cache: dict[str, tuple[str, ...]] = {}
        for vocabulary in vocabularies:
            self._load(vocabulary)

    @classmethod
    def from_package(cls) -> Recogniser:
        """The vocabulary shipped in `bot/intents/data/*.toml`, read and indexed now."""
        folder = resources.files("bot.intents") / "data"
        files = sorted(
            (item for item in folder.iterdir() if item.name.endswith(".toml")),
            key=lambda item: item.name,
        )
        return cls(tomllib.loads(item.read_text(encoding="utf-8")) for item in files)

    def _script(self, word: str) -> _Script:
        return self._scripts["cyr" if tx.is_cyrillic(word) else "lat"]

    def _key(self, word: str) -> str:
        """The key a vocabulary word is indexed under: its stem, in its alphabet."""
        return self._script(word).stem(word) if word.isalpha() else word

    def _load(self, vocabulary: Mapping[str, Any]) -> None:
        self._ignored.update(tx.normalise(word) for word in vocabulary.get("ignore", []))
        for head, others in vocabulary.get("synonyms", {}).items():
            head = tx.normalise(head)
            key = self._key(head)
            for word in [head, *others]:
                word = tx.normalise(word)
                if len(tx.words(word)) != 1:
                    raise ValueError(f"synonyms of {head!r}: {word!r} is not one word")
                self._script(word).add(word, key)
        for name, lists in vocabulary.get("intents", {}).items():
            intent = Intent(name)
            levels = ((STRONG, "strong"), (SURE, "sure"), (HINT, "hint"))
            for weight, level in levels:
                for entry in lists.get(level, []):
                    keys = []
                    for word in tx.words(tx.normalise(entry)):
                        if word in self._ignored:
                            continue
                        if word.startswith("="):
                            # This very form only ("=orders": not "order").
                            self._exact.add(word[1:])
                            keys.append(word)
                            continue
                        script = self._script(word)
                        key = script.words.get(word) or self._key(word)
                        script.add(word, key)
                        keys.append(key)
                    if keys:
                        self._add_phrase(_Phrase(intent, weight, frozenset(keys)))

    def _add_phrase(self, phrase: _Phrase) -> None:
        seen = (phrase.intent, phrase.keys)
        if seen in self._seen:  # two forms of one phrase ("помоги", "помогите") count once
            return
        self._seen.add(seen)
        index = len(self._phrases)
        self._phrases.append(phrase)
        for key in phrase.keys:
            self._by_key[key].append(index)

    def _resolve(self, word: str) -> tuple[str, ...]:
        """The keys a message word stands for: its vocabulary word, and its exact form."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        keys: list[str] = []
        if (key := self._lookup(word)) is not None:
            keys.append(key)
        for form in (word, tx.to_cyrillic(word) if tx.is_latin(word) else ""):
            if form in self._exact:
                keys.append("=" + form)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = found = tuple(keys)
        return found

    def _lookup(self, word: str) -> str | None:
        cyr, lat = self._scripts["cyr"], self._scripts["lat"]
        if not word.isalpha():
            return lat.words.get(word) or cyr.words.get(word)
        if tx.is_cyrillic(word):
            return cyr.exact(word) or cyr.fuzzy(word)
        if not tx.is_latin(word):
            return None
        # English first; then the same letters read as Russian; typos last.
        if (key := lat.exact(word)) is not None:
            return key
        russian = tx.to_cyrillic(word)
        if russian in self._ignored:
            return None
        return cyr.exact(russian) or lat.fuzzy(word) or cyr.fuzzy(russian)

    def recognise(self, message: str) -> Understanding:
        """Score every intent the message's words name; guesses best first."""
        numbers = tuple(tx.order_numbers(message))
        text = tx.normalise(message)
        keys: set[str] = set()
        for word in tx.words(text):
            if word in self._ignored:
                continue
            keys.update(self._resolve(word))
        matched: dict[Intent, list[_Phrase]] = defaultdict(list)
        seen: set[int] = set()
        for key in keys:
            for index in self._by_key.get(key, ()):
                if index in seen:
                    continue
                seen.add(index)
                phrase = self._phrases[index]
                if phrase.keys <= keys:
                    matched[phrase.intent].append(phrase)
        scores = {intent: _score(phrases) for intent, phrases in matched.items()}
        ranked = sorted(
            (Guess(intent, score) for intent, score in scores.items() if score >= HINT),
            key=lambda g: (g.intent not in SOCIAL, g.score),
            reverse=True,
        )
        return Understanding(guesses=tuple(ranked), numbers=numbers)


def _score(phrases: list[_Phrase]) -> float:
    """The best phrase counts in full; others add half, unless the best one covers them."""
    phrases = sorted(phrases, key=lambda p: (p.weight, len(p.keys)), reverse=True)
    best = phrases[0]
    extra = sum(
        p.weight / 2 for p in phrases[1:] if not any(p.keys < q.keys for q in phrases if q is not p)
    )
    return best.weight + len(best.keys) * 0.1 + extra


@functools.cache
def shipped() -> Recogniser:
    """The shipped vocabulary, indexed on first use and then shared by every dispatcher
    this process builds (tests build many). Nothing here is touched at import time."""
    return Recogniser.from_package()
