"""Canned replies agents send with `/macro NAME`. The buyer always reads one in the
buyer's language, whatever the agent's; both catalogs carry every macro."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.i18n import N_

MACROS: dict[str, str] = {
    "hello": N_(
        "Hello! I'm looking into your request now and will write here as soon as I know more."
    ),
    "photos": N_(
        "Could you please send photos of the item and its packaging, with the item in the "
        "frame together with the box? That lets us take the claim further."
    ),
    "seller": N_(
        "I have contacted the seller about your order and am waiting for their answer. "
        "I will let you know here as soon as they reply."
    ),
    "refund": N_(
        "Your refund has been issued. The money reaches your card or wallet within {days} "
        "days at the latest, usually much sooner."
    ),
    "thanks": N_("Thank you for your patience! If anything else comes up, just write here."),
}


def macro_text(name: str, settings: Settings) -> str:
    """The macro in the current locale, with the operator's numbers filled in."""
    return _(MACROS[name]).format(days=settings.refund_days)
