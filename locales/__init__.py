"""gettext catalogs: messages.pot and one folder per language."""

from pathlib import Path

LOCALES_DIR = Path(__file__).parent
