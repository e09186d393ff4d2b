"""Configuration: one Settings class, read once from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Locale = Literal["en", "ru"]
LOCALES: tuple[Locale, ...] = ("en", "ru")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_LINK_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Everything an operator can set. Field names map to upper-case variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr | None = None
    agent_chat_id: int | None = None
    agent_chats: str = ""
    agent_locale: Locale = "en"
    agent_signature: Literal["first_name", "none"] = "first_name"
    database_url: str = "sqlite+aiosqlite:///supportbot.sqlite3"
    redis_url: str | None = None
    # Several processes (REDIS_URL): a process killed while it holds a chat, a delivery
    # lane or a scheduler round lets another take it over this many seconds later.
    lock_lease_seconds: float = Field(default=10, gt=0)
    telegram_api_url: str = "https://api.telegram.org"
    default_locale: Locale = "en"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    metrics_listen: str | None = None
    health_max_inbox_lag_seconds: float = Field(default=60, gt=0)
    timezone: str = "Europe/Moscow"
    link_secret: SecretStr | None = None
    link_ttl_hours: int = Field(default=72, gt=0)

    cancel_window_hours: float = Field(default=8, gt=0)
    refund_days: int = Field(default=14, gt=0)
    response_hours: int = Field(default=72, gt=0)
    cancel_review_hours: int = Field(default=24, gt=0)
    reply_wait_days: int = Field(default=7, gt=0)
    reopen_days: int = Field(default=7, gt=0)
    dialog_timeout_hours: float = Field(default=24, gt=0)
    remind_before_hours: float = Field(default=4, ge=0)
    scheduler_interval_seconds: float = Field(default=60, gt=0)
    data_retention_days: int | None = Field(default=None, gt=0)
    """Erase buyers' personal data from cases closed this many days ago; None keeps it."""

    shutdown_grace_seconds: float = Field(default=10, ge=0)
    polling_timeout_seconds: int = Field(default=25, ge=0, le=50)
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1:8080"

    # Delivery: transient refusals (5xx, 429, network) are retried until this many hours
    # after the message was written; only then, or on a permanent refusal, it fails.
    delivery_give_up_hours: float = Field(default=24, gt=0)
    # Telegram's limits, kept by the one sender (shared through Redis when REDIS_URL is set).
    bot_messages_per_second: float = Field(default=30, gt=0)
    private_messages_per_second: float = Field(default=1, gt=0)
    group_messages_per_minute: float = Field(default=20, gt=0)
    # Agents are told in the General topic when the queue to their group is this long.
    queue_note_minutes: float = Field(default=3, gt=0)
    # A buyer sending more than FLOOD_LIMIT messages in FLOOD_WINDOW_SECONDS is asked to
    # slow down once; their messages for an open case are gathered, other chatter dropped.
    flood_limit: int = Field(default=20, gt=0)
    flood_window_seconds: float = Field(default=10, gt=0)

    work_days: str = "mon,tue,wed,thu,fri"
    work_hours: str = "09:00-18:00"
    holidays: str = ""

    @field_validator("work_days")
    @classmethod
    def _known_days(cls, value: str) -> str:
        days = [d.strip().lower() for d in value.split(",") if d.strip()]
        if not days or any(d not in WEEKDAYS for d in days):
            raise ValueError("list weekdays as mon,tue,wed,thu,fri,sat,sun")
        return ",".join(days)

    @field_validator("work_hours")
    @classmethod
    def _hours_range(cls, value: str) -> str:
        from datetime import time

        try:
            start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
        except ValueError:
            raise ValueError("write working hours as HH:MM-HH:MM, e.g. 09:00-18:00") from None
        if start >= end:
            raise ValueError("working hours must start before they end")
        return value

    @field_validator("holidays")
    @classmethod
    def _iso_dates(cls, value: str) -> str:
        from datetime import date

        try:
            for part in value.split(","):
                if part.strip():
                    date.fromisoformat(part.strip())
        except ValueError:
            raise ValueError("list holidays as YYYY-MM-DD dates separated by commas") from None
        return value

    @field_validator(
        "redis_url",
        "bot_token",
        "link_secret",
        "agent_chat_id",
        "webhook_url",
        "webhook_secret",
        "data_retention_days",
        "metrics_listen",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("link_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_LINK_SECRET_BYTES:
            raise ValueError(
                f"must be at least {MIN_LINK_SECRET_BYTES} bytes long; make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("agent_chats")
    @classmethod
    def _routes(cls, value: str) -> str:
        for part in value.split(","):
            if not part.strip():
                continue
            locale, _, chat = part.partition(":")
            if locale.strip() not in LOCALES or not chat.strip().lstrip("-").isdigit():
                raise ValueError("write routes as locale:chat_id pairs, e.g. ru:-100111,en:-100222")
        return value

    def agent_chat_for(self, locale: str) -> int | None:
        """The agents' group that takes a buyer's cases in this language."""
        return self.agent_routes().get(locale, self.agent_chat_id)

    def agent_routes(self) -> dict[str, int]:
        routes: dict[str, int] = {}
        for part in self.agent_chats.split(","):
            if part.strip():
                locale, _, chat = part.partition(":")
                routes[locale.strip()] = int(chat)
        return routes

    def agent_chat_ids(self) -> set[int]:
        """Every configured agents' group: only these act on cases."""
        chats = set(self.agent_routes().values())
        if self.agent_chat_id is not None:
            chats.add(self.agent_chat_id)
        return chats

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        # Hosting panels hand out postgres:// and postgresql:// addresses; the bot talks
        # to PostgreSQL through asyncpg and to SQLite through aiosqlite.
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        drivers = {
            "postgres": "postgresql+asyncpg",
            "postgresql": "postgresql+asyncpg",
            "postgresql+asyncpg": "postgresql+asyncpg",
            "sqlite": "sqlite+aiosqlite",
            "sqlite+aiosqlite": "sqlite+aiosqlite",
        }
        try:
            driver = drivers.get(make_url(value).drivername.lower())
        except (ArgumentError, ValueError):  # their words may quote the password
            driver = None
        if driver is None:
            raise ValueError(
                "not a database address supportbot can open; e.g. "
                "sqlite+aiosqlite:///supportbot.sqlite3 or postgresql+asyncpg://user@host/db"
            )
        return driver + value[value.index("://") :]

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be the public https:// address Telegram posts updates to")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
        if value is not None:
            secret = value.get_secret_value()
            if not (16 <= len(secret) <= 256) or not all(c.isalnum() or c in "_-" for c in secret):
                raise ValueError("use 16 to 256 characters: letters, digits, _ and -")
        return value

    @field_validator("webhook_listen", "metrics_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("write the address to listen on as HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    def bot_id(self) -> str:
        """The bot's numeric id (the token's part before the colon; not secret)."""
        token = self.bot_token.get_secret_value() if self.bot_token else ""
        return token.partition(":")[0] or "0"

    def listen_address(self) -> tuple[str, int]:
        host, _, port = self.webhook_listen.rpartition(":")
        return host, int(port)


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the variable."""


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the settings once, turning validation errors into one readable line."""
    try:
        return Settings(_env_file=env_file)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        raise ConfigError(f"{name}: {first['msg']}") from None
