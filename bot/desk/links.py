"""Hidden links shown: a buyer's words that link somewhere else reach agents with the
address written out next to them, and a warning when the words show another host.

Telegram counts entity offsets in UTF-16 code units, so the text is cut and the
offsets moved in those units.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiogram.types import MessageEntity

# Something in the words that reads as a web address: "example.com", "https://pay.example".
SHOWN_HOST = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://)?((?:[\w-]+\.)+[a-z\u0430-\u044f\u0451]{2,})(?![\w-])", re.I
)


@dataclass(frozen=True)
class Misleading:
    """A link whose words show one host and whose address leads to another."""

    words: str
    shown: str
    host: str


def _units(text: str) -> bytes:
    return text.encode("utf-16-le")


def _length(text: str) -> int:
    return len(_units(text)) // 2


def _host(address: str) -> str:
    try:
        host = urlsplit(address if "://" in address else f"//{address}").hostname or ""
    except ValueError:
        return ""
    with suppress(UnicodeError):  # an address IDNA cannot spell stays as written
        host = host.encode("idna").decode("ascii")
    return host.lower().removeprefix("www.")


def misleading(words: str, url: str) -> Misleading | None:
    """The words show a host (a web address) and the link leads to another one."""
    host = _host(url)
    for shown in SHOWN_HOST.finditer(words):
        seen = _host(shown[1])
        if seen and host != seen and not host.endswith("." + seen):
            return Misleading(words.strip(), shown[1].lower(), host or url)
    return None


def reveal(
    text: str,
    entities: Sequence[MessageEntity] | None,
    warn: Callable[[Misleading], str],
) -> tuple[str, list[MessageEntity] | None]:
    """The text with each hidden link's address written after its words, its other
    entities moved to fit, and one warning line per misleading link at the end."""
    if not entities:
        return text, list(entities) if entities is not None else None
    units = _units(text)
    inserts: list[tuple[int, str]] = []
    warnings: list[str] = []
    for entity in entities:
        if entity.type != "text_link" or not entity.url:
            continue
        end = entity.offset + entity.length
        words = units[2 * entity.offset : 2 * end].decode("utf-16-le", errors="replace")
        if words.strip() == entity.url.strip():
            continue
        inserts.append((end, f" ({entity.url})"))
        found = misleading(words, entity.url)
        if found is not None:
            warnings.append(warn(found))
    if not inserts:
        return text, list(entities)
    inserts.sort(key=lambda insert: insert[0])
    pieces, position = [], 0
    for at, added in inserts:
        pieces.append(units[2 * position : 2 * at].decode("utf-16-le", errors="replace"))
        pieces.append(added)
        position = at
    pieces.append(units[2 * position :].decode("utf-16-le", errors="replace"))
    moved = []
    for entity in entities:
        before = sum(_length(added) for at, added in inserts if at <= entity.offset)
        inside = sum(
            _length(added)
            for at, added in inserts
            if entity.offset < at < entity.offset + entity.length
        )
        moved.append(
            entity.model_copy(
                update={"offset": entity.offset + before, "length": entity.length + inside}
            )
        )
    revealed = "".join(pieces)
    if warnings:
        revealed += "\n\n" + "\n".join(warnings)
    return revealed, moved
