"""What a handler may call, bound to the update's database session."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.desk.handoff import Handoff
from bot.domain.cases import CaseService
from bot.domain.linking import Linker, LinkSigner
from bot.domain.orders import OrderSource, SqlOrderSource
from bot.reports.service import ReportService
from storage.repositories.cases import CaseRepository
from storage.repositories.flows import IntentFlowRepository
from storage.repositories.links import UsedLinkRepository
from storage.repositories.orders import OrderRepository
from storage.repositories.users import UserRepository


@dataclass
class Services:
    """Built once per update by the database middleware; handlers receive it as `svc`.

    Work for Telegram that depends on what this update stored (a new case's topic,
    relaying a message, a notice) is queued with `after_commit` and starts only once
    the unit of work has committed, so it never sees a row that was rolled back.
    """

    session: AsyncSession
    settings: Settings
    clock: Clock
    users: UserRepository
    cases: CaseService
    orders: OrderSource
    reports: ReportService
    links: Linker
    """Opens buyer deep links (refuses them all when LINK_SECRET is not set)."""
    flows: IntentFlowRepository
    """Requests typed in free text that the buyer confirmed (for the report)."""
    handoff: Handoff | None = None
    bot: Bot | None = None
    _after: list[Callable[[], None]] = field(default_factory=list)
    _changed: set[int] = field(default_factory=set)
    _cards: set[int] = field(default_factory=set)
    _replies: set[int] = field(default_factory=set)

    async def commit(self) -> None:
        """Make this update's changes durable now, before the person is told about them.

        The unit of work commits when the handler returns; a handler that is about to
        say "your request is registered" or "your order is cancelled" commits first, so
        the person is never told of something that was then rolled back. The Telegram
        work queued so far starts now, so a failed answer delays nothing it depends on.
        """
        await self.session.commit()
        self.committed()

    @classmethod
    def build(
        cls,
        session: AsyncSession,
        settings: Settings,
        clock: Clock,
        *,
        handoff: Handoff | None = None,
        bot: Bot | None = None,
    ) -> Services:
        changed: set[int] = set()
        cards: set[int] = set()
        replies: set[int] = set()
        orders = OrderRepository(session)
        return cls(
            session=session,
            settings=settings,
            clock=clock,
            users=UserRepository(session),
            cases=CaseService(
                CaseRepository(session),
                clock,
                settings,
                on_change=changed.add,
                orders=orders,
                on_card=cards.add,
                on_reply=replies.add,
            ),
            orders=SqlOrderSource(orders),
            reports=ReportService(session, settings, clock),
            flows=IntentFlowRepository(session),
            handoff=handoff,
            bot=bot,
            links=Linker(LinkSigner.from_settings(settings), UsedLinkRepository(session), clock),
            _changed=changed,
            _cards=cards,
            _replies=replies,
        )

    def after_commit(self, action: Callable[[Handoff, Bot], None]) -> None:
        """Run `action(handoff, bot)` once this update's changes are committed."""
        handoff, bot = self.handoff, self.bot
        if handoff is not None and bot is not None:
            self._after.append(lambda: action(handoff, bot))

    def committed(self) -> None:
        """Called by the unit of work after its commit: start the queued Telegram work."""
        if self.handoff is not None and self.bot is not None:
            for case_id in sorted(self._cards):
                self.handoff.card_changed(case_id)
            for case_id in sorted(self._changed | self._replies):
                topic, buyer = case_id in self._changed, case_id in self._replies
                self.handoff.sync(self.bot, case_id, topic=topic, buyer=buyer)
        for action in self._after:
            action()
        self._changed.clear()
        self._cards.clear()
        self._replies.clear()
        self._after.clear()
