"""One model of the Telegram Bot API: chats, messages, forum topics, files, updates, errors.

It has two doors: `InProcessSession` (the shell and fast tests) and the aiohttp server
in the tests (end-to-end over real HTTP). Both hand it the same form fields a real
Bot API server receives and return the same JSON, including Telegram's error shapes.
The user side (people writing to the bot, pressing buttons) is driven through the
methods under "People", which queue updates for getUpdates. `wait_until` lets a test
wait for a fact about the model: it looks again whenever the bot makes a request or a
person does something.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from bot.clock import Clock, SystemClock

MEDIA_FIELDS = (
    "photo",
    "document",
    "video",
    "voice",
    "audio",
    "animation",
    "sticker",
    "video_note",
)
# Fields the Bot API always returns for each kind of media (the bot's copies carry them).
MEDIA_REQUIRED: dict[str, dict[str, Any]] = {
    "sticker": {"type": "regular", "width": 512, "height": 512, "is_animated": False,
                "is_video": False},
    "video": {"width": 1280, "height": 720, "duration": 5},
    "animation": {"width": 320, "height": 240, "duration": 2},
    "voice": {"duration": 3},
    "audio": {"duration": 60},
    "video_note": {"length": 240, "duration": 5},
}  # fmt: skip
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64


class Dropped:
    """The request was carried out but its response never reached the bot."""


DROPPED = Dropped()


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


@dataclass
class Fault:
    """An injected failure for the next matching calls."""

    method: str
    status: int = 0
    description: str = ""
    retry_after: int | None = None
    chat_id: int | None = None
    times: int = 1
    drop: bool = False
    skip: int = 0
    """Matching calls let through before the fault starts."""


COUNTED_TOPIC_CALLS = ("createforumtopic", "editforumtopic", "closeforumtopic", "reopenforumtopic")


@dataclass
class RateLimits:
    """Telegram's flood limits as (messages, window in seconds): per bot, per private
    chat, per group. Tests scale the windows down so a run takes seconds."""

    bot: tuple[int, float] = (30, 1.0)
    private: tuple[int, float] = (1, 1.0)
    group: tuple[int, float] = (20, 60.0)


@dataclass
class Topic:
    thread_id: int
    name: str
    icon_color: int
    closed: bool = False


@dataclass
class Chat:
    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    is_forum: bool = False
    bot_status: str = "member"
    can_manage_topics: bool = False
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    next_message_id: int = 1

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title:
            data["title"] = self.title
        if self.first_name:
            data["first_name"] = self.first_name
        if self.is_forum:
            data["is_forum"] = True
        return data


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str


class BotApiModel:
    """State of one bot's Bot API server, and the people around it."""

    def __init__(
        self,
        token: str,
        *,
        clock: Clock | None = None,
        bot_id: int | None = None,
        username: str = "marketplace_support_bot",
        first_name: str = "Support",
        first_message_id: int = 1,
    ) -> None:
        self.token = token
        self.first_message_id = first_message_id
        """Where every chat's message ids start: above the ids a database kept from an
        earlier run refers to, as a Bot API server that has been running all along."""
        self.clock = clock or SystemClock()
        self.bot_user = {
            "id": bot_id or int(token.split(":")[0]),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked_by: set[int] = set()
        self.files: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        self.limits: RateLimits | None = None
        self.rejected = 0
        self.rejections: list[tuple[float, str, str]] = []
        """429s given because a limit was exceeded (not injected faults)."""
        self._sent: dict[str, deque[float]] = {}
        self.timeline: list[tuple[float, str, int | None]] = []
        """(monotonic time, method, chat id) of each call counted against the limits."""
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._waiters: list[asyncio.Future[None]] = []
        self._watchers: list[asyncio.Future[None]] = []
        self.webhook: dict[str, Any] | None = None
        """setWebhook's url, secret_token and allowed_updates; the HTTP door posts to it."""
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, bytes]], Any]] = {
            name[len("api_") :].lower(): getattr(self, name)
            for name in dir(self)
            if name.startswith("api_")
        }

    # ------------------------------------------------------------------ the door

    async def call(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        uploads: dict[str, bytes] | None = None,
    ) -> tuple[int, dict[str, Any] | Dropped]:
        """Carry out one Bot API request; returns the HTTP status and the JSON body."""
        if token != self.token:
            return 401, ApiError(401, "Unauthorized").payload()
        polling = method.lower() == "getupdates"
        handler = self._handlers.get(method.lower())
        if handler is None and not polling:
            return 404, ApiError(404, "Not Found").payload()
        self.calls.append((method, dict(params)))
        self.changed()
        try:
            fault = self._take_fault(method, params)
            if fault is not None and not fault.drop:
                return fault.status, ApiError(
                    fault.status, fault.description, fault.retry_after
                ).payload()
            limited = self._over_limit(method, params)
            if limited is not None:
                self.rejected += 1
                return 429, limited.payload()
            try:
                if polling:
                    result = await self._get_updates(params)
                else:
                    assert handler is not None
                    result = handler(params, uploads or {})
            except ApiError as error:
                return error.status, error.payload()
            if fault is not None:
                return 200, DROPPED
            return 200, {"ok": True, "result": result}
        finally:
            self.changed()

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        for fault in self.faults:
            if fault.method.lower() != method.lower():
                continue
            if fault.chat_id is not None and _int(params.get("chat_id")) != fault.chat_id:
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def enforce_limits(self, limits: RateLimits | None = None) -> None:
        """Answer 429 (with retry_after) to calls over Telegram's flood limits."""
        self.limits = limits or RateLimits()

    def _over_limit(self, method: str, params: dict[str, Any]) -> ApiError | None:
        name = method.lower()
        counted = name.startswith(("send", "copy", "forward", "edit")) and name != "sendchataction"
        if self.limits is None or not (counted or name in COUNTED_TOPIC_CALLS):
            return None
        now = time.monotonic()
        checks = [("bot", self.limits.bot)]
        chat_id = _int(params.get("chat_id"))
        if chat_id is not None:
            limit = self.limits.private if chat_id > 0 else self.limits.group
            checks.append((f"chat:{chat_id}", limit))
        for key, (count, window) in checks:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - window:
                sent.popleft()
            if len(sent) >= count:
                retry_after = max(1, math.ceil(sent[0] + window - now))
                self.rejections.append((now, method, key))
                return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        for key, _limit in checks:
            self._sent[key].append(now)
        self.timeline.append((now, method, chat_id))
        return None

    def fail(
        self,
        method: str,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
        skip: int = 0,
    ) -> Fault:
        """Make the next `times` calls of `method` fail the way Telegram fails (after
        letting `skip` of them through); remove the returned fault from `faults` to end
        it early."""
        if description is None:
            description = {
                400: "Bad Request: injected",
                403: "Forbidden: bot was blocked by the user",
                429: f"Too Many Requests: retry after {retry_after or 1}",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(status, "Error")
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(method, status, description, retry_after, chat_id, times, skip=skip)
        self.faults.append(fault)
        return fault

    def drop_response(self, method: str, *, chat_id: int | None = None, times: int = 1) -> None:
        """Carry out the next `times` calls of `method` but lose their responses."""
        self.faults.append(Fault(method, chat_id=chat_id, times=times, drop=True))

    # ------------------------------------------------------------------ people

    def add_user(
        self,
        user_id: int,
        first_name: str = "Buyer",
        *,
        language_code: str | None = "en",
        last_name: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        self.chats.setdefault(
            user_id,
            Chat(
                id=user_id,
                type="private",
                first_name=first_name,
                next_message_id=self.first_message_id,
            ),
        )
        return user

    def add_group(
        self,
        chat_id: int,
        title: str = "Support agents",
        *,
        forum: bool = True,
        bot_status: str = "administrator",
        can_manage_topics: bool = True,
    ) -> Chat:
        chat = Chat(
            id=chat_id,
            type="supergroup",
            title=title,
            is_forum=forum,
            bot_status=bot_status,
            can_manage_topics=can_manage_topics,
            next_message_id=self.first_message_id,
        )
        self.chats[chat_id] = chat
        return chat

    def bot_joined(self, chat_id: int, *, by: int) -> dict[str, Any]:
        """Someone added the bot to a group: Telegram sends a my_chat_member update."""
        chat = self.chats[chat_id]
        chat.bot_status = "member"
        return self.queue_update(
            {
                "my_chat_member": {
                    "chat": chat.public(),
                    "from": self.users[by],
                    "date": self._now(),
                    "old_chat_member": {"status": "left", "user": self.bot_user},
                    "new_chat_member": {"status": "member", "user": self.bot_user},
                }
            }
        )

    def block_bot(self, user_id: int) -> None:
        """The person blocked the bot: every send to them answers 403."""
        self.blocked_by.add(user_id)

    def upload(self, content: bytes, *, name: str = "file") -> StoredFile:
        """A file that a person sends: stored as Telegram stores it, by file_id."""
        number = next(self._ids)
        stored = StoredFile(
            file_id=f"AgAC{number:06d}{secrets.token_hex(6)}",
            file_unique_id=f"AQAD{number:06d}",
            content=content,
            file_path=f"files/{number}_{name}",
        )
        self.files[stored.file_id] = stored
        return stored

    def send_message(
        self,
        user_id: int,
        text: str | None = None,
        *,
        chat_id: int | None = None,
        thread_id: int | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes, str] | None = None,
        caption: str | None = None,
        media_group_id: str | None = None,
        extra: dict[str, Any] | None = None,
        sender_chat: dict[str, Any] | None = None,
        queue: bool = True,
    ) -> dict[str, Any]:
        """A person writes a message; it is queued as an update unless `queue` is False."""
        chat = self.chats[chat_id if chat_id is not None else user_id]
        message = self._new_message(chat, self.users[user_id], thread_id)
        if sender_chat is not None:
            message["sender_chat"] = sender_chat
        if text is not None:
            message["text"] = text
            entities = _command_entities(text)
            if entities:
                message["entities"] = entities
        if photo is not None:
            stored = self.upload(photo, name="photo.jpg")
            message["photo"] = self._photo_sizes(stored)
        if document is not None:
            file_name, content, mime = document
            stored = self.upload(content, name=file_name)
            message["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime,
                "file_size": len(content),
            }
        if caption is not None:
            message["caption"] = caption
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        if extra:
            message.update(extra)
        chat.messages[message["message_id"]] = message
        if queue:
            self.queue_update({"message": message})
        return message

    def edit_message(
        self, user_id: int, chat_id: int, message_id: int, text: str
    ) -> dict[str, Any]:
        """A person edits a text or caption they sent earlier."""
        message = self.chats[chat_id].messages[message_id]
        key = "text" if "text" in message else "caption"
        message[key] = text
        message["edit_date"] = self._now()
        self.queue_update({"edited_message": dict(message)})
        return message

    def press(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        """A person presses an inline button; returns the callback query id."""
        query_id = str(next(self._ids))
        message = self.chats[chat_id].messages[message_id]
        self.queue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.users[user_id],
                    "message": message,
                    "chat_instance": str(chat_id),
                    "data": data,
                }
            }
        )
        return query_id

    def delete_topic_by_hand(self, chat_id: int, thread_id: int) -> None:
        """Somebody in the group deleted a topic (with all its messages)."""
        chat = self.chats[chat_id]
        chat.topics.pop(thread_id, None)
        for message_id in [
            m for m, v in chat.messages.items() if v.get("message_thread_id") == thread_id
        ]:
            chat.messages.pop(message_id)

    def queue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **payload}
        self._updates.append(update)
        _wake(self._waiters)
        self.changed()
        return update

    def end_long_polls(self) -> None:
        """Answer every waiting getUpdates now, as a Bot API server does when it shuts
        down (a poll the bot gave up on would otherwise hold the server until its timeout)."""
        _wake(self._waiters)

    def changed(self) -> None:
        """Something happened: every `wait_until` looks at its fact again."""
        _wake(self._watchers)

    async def wait_until(self, done: Callable[[], bool]) -> None:
        """Return once `done()` holds, looking again after each request the bot makes and
        each thing a person does (and whenever `changed()` is called). Callers bound the
        wait with `asyncio.timeout`."""
        while not done():
            watcher: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._watchers.append(watcher)
            await watcher

    def take_updates(self) -> list[dict[str, Any]]:
        """All queued updates, confirmed at once (the in-process dispatcher's getUpdates)."""
        updates, self._updates = self._updates, []
        return updates

    # ------------------------------------------------------------------ reading what happened

    def messages(self, chat_id: int, *, thread_id: int | None = None) -> list[dict[str, Any]]:
        chat = self.chats[chat_id]
        found = sorted(chat.messages.values(), key=lambda m: m["message_id"])
        if thread_id is not None:
            found = [m for m in found if m.get("message_thread_id") == thread_id]
        return found

    def bot_messages(self, chat_id: int, *, thread_id: int | None = None) -> list[dict[str, Any]]:
        bot_id = self.bot_user["id"]
        return [m for m in self.messages(chat_id, thread_id=thread_id) if m["from"]["id"] == bot_id]

    # ------------------------------------------------------------------ helpers

    def _now(self) -> int:
        return int(self.clock.now().timestamp())

    def _chat(self, params: dict[str, Any], key: str = "chat_id") -> Chat:
        chat_id = _int(params.get(key))
        if chat_id is None:
            raise bad_request("chat_id is empty")
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.type == "private" and chat.id in self.blocked_by:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _thread(self, chat: Chat, params: dict[str, Any]) -> int | None:
        thread_id = _int(params.get("message_thread_id"))
        if thread_id is None:
            return None
        topic = chat.topics.get(thread_id)
        if topic is None:
            raise bad_request("message thread not found")
        if topic.closed:
            raise bad_request("TOPIC_CLOSED")
        return thread_id

    def _new_message(
        self, chat: Chat, sender: dict[str, Any], thread_id: int | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "date": self._now(),
            "chat": chat.public(),
            "from": sender,
        }
        chat.next_message_id += 1
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return message

    def _bot_message(self, chat: Chat, params: dict[str, Any]) -> dict[str, Any]:
        message = self._new_message(chat, self.bot_user, self._thread(chat, params))
        markup = _json(params.get("reply_markup"))
        if markup is not None:
            _check_markup(markup)
            if "inline_keyboard" in markup:
                message["reply_markup"] = markup
        return message

    def _store(self, chat: Chat, message: dict[str, Any]) -> dict[str, Any]:
        chat.messages[message["message_id"]] = message
        return message

    def _find(self, chat: Chat, params: dict[str, Any], what: str) -> dict[str, Any]:
        message_id = _int(params.get("message_id"))
        message = chat.messages.get(message_id or 0)
        if message is None:
            raise bad_request(f"message to {what} not found")
        return message

    def _photo_sizes(self, stored: StoredFile) -> list[dict[str, Any]]:
        size = len(stored.content)
        return [
            {"file_id": stored.file_id + "s", "file_unique_id": stored.file_unique_id + "s",
             "width": 90, "height": 90, "file_size": max(1, size // 10)},
            {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
             "width": 1280, "height": 960, "file_size": size},
        ]  # fmt: skip

    def _media(self, kind: str, value: Any, uploads: dict[str, bytes]) -> Any:
        """Resolve a media field (file_id or attach://) into what Telegram returns."""
        if isinstance(value, str) and value.startswith("attach://"):
            content = uploads.get(value[len("attach://") :])
            if content is None:
                raise bad_request("wrong HTTP URL specified")
            stored = self.upload(content, name=kind)
        else:
            file_id = str(value).removesuffix("s") if kind == "photo" else str(value)
            found = self.files.get(file_id)
            if found is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            stored = found
        if kind == "photo":
            return self._photo_sizes(stored)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            **MEDIA_REQUIRED.get(kind, {}),
        }

    def _caption(self, message: dict[str, Any], params: dict[str, Any]) -> None:
        caption, entities = _formatted(params.get("caption") or "", params)
        if caption:
            if len(caption) > CAPTION_LIMIT:
                raise bad_request("message caption is too long")
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities

    # ------------------------------------------------------------------ Bot API methods

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _int(params.get("offset")) or 0
        limit = min(max(_int(params.get("limit")) or 100, 1), 100)
        timeout = max(_int(params.get("timeout")) or 0, 0)
        if offset:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        return self._updates[:limit]

    def api_getMe(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self.bot_user

    def api_deleteWebhook(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates") in ("true", "True", True):
            self._updates.clear()
        return True

    def api_setWebhook(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        url = params.get("url", "")
        if not url:
            self.webhook = None
            return True
        if not url.startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        secret = params.get("secret_token")
        if secret is not None and not (
            1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)
        ):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        connections = int(params.get("max_connections") or 40)
        if not 1 <= connections <= 100:
            raise ApiError(400, "Bad Request: invalid max_connections specified")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": _json(params.get("allowed_updates")),
            "max_connections": connections,
        }
        _wake(self._waiters)
        return True

    def api_getWebhookInfo(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        hook = self.webhook or {}
        return {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
            "max_connections": hook.get("max_connections", 40),
        }

    def next_update(self, busy: set[int]) -> dict[str, Any] | None:
        """The oldest update not yet delivered whose chat has none on its way (`busy`):
        the webhook's sender posts a chat's updates one at a time, chats side by side."""
        for update in self._updates:
            if update_chat(update) not in busy:
                return update
        return None

    def delivered(self, update_id: int) -> None:
        """The webhook answered 2xx for this update: Telegram forgets it."""
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self.changed()

    def api_close(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return True

    def api_setMyCommands(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        scope = (_json(params.get("scope")) or {"type": "default"})["type"]
        self.commands[(scope, params.get("language_code", ""))] = _json(params["commands"])
        return True

    def api_getMyCommands(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        scope = (_json(params.get("scope")) or {"type": "default"})["type"]
        return self.commands.get((scope, params.get("language_code", "")), [])

    def api_getChat(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        return {
            **chat.public(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def api_getChatMember(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        user_id = _int(params.get("user_id"))
        if user_id == self.bot_user["id"]:
            member: dict[str, Any] = {"status": chat.bot_status, "user": self.bot_user}
            if chat.bot_status == "administrator":
                member.update(
                    can_be_edited=False, is_anonymous=False, can_manage_chat=True,
                    can_delete_messages=True, can_manage_video_chats=False,
                    can_restrict_members=False, can_promote_members=False,
                    can_change_info=False, can_invite_users=True, can_post_stories=False,
                    can_edit_stories=False, can_delete_stories=False,
                    can_send_welcome_messages=False, can_pin_messages=True,
                    can_manage_topics=chat.can_manage_topics,
                )  # fmt: skip
            return member
        user = self.users.get(user_id or 0)
        if user is None:
            raise bad_request("user not found")
        return {"status": "member", "user": user}

    def api_sendMessage(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        text, entities = _formatted(params.get("text") or "", params)
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > TEXT_LIMIT:
            raise bad_request("message is too long")
        message = self._bot_message(chat, params)
        message["text"] = text
        if entities:
            message["entities"] = entities
        return self._store(chat, message)

    def _send_media(self, kind: str, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        message = self._bot_message(chat, params)
        message[kind] = self._media(kind, params.get(kind), uploads)
        self._caption(message, params)
        return self._store(chat, message)

    def api_sendPhoto(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("photo", params, uploads)

    def api_sendDocument(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("document", params, uploads)

    def api_sendVideo(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("video", params, uploads)

    def api_sendVoice(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("voice", params, uploads)

    def api_sendAudio(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("audio", params, uploads)

    def api_sendAnimation(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("animation", params, uploads)

    def api_sendSticker(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("sticker", params, uploads)

    def api_sendVideoNote(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._send_media("video_note", params, uploads)

    def api_sendMediaGroup(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        media = _json(params.get("media")) or []
        if not 2 <= len(media) <= 10:
            raise bad_request("media group must contain 2-10 items")
        group_id = str(next(self._ids) + 10_000_000)
        sent = []
        for item in media:
            kind = item.get("type")
            if kind not in MEDIA_FIELDS:
                raise bad_request("unsupported media type")
            message = self._bot_message(chat, params)
            message[kind] = self._media(kind, item.get("media"), uploads)
            message["media_group_id"] = group_id
            self._caption(message, item)
            sent.append(message)
        return [self._store(chat, m) for m in sent]

    def api_sendLocation(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        message = self._bot_message(chat, params)
        message["location"] = {
            "latitude": float(params["latitude"]),
            "longitude": float(params["longitude"]),
        }
        return self._store(chat, message)

    def _copy(self, source: dict[str, Any], chat: Chat, params: dict[str, Any]) -> dict[str, Any]:
        message = self._bot_message(chat, params)
        for key in ("text", "entities", "caption", "media_group_id", "location", *MEDIA_FIELDS):
            if key in source:
                message[key] = source[key]
        if "caption" in params:
            message.pop("caption", None)
            self._caption(message, params)
        return self._store(chat, message)

    def api_copyMessage(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        source_chat = self._chat(params, "from_chat_id")
        chat = self._chat(params)
        source = self._find(source_chat, params, "copy")
        return {"message_id": self._copy(source, chat, params)["message_id"]}

    def api_copyMessages(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        source_chat = self._chat(params, "from_chat_id")
        chat = self._chat(params)
        ids = _json(params.get("message_ids")) or []
        if not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        result = []
        for message_id in sorted(ids):
            source = source_chat.messages.get(message_id)
            if source is not None:
                result.append({"message_id": self._copy(source, chat, params)["message_id"]})
        if not result:
            raise bad_request("messages to copy not found")
        return result

    def _edit(self, params: dict[str, Any], key: str, limit: int, what: str) -> Any:
        chat = self._chat(params)
        message = self._find(chat, params, "edit")
        if message["from"]["id"] != self.bot_user["id"]:
            raise bad_request("message can't be edited")
        value, _entities = _formatted(params.get(key) or "", params)
        if key == "text" and not value.strip():
            raise bad_request("message text is empty")
        if len(value) > limit:
            raise bad_request(f"{what} is too long")
        markup = _json(params.get("reply_markup"))
        if markup is not None:
            _check_markup(markup)
        if message.get(key, "") == value and message.get("reply_markup") == markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message[key] = value
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = self._now()
        return message

    def api_editMessageText(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._edit(params, "text", TEXT_LIMIT, "message")

    def api_editMessageCaption(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        return self._edit(params, "caption", CAPTION_LIMIT, "message caption")

    def api_editMessageReplyMarkup(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        message = self._find(chat, params, "edit")
        markup = _json(params.get("reply_markup"))
        if markup is None:
            message.pop("reply_markup", None)
        else:
            _check_markup(markup)
            message["reply_markup"] = markup
        return message

    def api_deleteMessage(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        self._find(chat, params, "delete")
        chat.messages.pop(_int(params["message_id"]) or 0)
        return True

    def api_answerCallbackQuery(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        query_id = params.get("callback_query_id") or ""
        if query_id in self.callback_answers:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_answers[query_id] = {
            "text": params.get("text"),
            "show_alert": params.get("show_alert") in ("true", True),
        }
        return True

    def api_getFile(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        file_id = str(params.get("file_id", "")).removesuffix("s")
        stored = self.files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def file_content(self, file_path: str) -> bytes | None:
        for stored in self.files.values():
            if stored.file_path == file_path:
                return stored.content
        return None

    def _forum(self, params: dict[str, Any]) -> Chat:
        chat = self._chat(params)
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        if chat.bot_status != "administrator" or not chat.can_manage_topics:
            raise bad_request("not enough rights to manage topics")
        return chat

    def _topic(self, chat: Chat, params: dict[str, Any]) -> Topic:
        topic = chat.topics.get(_int(params.get("message_thread_id")) or 0)
        if topic is None:
            raise bad_request("message thread not found")
        return topic

    def api_createForumTopic(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._forum(params)
        name = params.get("name") or ""
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        color = _int(params.get("icon_color")) or 7322096
        service = self._new_message(chat, self.bot_user, None)
        thread_id = service["message_id"]
        service.update(
            message_thread_id=thread_id,
            is_topic_message=True,
            forum_topic_created={"name": name, "icon_color": color},
        )
        self._store(chat, service)
        chat.topics[thread_id] = Topic(thread_id, name, color)
        return {"message_thread_id": thread_id, "name": name, "icon_color": color}

    def api_editForumTopic(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._forum(params)
        topic = self._topic(chat, params)
        if params.get("name"):
            if topic.name == params["name"]:
                raise bad_request("TOPIC_NOT_MODIFIED")
            topic.name = params["name"]
        return True

    def api_closeForumTopic(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        topic = self._topic(self._forum(params), params)
        if topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    def api_reopenForumTopic(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        topic = self._topic(self._forum(params), params)
        if not topic.closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    def api_deleteForumTopic(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._forum(params)
        topic = self._topic(chat, params)
        self.delete_topic_by_hand(chat.id, topic.thread_id)
        return True

    def api_leaveChat(self, params: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        chat = self._chat(params)
        chat.bot_status = "left"
        return True


ENTITY_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "del": "strikethrough", "strike": "strikethrough",
    "code": "code", "pre": "pre", "a": "text_link", "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}  # fmt: skip


class _HtmlText(HTMLParser):
    """Telegram's HTML parse mode: the tags become entities with UTF-16 offsets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.entities: list[dict[str, Any]] = []
        self.open: list[tuple[str, int, dict[str, str | None]]] = []

    def _offset(self) -> int:
        return len(self.text.encode("utf-16-le")) // 2

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ENTITY_TAGS:
            raise bad_request(f'can\'t parse entities: unsupported start tag "{tag}"')
        self.open.append((tag, self._offset(), dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise bad_request(f'can\'t parse entities: unmatched end tag "{tag}"')
        _tag, start, attrs = self.open.pop()
        entity: dict[str, Any] = {
            "type": ENTITY_TAGS[tag], "offset": start, "length": self._offset() - start
        }  # fmt: skip
        if tag == "a":
            entity["url"] = attrs.get("href") or ""
        if entity["length"]:
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text += data


def _formatted(text: str, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text a person sees, and its entities, for the request's parse_mode."""
    if params.get("parse_mode") != "HTML":
        return text, _json(params.get("entities") or params.get("caption_entities")) or []
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    if parser.open:
        raise bad_request("can't parse entities: unclosed start tag")
    return parser.text, sorted(parser.entities, key=lambda e: e["offset"])


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
    waiters.clear()


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid integer {value!r}") from None


def update_chat(update: dict[str, Any]) -> int:
    """The chat an update belongs to (its person's id when it has no chat)."""
    for key, event in update.items():
        if key == "update_id" or not isinstance(event, dict):
            continue
        chat = event.get("chat") or event.get("message", {}).get("chat")
        if chat is not None:
            return int(chat["id"])
        return int(event.get("from", {}).get("id", 0))
    return 0


def _json(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise bad_request("can't parse JSON") from None


def _check_markup(markup: dict[str, Any]) -> None:
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT:
                raise bad_request("BUTTON_DATA_INVALID")


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    length = len(text.split(maxsplit=1)[0])
    return [{"type": "bot_command", "offset": 0, "length": length}]
