from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Tag


class TagRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def describe(self, name: str, lang: str, description: str) -> Tag:
        """Set a tag's one-line description in one language (the tag is created if new)."""
        tag = await self.session.get(Tag, name)
        if tag is None:
            tag = Tag(name=name, description_en="", description_ru="")
            self.session.add(tag)
        setattr(tag, f"description_{lang}", description)
        return tag
