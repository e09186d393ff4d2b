"""What a handler may call, bound to the update's database session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import CaseService
from bot.clock import Clock
from bot.config import Settings
from bot.linking import LinkSigner
from bot.orders import OrderSource, SqlOrderSource
from storage.repositories.cases import CaseRepository
from storage.repositories.orders import OrderRepository
from storage.repositories.users import UserRepository


@dataclass
class Services:
    """Built once per update by the database middleware; handlers receive it as `svc`."""

    session: AsyncSession
    settings: Settings
    clock: Clock
    users: UserRepository
    cases: CaseService
    orders: OrderSource
    links: LinkSigner | None
    """Checks buyer deep links; None when LINK_SECRET is not set."""

    async def commit(self) -> None:
        """Make this update's changes durable now, before the person is told about them.

        The unit of work commits when the handler returns; a handler that is about to
        say "your request is registered" or "your order is cancelled" commits first, so
        the person is never told of something that was then rolled back.
        """
        await self.session.commit()

    @classmethod
    def build(cls, session: AsyncSession, settings: Settings, clock: Clock) -> Services:
        return cls(
            session=session,
            settings=settings,
            clock=clock,
            users=UserRepository(session),
            cases=CaseService(CaseRepository(session), clock, settings),
            orders=SqlOrderSource(OrderRepository(session)),
            links=LinkSigner.from_settings(settings),
        )
