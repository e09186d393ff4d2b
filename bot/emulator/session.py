"""The in-process door to the Bot API model: an aiogram session that calls it directly."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile

from bot.emulator.model import BotApiModel, Dropped


class InProcessSession(BaseSession):
    """Sends each request as the same form fields an HTTP server would receive."""

    def __init__(self, model: BotApiModel) -> None:
        super().__init__()
        self.model = model

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        files: dict[str, InputFile] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                params[key] = prepared
        uploads = {key: await _read(file, bot) for key, file in files.items()}
        status, body = await self.model.call(bot.token, method.__api_method__, params, uploads)
        if isinstance(body, Dropped):
            raise TelegramNetworkError(method=method, message="the response was lost")
        response = self.check_response(bot, method, status, json.dumps(body))
        return cast(TelegramType, response.result)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - aiogram's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        path = url.split(f"/bot{self.model.token}/", 1)[-1]
        content = self.model.file_content(path)
        if content is None and raise_for_status:
            raise TelegramNetworkError(method=None, message="404 Not Found")  # type: ignore[arg-type]
        yield content or b""

    async def close(self) -> None:
        """Nothing to close: there is no connection."""


async def _read(file: InputFile, bot: Bot) -> bytes:
    chunks = [chunk async for chunk in file.read(bot)]
    return b"".join(chunks)
