from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import User


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def touch(
        self, user_id: int, first_name: str, language_code: str | None, now: datetime
    ) -> User:
        """The person's row, created on first contact; last_seen moves to now."""
        user = await self.session.get(User, user_id)
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
            user.first_name = first_name
            user.language_code = language_code
            user.last_seen = now
        return user
