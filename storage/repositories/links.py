from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import UsedLink


class UsedLinkRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, key: str, user_id: int, now: datetime, expires_at: datetime) -> int:
        """Record that `user_id` opened the link `key`, unless someone already did.

        Returns the account that holds the link: `user_id` when it is the first, else
        the earlier one. Two accounts opening it at once race on the primary key, and
        only one insert wins.
        """
        held = await self.session.get(UsedLink, key)
        if held is not None:
            return held.user_id
        try:
            async with self.session.begin_nested():
                self.session.add(
                    UsedLink(key=key, user_id=user_id, used_at=now, expires_at=expires_at)
                )
        except IntegrityError:
            held = await self.session.get(UsedLink, key, populate_existing=True)
            assert held is not None
            return held.user_id
        return user_id
