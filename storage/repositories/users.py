from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, FsmRecord, User

LAST_SEEN_STEP = timedelta(hours=1)
_VISIT = (
    select(User, FsmRecord, Case)
    .select_from(User)
    .outerjoin(FsmRecord, FsmRecord.key == bindparam("dialog"))
    .outerjoin(Case, Case.buyer_id == User.id)
    .where(User.id == bindparam("id"))
    .order_by(Case.id.desc())
)
"""Built once (its cache key with it); the account, the dialog's row and the person's
cases (one row each, or one row without a case), in the one statement every update of
a person runs."""


@dataclass
class Visit:
    """What an update of a person starts from."""

    account: User
    cases: list[Case]
    """The cases naming the person as their buyer, newest first (a new person has none:
    a case's buyer is a person's row)."""
    dialog: FsmRecord | None
    """The row of the dialog key asked for, None when there is none."""
    dialog_read: bool
    """Whether `dialog` was read: not for a new person."""


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def touch(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None,
        now: datetime,
        dialog_key: str = "",
    ) -> Visit:
        """The person's row, created on first contact; last_seen kept to the hour. With
        it, in the same statement, the row of `dialog_key` (aiogram's FSM key, as the SQL
        storage spells it) and the person's cases."""
        rows = (await self.session.execute(_VISIT, {"id": user_id, "dialog": dialog_key})).all()
        if not rows:
            user = User(
                id=user_id,
                first_name=first_name,
                language_code=language_code,
                first_seen=now,
                last_seen=now,
            )
            self.session.add(user)
            return Visit(user, cases=[], dialog=None, dialog_read=False)
        user, dialog, _ = rows[0]
        # Written only when something changed, so a plain message costs no write.
        if user.first_name != first_name:
            user.first_name = first_name
        if user.language_code != language_code:
            user.language_code = language_code
        if now - user.last_seen >= LAST_SEEN_STEP:
            user.last_seen = now
        cases = [case for _, _, case in rows if case is not None]
        return Visit(user, cases, dialog, dialog_read=True)
