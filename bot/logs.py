"""Logging set-up, and the one redaction every printed line goes through.

Secrets are every `SecretStr` in Settings (the bot token, LINK_SECRET, and any
added later), the passwords inside DATABASE_URL and REDIS_URL, and anything
shaped like a Bot API token. The logging filter redacts each record (message and
traceback); `supportbot`'s top-level handler redacts the one line it prints for
an error nothing else caught.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, SecretStr

HIDDEN = "***"
# A Bot API token: the bot's numeric id, a colon, 35 characters of base64url.
TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
# Shorter values are too likely to occur by chance to be worth redacting.
MIN_SECRET_CHARS = 6


class Redactor:
    """Replaces every known secret, and every token-shaped string, with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            for value in (secret, *secret.split(":")[1:]):  # a token's secret half alone too
                if len(value) >= MIN_SECRET_CHARS:
                    variants |= {value, quote(value, safe=""), quote(value)}
        # Longest first, so a secret is never left half-replaced by a shorter one.
        self.secrets = sorted(variants, key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: BaseModel) -> Redactor:
        """Every SecretStr field of the settings, and passwords in its URL fields."""
        secrets: list[str] = []
        for name in type(settings).model_fields:
            value = getattr(settings, name)
            if isinstance(value, SecretStr):
                secrets.append(value.get_secret_value())
            elif isinstance(value, str) and "://" in value:
                secrets.extend(_url_password(value))
        return cls(secrets)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        return TOKEN_SHAPE.sub(HIDDEN, text)


def _url_password(url: str) -> list[str]:
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password] if password else []


class RedactSecrets(logging.Filter):
    """Redacts each record's message and formatted traceback before any handler writes it."""

    def __init__(self, redactor: Redactor | Iterable[str]) -> None:
        super().__init__()
        self.redactor = redactor if isinstance(redactor, Redactor) else Redactor(redactor)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redactor.redact(record.getMessage())
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        exc_text = self.redactor.redact(record.exc_text or "")
        record.msg, record.args, record.exc_text = message, None, exc_text or None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (LOG_FORMAT=json), for log collectors.

    Reads the record after `RedactSecrets` has rewritten it, so secrets stay out here too.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, redactor: Redactor, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
