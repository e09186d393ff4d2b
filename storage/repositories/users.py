from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User

LAST_SEEN_STEP = timedelta(hours=1)
_USER = select(User).where(User.id == bindparam("id"))
"""Built once (its cache key with it): `session.get` builds its SELECT on every call,
and `touch` runs with every update."""


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def touch(
        self, user_id: int, first_name: str, language_code: str | None, now: datetime
    ) -> User:
        """The person's row, created on first contact; last_seen kept to the hour."""
        user = (await self.session.execute(_USER, {"id": user_id})).scalar_one_or_none()
        if user is None:
            user = User(
                id=user_id,
                first_name=first_name,
                language_code=language_code,
                first_seen=now,
                last_seen=now,
            )
            self.session.add(user)
        else:
            # Written only when something changed, so a plain message costs no write.
            if user.first_name != first_name:
                user.first_name = first_name
            if user.language_code != language_code:
                user.language_code = language_code
            if now - user.last_seen >= LAST_SEEN_STEP:
                user.last_seen = now
        return user
