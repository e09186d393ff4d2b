"""Translations: compiling the catalogs, choosing a person's locale, extracting strings."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from aiogram.types import Chat, TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from aiogram.utils.i18n import gettext as _gettext
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from bot.config import LOCALES, Locale
from locales import LOCALES_DIR

DOMAIN = "messages"
SOURCE_LOCALE = "en"
SOURCE_DIRS = ("bot", "handlers", "storage")
KEYWORDS: dict[str, Any] = {"_": None, "__": None, "ngettext": (1, 2), "N_": None}


def N_(message: str) -> str:
    """Marks a string for extraction where it is defined; translate it where it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    """Plural form for the current locale (1 заказ, 2 заказа, 5 заказов)."""
    return _gettext(singular, plural, n)


def po_path(locale: str, root: Path = LOCALES_DIR) -> Path:
    return root / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_catalogs(root: Path = LOCALES_DIR) -> None:
    """Write each `.mo` that is missing or older than its `.po` (aiogram loads only `.mo`)."""
    for locale in LOCALES:
        po = po_path(locale, root)
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=locale)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        tmp = mo.with_suffix(".mo.tmp")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(mo)


def create_i18n(default_locale: str, root: Path = LOCALES_DIR) -> I18n:
    compile_catalogs(root)
    return I18n(path=root, default_locale=default_locale, domain=DOMAIN)


def pick_locale(saved: str | None, language_code: str | None, default: str) -> str:
    """Saved choice, else Telegram's language when we speak it, else the default."""
    if saved in LOCALES:
        return saved
    code = (language_code or "").split("-")[0].lower()
    return code if code in LOCALES else default


class LocaleMiddleware(I18nMiddleware):
    """Sets the locale of every event from the person's saved choice or Telegram language."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        chat: Chat | None = data.get("event_chat")
        if chat is not None and chat.type != "private":
            # Groups are the agents' side: they read AGENT_LOCALE whatever their own language.
            return str(data["settings"].agent_locale)
        saved: str | None = data.get("saved_locale")
        tg_user: User | None = data.get("event_from_user")
        code = tg_user.language_code if tg_user else None
        return pick_locale(saved, code, self.i18n.default_locale)


def extract_catalog(project_root: Path) -> Catalog:
    """Every translatable string in the source, as a fresh template catalog."""
    catalog = Catalog(project="supportbot", domain=DOMAIN, charset="utf-8")
    catalog.creation_date = datetime(2026, 1, 1)  # noqa: DTZ001 - a fixed date keeps the .pot diff-free
    for folder in SOURCE_DIRS:
        for filename, lineno, message, comments, context in extract_from_dir(
            project_root / folder, keywords=KEYWORDS, comment_tags=("NOTE:",)
        ):
            catalog.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def render_template(catalog: Catalog) -> bytes:
    buffer = BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
    return buffer.getvalue()


def _translated(message: Message) -> bool:
    """Every form of the entry has text (a plural entry has one per plural form)."""
    forms = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(forms)


def catalog_files(
    project_root: Path, locales: Iterable[Locale] = LOCALES
) -> tuple[dict[Path, bytes], list[str]]:
    """What `supportbot i18n` writes: messages.pot extracted from the code and each
    language's `.po` merged with it, by path; and the message ids that still need a
    translation somewhere.

    References name files without line numbers, so the catalogs change only when a
    text does, not whenever code moves.
    """
    template = extract_catalog(project_root)
    root = project_root / "locales"
    files = {root / f"{DOMAIN}.pot": render_template(template)}
    missing: list[str] = []
    for locale in locales:
        path = po_path(locale, root)
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=locale)
        else:
            catalog = Catalog(locale=locale, domain=DOMAIN, charset="utf-8")
        # update() adopts the template's message objects: each language gets its own copy.
        catalog.update(copy.deepcopy(template), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if locale == SOURCE_LOCALE:
            # The source language starts as its own translation; editors may reword it.
            for message in catalog:
                if message.id and not _translated(message):
                    message.string = message.id

        buffer = BytesIO()
        write_po(buffer, catalog, width=100, sort_output=True, include_lineno=False)
        files[path] = buffer.getvalue()
        missing += [f"{locale}: {m.id!r}" for m in catalog if m.id and not _translated(m)]
    return files, missing


def update_catalogs(project_root: Path, locales: Iterable[Locale] = LOCALES) -> list[str]:
    """Refresh messages.pot from the code and merge it into each language's `.po`;
    a file whose content is already right is left alone.

    Returns the message ids that still need a translation somewhere.
    """
    files, missing = catalog_files(project_root, locales)
    for path, content in files.items():
        if not path.exists() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    compile_catalogs(project_root / "locales")
    return missing
