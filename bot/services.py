"""What a handler may call, bound to the update's database session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cases import CaseService
from bot.clock import Clock
from bot.config import Settings
from storage.repositories.cases import CaseRepository
from storage.repositories.users import UserRepository


@dataclass
class Services:
    """Built once per update by the database middleware; handlers receive it as `svc`."""

    session: AsyncSession
    settings: Settings
    clock: Clock
    users: UserRepository
    cases: CaseService

    @classmethod
    def build(cls, session: AsyncSession, settings: Settings, clock: Clock) -> Services:
        return cls(
            session=session,
            settings=settings,
            clock=clock,
            users=UserRepository(session),
            cases=CaseService(CaseRepository(session), clock, settings),
        )
