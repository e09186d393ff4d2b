"""Free text understood: which request a buyer's typed message names, and the order
numbers in it.

Plain Python and data files (`data/<lang>.toml`), no aiogram: the buyer's router asks
`Recogniser.recognise(text)` and decides what to offer.
"""

from bot.intents.recogniser import SOCIAL, Guess, Intent, Recogniser, Understanding, shipped

__all__ = ["SOCIAL", "Guess", "Intent", "Recogniser", "Understanding", "shipped"]
