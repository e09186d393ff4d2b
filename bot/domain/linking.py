"""Deep links that tie a Telegram account to the marketplace's own buyer id.

`supportbot link BUYER_ID` prints `https://t.me/<bot>?start=<token>`. The token is
the buyer id and an expiry, signed with LINK_SECRET (HMAC-SHA256, cut to 96 bits),
in URL-safe base64 without padding: Telegram allows at most 64 characters of
`A-Z a-z 0-9 _ -` in a start parameter, which leaves room for buyer ids of up to
MAX_BUYER_ID_BYTES bytes.

A link is used once: the first account that opens it is bound to the buyer, and the
link's signature is recorded (`used_links`), so any other account opening the same
link is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.clock import Clock
from bot.config import Settings
from storage.models import User
from storage.repositories.links import UsedLinkRepository

VERSION = 1
HEADER = struct.Struct(">BI")  # version, expiry in Unix seconds
SIGNATURE_BYTES = 12
START_PARAMETER_LIMIT = 64
MAX_BUYER_ID_BYTES = START_PARAMETER_LIMIT * 6 // 8 - HEADER.size - SIGNATURE_BYTES
# Telegram usernames: 5 to 32 letters, digits and underscores, a letter first; a bot's
# ends in "bot".
BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{1,28}[Bb][Oo][Tt]")


class LinkError(StrEnum):
    invalid = "invalid"
    expired = "expired"


class LinkOutcome(StrEnum):
    """What opening a link did to the account."""

    linked = "linked"
    already_linked = "already_linked"
    """This account opened this link before and is still bound by it."""
    used = "used"
    """Another account opened this link first."""
    invalid = "invalid"
    expired = "expired"


@dataclass(frozen=True)
class SignedLink:
    """A link that passed its signature check: whose it is, its name, its expiry."""

    buyer_id: str
    key: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkSigner:
    """Makes and checks link tokens with one secret."""

    secret: bytes
    ttl: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkSigner | None:
        """The signer for LINK_SECRET and LINK_TTL_HOURS; None when no secret is set."""
        if settings.link_secret is None:
            return None
        return cls(
            settings.link_secret.get_secret_value().encode(),
            timedelta(hours=settings.link_ttl_hours),
        )

    def _signature(self, body: bytes) -> bytes:
        return hmac.new(self.secret, body, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def token(self, buyer_id: str, now: datetime) -> str:
        """A token for `buyer_id`, valid for the signer's ttl from `now`."""
        raw_id = buyer_id.encode()
        if not raw_id or len(raw_id) > MAX_BUYER_ID_BYTES:
            raise ValueError(f"a buyer id for a link must be 1 to {MAX_BUYER_ID_BYTES} bytes long")
        body = HEADER.pack(VERSION, int((now + self.ttl).timestamp())) + raw_id
        packed = body + self._signature(body)
        return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()

    def read(self, token: str, now: datetime) -> str | LinkError:
        """The buyer id the token carries, or why it is refused."""
        link = self.open(token, now)
        return link.buyer_id if isinstance(link, SignedLink) else link

    def open(self, token: str, now: datetime) -> SignedLink | LinkError:
        """The link the token is, or why it is refused."""
        if not 0 < len(token) <= START_PARAMETER_LIMIT:
            return LinkError.invalid
        try:
            packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return LinkError.invalid
        body, signature = packed[:-SIGNATURE_BYTES], packed[-SIGNATURE_BYTES:]
        if len(body) <= HEADER.size or not hmac.compare_digest(signature, self._signature(body)):
            return LinkError.invalid
        version, expires = HEADER.unpack_from(body)
        if version != VERSION:
            return LinkError.invalid
        expires_at = datetime.fromtimestamp(expires, UTC)
        if now >= expires_at:
            return LinkError.expired
        try:
            buyer_id = body[HEADER.size :].decode()
        except UnicodeDecodeError:
            return LinkError.invalid
        return SignedLink(buyer_id, signature.hex(), expires_at)


class Linker:
    """Binds an account to the buyer of the link it opened, the first account only."""

    def __init__(self, signer: LinkSigner | None, used: UsedLinkRepository, clock: Clock) -> None:
        self.signer = signer
        self.used = used
        self.clock = clock

    async def open(self, token: str, account: User) -> LinkOutcome:
        if self.signer is None:
            return LinkOutcome.invalid
        now = self.clock.now()
        link = self.signer.open(token, now)
        if isinstance(link, LinkError):
            return LinkOutcome(link.value)
        holder = await self.used.claim(link.key, account.id, now, link.expires_at)
        if holder != account.id:
            return LinkOutcome.used
        if account.buyer_id == link.buyer_id:
            return LinkOutcome.already_linked
        account.buyer_id = link.buyer_id
        return LinkOutcome.linked


def valid_bot_username(name: str) -> bool:
    """Whether `name` (with or without its @) can be a Telegram bot's username."""
    return BOT_USERNAME.fullmatch(name.removeprefix("@")) is not None


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={token}"
