"""Canned replies agents send with `/macro NAME`. The buyer always reads one in the
buyer's language, whatever the agent's; both catalogs carry every macro."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.i18n import ngettext


def _hello(settings: Settings) -> str:
    return _("Hello! I'm looking into your request now and will write here as soon as I know more.")


def _photos(settings: Settings) -> str:
    return _(
        "Could you please send photos of the item and its packaging, with the item in the "
        "frame together with the box? That lets us take the claim further."
    )


def _seller(settings: Settings) -> str:
    return _(
        "I have contacted the seller about your order and am waiting for their answer. "
        "I will let you know here as soon as they reply."
    )


def _refund(settings: Settings) -> str:
    days = settings.refund_days
    return ngettext(
        "Your refund has been issued. The money reaches your card or wallet within {days} "
        "day at the latest, usually much sooner.",
        "Your refund has been issued. The money reaches your card or wallet within {days} "
        "days at the latest, usually much sooner.",
        days,
    ).format(days=days)


def _thanks(settings: Settings) -> str:
    return _("Thank you for your patience! If anything else comes up, just write here.")


# Each macro is written when it is sent, so its numbers take the right plural form.
MACROS: dict[str, Callable[[Settings], str]] = {
    "hello": _hello,
    "photos": _photos,
    "seller": _seller,
    "refund": _refund,
    "thanks": _thanks,
}


def macro_text(name: str, settings: Settings) -> str:
    """The macro in the current locale, with the operator's numbers filled in."""
    return MACROS[name](settings)
