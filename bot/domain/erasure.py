"""Erasing a buyer's personal data: on their request (/forget_me), by an operator
(`supportbot forget`), and for cases closed longer ago than DATA_RETENTION_DAYS.

What goes: the account row (first name, language, the link to their marketplace buyer
id), dialog state (SQL and Redis), every text, caption, file id and formatting in their
cases' transcripts, the case's reason, order link and rating comment, and every
pointer from a case or its audit trail to their Telegram id. What stays, for the
reports: each case's type, language, status, times and durations, tags, rating and
the agents' names. Open cases are closed first (nobody is left to answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.domain.cases import SYSTEM, CaseService
from storage.fsm import forget_redis_dialogs
from storage.repositories.cases import CaseRepository
from storage.repositories.privacy import PrivacyRepository


@dataclass
class Erased:
    """What one erasure touched: accounts deleted and cases blanked (their topics
    are told once the caller has committed)."""

    accounts: int = 0
    cases: list[int] = field(default_factory=list)


class ErasureService:
    """The one place that erases personal data; the caller commits."""

    def __init__(
        self,
        session: AsyncSession,
        clock: Clock,
        settings: Settings,
        cases: CaseService | None = None,
    ) -> None:
        self.repo = PrivacyRepository(session)
        self.clock = clock
        self.settings = settings
        self.cases = cases or CaseService(CaseRepository(session), clock, settings)

    async def forget(self, telegram_id: int) -> Erased:
        """Everything about one Telegram account."""
        erased = Erased()
        cases = await self.repo.cases_of(telegram_id)
        for case in cases:
            self.cases.close(case, None, SYSTEM)  # an open case has nobody to answer now
        await self.repo.blank_cases(cases, self.clock.now())
        erased.cases = [case.id for case in cases]
        erased.accounts = int(await self.repo.forget_account(telegram_id))
        if self.settings.redis_url:
            await forget_redis_dialogs(self.settings.redis_url, telegram_id)
        return erased

    async def forget_buyer(self, buyer_id: str) -> Erased:
        """Everything about each Telegram account linked to a marketplace buyer id."""
        total = Erased()
        for telegram_id in await self.repo.accounts_linked_to(buyer_id):
            erased = await self.forget(telegram_id)
            total.accounts += erased.accounts
            total.cases += erased.cases
        return total

    async def expire(self) -> Erased:
        """Cases closed more than DATA_RETENTION_DAYS ago, and the accounts of people
        not seen for as long whom no remaining case points at. Nothing when unset."""
        days = self.settings.data_retention_days
        if days is None:
            return Erased()
        edge = self.clock.now() - timedelta(days=days)
        cases = await self.repo.closed_before(edge)
        await self.repo.blank_cases(cases, self.clock.now())
        erased = Erased(cases=[case.id for case in cases])
        for telegram_id in await self.repo.idle_accounts(edge):
            erased.accounts += int(await self.repo.forget_account(telegram_id))
            if self.settings.redis_url:
                await forget_redis_dialogs(self.settings.redis_url, telegram_id)
        return erased

    async def untold(self) -> list[int]:
        """Erased cases whose topics still have to be told (erased from the CLI)."""
        return list(await self.repo.untold())
