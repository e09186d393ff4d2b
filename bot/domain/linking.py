"""Deep links that tie a Telegram account to the marketplace's own buyer id.

`supportbot link BUYER_ID` prints `https://t.me/<bot>?start=<token>`. The token is
the buyer id and an expiry, signed with LINK_SECRET (HMAC-SHA256, cut to 96 bits),
in URL-safe base64 without padding: Telegram allows at most 64 characters of
`A-Z a-z 0-9 _ -` in a start parameter, which leaves room for buyer ids of up to
MAX_BUYER_ID_BYTES bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.config import Settings

VERSION = 1
HEADER = struct.Struct(">BI")  # version, expiry in Unix seconds
SIGNATURE_BYTES = 12
START_PARAMETER_LIMIT = 64
MAX_BUYER_ID_BYTES = START_PARAMETER_LIMIT * 6 // 8 - HEADER.size - SIGNATURE_BYTES


class LinkError(StrEnum):
    invalid = "invalid"
    expired = "expired"


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
        if now >= datetime.fromtimestamp(expires, UTC):
            return LinkError.expired
        try:
            return body[HEADER.size :].decode()
        except UnicodeDecodeError:
            return LinkError.invalid


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={token}"
