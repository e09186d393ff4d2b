"""An in-process stand-in for the Telegram Bot API (the shell and tests use it)."""
