"""The HTTP door to the Bot API model: a local Bot API server on 127.0.0.1.

The bot under test reaches it through TELEGRAM_API_URL exactly as it would reach
api.telegram.org or a self-hosted Bot API server: `POST /bot<token>/<method>`
with query, urlencoded, multipart or JSON parameters, and file downloads under
`/file/bot<token>/<path>`. A dropped response closes the connection unanswered.

After setWebhook, updates are posted to the webhook's URL with the secret in
`X-Telegram-Bot-Api-Secret-Token`, over up to `max_connections` (default 40)
connections at once: a chat's updates one at a time and in order, chats side by side.
An update is forgotten only once the webhook answers 2xx, and posted again (after a
pause) otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from functools import partial
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bot.emulator.model import BotApiModel, Dropped, update_chat


def json_fields(body: dict[str, Any]) -> dict[str, str]:
    """A JSON body's fields as a form spells them (the Bot API reads both alike): text
    as it is, everything else (numbers, booleans, objects) as its JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}


class EmulatorServer:
    def __init__(self, model: BotApiModel) -> None:
        self.model = model
        self.app = web.Application(client_max_size=50 * 1024 * 1024)
        self.app.router.add_route("*", "/bot{token}/{method}", self._api)
        self.app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner: web.AppRunner | None = None
        self._pusher: asyncio.Task[None] | None = None
        self.url = ""
        self.webhook_answers: list[int] = []
        """HTTP status of every webhook post, in order (0: no connection)."""
        self.retry_pause = 0.2

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns the base URL for TELEGRAM_API_URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self._pusher = asyncio.get_running_loop().create_task(self._push_to_webhook())
        return self.url

    async def stop(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher
        if self._runner is not None:
            self.model.end_long_polls()
            await self._runner.cleanup()

    async def _push_to_webhook(self) -> None:
        busy: set[int] = set()
        posts: set[asyncio.Task[None]] = set()
        found: list[dict[str, Any]] = []

        def ready() -> bool:
            hook = self.model.webhook
            if hook is None or len(posts) >= hook["max_connections"]:
                return False
            update = self.model.next_update(busy)
            found[:] = [update] if update is not None else []
            return bool(found)

        async with ClientSession(timeout=ClientTimeout(total=30)) as client:
            try:
                while True:
                    await self.model.wait_until(ready)
                    update = found[0]
                    chat = update_chat(update)
                    busy.add(chat)
                    task = asyncio.get_running_loop().create_task(self._post(client, update))
                    posts.add(task)
                    task.add_done_callback(partial(self._posted, chat=chat, busy=busy, posts=posts))
            finally:
                for task in list(posts):
                    task.cancel()
                await asyncio.gather(*posts, return_exceptions=True)

    def _posted(
        self,
        task: asyncio.Task[None],
        *,
        chat: int,
        busy: set[int],
        posts: set[asyncio.Task[None]],
    ) -> None:
        busy.discard(chat)
        posts.discard(task)
        self.model.changed()

    async def _post(self, client: ClientSession, update: dict[str, Any]) -> None:
        """One post; the update is forgotten on 2xx, else posted again after a pause
        (the chat's later updates wait behind it)."""
        hook = self.model.webhook
        if hook is None:
            return
        headers = {}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        try:
            async with client.post(hook["url"], json=update, headers=headers) as answer:
                status = answer.status
        except (ClientError, OSError, TimeoutError):
            status = 0
        self.webhook_answers.append(status)
        if 200 <= status < 300:
            self.model.delivered(update["update_id"])
        else:
            await asyncio.sleep(self.retry_pause)

    async def _api(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = dict(request.query)
        uploads: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.json()
            params.update(json_fields(body))
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = value.file.read()
                else:
                    params[key] = str(value)
        status, payload = await self.model.call(
            request.match_info["token"], request.match_info["method"], params, uploads
        )
        if isinstance(payload, Dropped):
            # The request was carried out, but the answer never reaches the bot.
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=200)
        return web.json_response(payload, status=status)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.model.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        content = self.model.file_content(request.match_info["path"])
        if content is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=content, content_type="application/octet-stream")
