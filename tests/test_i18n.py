"""Both catalogs are complete, consistent with the code, and really translated."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.config import LOCALES
from bot.domain import formatting
from bot.emulator.sandbox import Sandbox
from bot.i18n import KEYWORDS, catalog_files, extract_catalog, po_path

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([^)]*\)[sd]|%[sd]")
# «получил(а)», «Нашёл(нашла)», «получил/а»: a word with a gendered ending tacked on.
GENDER_SLASH = re.compile(r"[а-яё]\([а-яё]{1,6}\)|[а-яё]/(?:а|ла|на|ась|лась)\b", re.IGNORECASE)
# «дн.», «мес.», «Стр.»: units and words are written out in full.
ABBREVIATION = re.compile(r"\b(?:дн|мес|нед|мин|сек|стр|г)\.(?!\w)", re.IGNORECASE)


def _catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as source:
        return read_po(source, locale=locale)


def _forms(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _ids(message: Message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_empty_or_fuzzy_entries(locale: str) -> None:
    catalog = _catalog(locale)
    empty = [_ids(m)[0] for m in catalog if m.id and not all(_forms(m))]
    fuzzy = [_ids(m)[0] for m in catalog if m.id and m.fuzzy]
    assert empty == []
    assert fuzzy == []


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match_the_source(locale: str) -> None:
    wrong = []
    for message in _catalog(locale):
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(_ids(message)[-1]))
        for form in _forms(message):
            if set(PLACEHOLDER.findall(form)) - wanted or (
                len(_forms(message)) == 1 and set(PLACEHOLDER.findall(form)) != wanted
            ):
                wrong.append((_ids(message)[0], form))
    assert wrong == []


def test_committed_catalogs_are_what_supportbot_i18n_writes() -> None:
    """`supportbot i18n` on a clean tree changes nothing: messages.pot holds every text
    of the code, and each `.po` is already merged with it."""
    files, _missing = catalog_files(ROOT)
    stale = [
        str(path.relative_to(ROOT)) for path, text in files.items() if path.read_bytes() != text
    ]
    assert stale == [], "run `supportbot i18n` and commit the catalogs"


def _gettext_calls(path: Path) -> Iterator[tuple[int, str, list[ast.expr]]]:
    """(line, function, the arguments that are texts) of each gettext call in a file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in KEYWORDS
        ):
            count = len(KEYWORDS[node.func.id] or (1,))  # ngettext has two texts
            yield node.lineno, node.func.id, node.args[:count]


def test_every_text_given_to_gettext_reaches_the_catalog() -> None:
    """A text is a plain string literal the extractor sees (not an f-string, not built
    from pieces, not a call inside an f-string's braces), or a name for a text marked
    with N_ where it is defined."""
    extracted = {
        (filename, _ids(message)[0])
        for message in extract_catalog(ROOT)
        if message.id
        for filename, _line in message.locations
    }
    wrong = []
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            for line, function, texts in _gettext_calls(path):
                literal = [t.value for t in texts if isinstance(t, ast.Constant)]
                if all(isinstance(t, ast.Name | ast.Subscript | ast.Attribute) for t in texts):
                    continue  # a text marked with N_ where it is defined
                if (
                    len(literal) == len(texts) > 0
                    and all(isinstance(text, str) for text in literal)
                    and (where, literal[0]) in extracted
                ):
                    continue
                wrong.append(f"{where}:{line} {function}(...)")
    assert wrong == []


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogs_cover_the_template(locale: str) -> None:
    template = {_ids(m) for m in extract_catalog(ROOT) if m.id}
    assert template - {_ids(m) for m in _catalog(locale) if m.id} == set()


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Я его не получил(а)", True),
        ("Нашёл(нашла) дешевле", True),
        ("Ошибся(лась) с размером", True),
        ("получил/а", True),
        ("через 14 дн., обычно быстрее", True),
        ("16 декабря 2026 г.", True),
        ("Стр. 2 из 3", True),
        ("Ошибка в заказе", False),
        ("через 14 дней", False),
        ("изображения (JPEG, PNG и другие)", False),
        ("Оценка {stars} ({score}/5)", False),
        ("срок действия (месяц/год)", False),
    ],
)
def test_russian_style_checks_see_slashes_and_abbreviations(text: str, flagged: bool) -> None:
    assert bool(GENDER_SLASH.search(text) or ABBREVIATION.search(text)) is flagged


def test_russian_has_no_gender_slashes_or_abbreviations() -> None:
    """Buyers and agents are men and women: no «получил(а)»; and no «14 дн.» either."""
    wrong = [
        form
        for message in _catalog("ru")
        if message.id
        for form in _forms(message)
        if GENDER_SLASH.search(form) or ABBREVIATION.search(form)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("locale", "expected"), [("ru", "16 декабря 2026"), ("en", "16 December 2026")]
)
def test_dates_read_naturally(locale: str, expected: str) -> None:
    """A Russian date has no trailing « г.»: «16 декабря 2026»."""
    moment = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)
    assert formatting.day(moment, ZoneInfo("Europe/Moscow"), locale) == expected
    assert formatting.calendar_day(moment.date(), locale) == expected


def test_russian_never_equals_english() -> None:
    english = {_ids(m): _forms(m) for m in _catalog("en") if m.id}
    same = [_ids(m)[0] for m in _catalog("ru") if m.id and english.get(_ids(m)) == _forms(m)]
    assert same == []


async def test_screens_differ_between_languages(sandbox: Sandbox) -> None:
    """Walk the first screens as a Russian and an English buyer: no text is the same."""
    script = ["/start", "/help", "/language", "/cancel", "hello", "/start"]
    seen: dict[str, list[str]] = {}
    for user_id, code in ((70, "en"), (71, "ru")):
        person = sandbox.person(user_id, "Sam", language_code=code)
        texts = []
        for line in script:
            texts += [m["text"] for m in await person.send(line)]
        for label in ("Talk to a person", "Связаться с сотрудником"):
            if any(label in text for text, _ in person.buttons()):
                texts += [m["text"] for m in await person.press(label)]
        seen[code] = texts
    assert len(seen["en"]) == len(seen["ru"]) > 0
    assert [en for en, ru in zip(seen["en"], seen["ru"], strict=True) if en == ru] == []
