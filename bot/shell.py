"""`supportbot shell`: talk to the real bot in a terminal, with no Telegram and no token.

Lines you type are sent as messages; a number presses that button of the latest
keyboard; lines starting with `:` are shell commands (`:help` lists them). Reads
a pipe as well as a terminal, so a conversation can be scripted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import mimetypes
import re
import shlex
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from bot.clock import ShiftedClock
from bot.config import Settings
from bot.domain.orders import Buyer, SqlOrderSource
from bot.emulator.sandbox import Agent, Person, Sandbox
from bot.ops.order_demo import create_demo_orders
from bot.ops.order_import import OrderImporter
from storage.repositories.orders import OrderRepository

DURATION = re.compile(r"^(\d+)([mhd])$")
CASE_NUMBER = re.compile(r"^№(\d+) ·")
SHELL_GROUP = -1001000000001
"""The agents' group the shell stands in for when AGENT_CHAT_ID is not set."""
CARD_BUTTONS = {
    ":take": "cs:take:",
    ":release": "cs:rel:",
    ":resolve": "cs:res:",
    ":close": "cs:close:",
    ":reopen": "cs:reopen:",
}


def _shown(message: dict[str, Any]) -> str:
    """What a reader sees of a message: two edits within one second share an
    edit_date, so the content is compared too."""
    return json.dumps(
        [message.get(k) for k in ("edit_date", "text", "caption", "reply_markup")],
        sort_keys=True,
    )


class Shell:
    def __init__(
        self,
        sandbox: Sandbox,
        person: Person,
        clock: ShiftedClock,
        out: TextIO,
        agent: Agent | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.person = person
        self.clock = clock
        self.out = out
        self.agent = agent
        self.buttons: list[tuple[str, str]] = []
        self.seen: dict[int, str] = {}
        self.seen_by_agents: dict[int, str] = {}
        self.commands: dict[str, tuple[str, Callable[[str], Awaitable[None]]]] = {
            ":help": ("list the shell commands", self.cmd_help),
            ":wait": (
                "move the clock forward and run what is due (reminders, auto-close), "
                "e.g. :wait 9h, :wait 2d, :wait 30m",
                self.cmd_wait,
            ),
            ":agent": (
                "answer as an agent in the newest case's topic (:agent #12 TEXT for case 12)",
                self.cmd_agent,
            ),
            ":topic": ("print a case's topic as agents see it (:topic 12; newest)", self.cmd_topic),
            ":cases": ("list the case topics in the agents' group", self.cmd_cases),
            ":demo": (
                "create demo orders for you, one for each case the dialogs know",
                self.cmd_demo,
            ),
            ":say": ("send text as typed, e.g. an order number: :say 100234", self.cmd_say),
            ":photo": ("send a picture file as a photo: :photo PATH", self.cmd_photo),
            ":album": ("send pictures as one album: :album PATH PATH ...", self.cmd_album),
            ":file": ("send a file as a document (an image keeps full quality)", self.cmd_file),
            ":quit": ("leave the shell", self.cmd_quit),
        }
        for name, data in CARD_BUTTONS.items():
            self.commands[name] = (
                f"press {name[1:]} on the newest case's card ({name} 12 for case 12)",
                self._card_button(data),
            )
        self.done = False
        self.albums = itertools.count(1)

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def show_new(self) -> None:
        """Print the bot's new and edited messages in the buyer's chat."""
        for message in self.person.inbox():
            shown = _shown(message)
            if self.seen.get(message["message_id"]) == shown:
                continue
            was_seen = message["message_id"] in self.seen
            self.seen[message["message_id"]] = shown
            self.print_message(message, edited=was_seen)
        if self.agent is None:
            return
        topics = self.sandbox.model.chats[self.agent.chat_id].topics
        for message in self.sandbox.model.messages(self.agent.chat_id):
            if "forum_topic_created" in message or message["from"]["id"] == self.agent.id:
                continue
            shown = _shown(message)
            known = self.seen_by_agents.get(message["message_id"])
            if known == shown:
                continue
            self.seen_by_agents[message["message_id"]] = shown
            topic = topics.get(message.get("message_thread_id") or 0)
            where = f"agents · {topic.name}" if topic else "agents · General"
            label = f"{where} (edited) ›" if known is not None else f"{where} ›"
            self.print_message(message, label=label, buttons=False)

    def print_message(
        self,
        message: dict[str, Any],
        *,
        edited: bool = False,
        label: str | None = None,
        buttons: bool = True,
    ) -> None:
        label = label or ("bot (edited) ›" if edited else "bot ›")
        body = message.get("text") or message.get("caption") or ""
        for kind in ("photo", "document", "sticker", "voice", "video"):
            if kind in message:
                body = f"[{kind}] {body}".strip()
        lines = body.splitlines() or [""]
        self.say(f"{label} {lines[0]}")
        for line in lines[1:]:
            self.say(f"      {line}")
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        if rows and not buttons:
            labels = [b["text"] for row in rows for b in row]
            self.say("      (card buttons: " + " · ".join(labels) + ")")
        elif rows:
            self.buttons = []
            for row in rows:
                cells = []
                for button in row:
                    self.buttons.append((button["text"], button.get("callback_data", "")))
                    cells.append(f"[{len(self.buttons)}] {button['text']}")
                self.say("      " + "   ".join(cells))
        self.say()

    async def handle(self, line: str) -> None:
        line = line.rstrip("\n")
        if not line.strip():
            return
        word = line.split(maxsplit=1)[0]
        if word in self.commands:
            await self.commands[word][1](line[len(word) :].strip())
        elif word.startswith(":"):
            self.say(f"unknown shell command {word}; :help lists them")
        elif line.strip().isdigit() and self.buttons:
            number = int(line.strip())
            if not 1 <= number <= len(self.buttons):
                self.say(f"there is no button {number}; pick 1 to {len(self.buttons)}")
                return
            label, data = self.buttons[number - 1]
            self.say(f"(pressed: {label})")
            await self.person.press(data=data)
            if self.person.last_answer and self.person.last_answer.get("text"):
                self.say(f"bot (toast) › {self.person.last_answer['text']}")
        else:
            await self.person.send(line)
        self.show_new()

    async def cmd_help(self, _arg: str) -> None:
        self.say("Type a message to send it; type a number to press that button.")
        for name, (text, _fn) in self.commands.items():
            self.say(f"  {name:<8} {text}")

    async def cmd_wait(self, arg: str) -> None:
        match = DURATION.match(arg)
        if match is None:
            self.say("usage: :wait 30m | 9h | 2d")
            return
        amount, unit = int(match[1]), match[2]
        self.clock.advance(timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount}))
        self.say(f"(the clock moved forward by {arg})")
        await self.sandbox.run_due()

    def _case(self, arg: str) -> int | None:
        """The case named in `arg` (12 or #12), else the newest case with a topic."""
        if self.agent is None:
            self.say("there is no agents' group in this shell")
            return None
        number = arg.strip().lstrip("#")
        if number.isdigit():
            if not self.agent.has_topic(int(number)):
                self.say(f"case {number} has no topic in this shell; :cases lists the ones it has")
                return None
            return int(number)
        numbers = [
            int(match[1])
            for topic in self.sandbox.model.chats[self.agent.chat_id].topics.values()
            if (match := CASE_NUMBER.match(topic.name))
        ]
        if not numbers:
            self.say("no case has reached the agents yet")
            return None
        return max(numbers)

    async def cmd_agent(self, arg: str) -> None:
        target, text = "", arg
        if arg.startswith("#"):
            target, _, text = arg.partition(" ")
        case_id = self._case(target)
        if case_id is None or self.agent is None:
            return
        if not text.strip():
            self.say("usage: :agent TEXT  or  :agent #12 TEXT")
            return
        self.say(f"agent {self.agent.model.users[self.agent.id]['first_name']} › {text}")
        await self.agent.say(case_id, text)

    async def cmd_topic(self, arg: str) -> None:
        case_id = self._case(arg)
        if case_id is None or self.agent is None:
            return
        for message in self.agent.topic(case_id):
            author = "agent" if message["from"]["id"] == self.agent.id else "bot"
            self.print_message(message, label=f"[№{case_id}] {author} ›", buttons=False)

    async def cmd_cases(self, _arg: str) -> None:
        if self.agent is None:
            self.say("there is no agents' group in this shell")
            return
        topics = self.sandbox.model.chats[self.agent.chat_id].topics.values()
        if not topics:
            self.say("  (no case has reached the agents yet)")
        for topic in topics:
            self.say(f"  {topic.name}{' (closed)' if topic.closed else ''}")

    def _card_button(self, prefix: str) -> Callable[[str], Awaitable[None]]:
        async def press(arg: str) -> None:
            case_id = self._case(arg)
            if case_id is None or self.agent is None:
                return
            await self.agent.press(case_id, data=f"{prefix}{case_id}")
            if self.agent.last_answer and self.agent.last_answer.get("text"):
                self.say(f"agents (toast) › {self.agent.last_answer['text']}")

        return press

    async def order_count(self) -> int:
        async with self.sandbox.db() as session:
            return await SqlOrderSource(OrderRepository(session)).count(Buyer(self.person.id))

    async def cmd_demo(self, _arg: str) -> None:
        async with self.sandbox.db() as session:
            report = await create_demo_orders(
                OrderImporter(OrderRepository(session)), self.person.id, self.clock.now()
            )
            await session.commit()
        self.say(f"(demo orders for user {self.person.id}: {report.summary()}; see 🧾 My orders)")

    async def cmd_say(self, arg: str) -> None:
        if not arg:
            self.say("usage: :say TEXT")
            return
        await self.person.send(arg)

    def read_files(self, arg: str) -> list[tuple[Path, bytes]] | None:
        """The files named on the command line, or None (after saying why)."""
        paths = [Path(word).expanduser() for word in shlex.split(arg)]
        if not paths:
            self.say("name a file, e.g. :photo ~/defect.jpg")
            return None
        files = []
        for path in paths:
            try:
                files.append((path, path.read_bytes()))
            except OSError as exc:
                self.say(f"cannot read {path}: {exc.strerror}")
                return None
        return files

    async def cmd_photo(self, arg: str) -> None:
        files = self.read_files(arg)
        if files is None:
            return
        if len(files) > 1:
            self.say("one photo at a time; :album sends several together")
            return
        self.sandbox.model.send_message(self.person.id, photo=files[0][1])
        await self.sandbox.process()

    async def cmd_album(self, arg: str) -> None:
        files = self.read_files(arg)
        if files is None:
            return
        if not 2 <= len(files) <= 10:
            self.say("an album holds 2 to 10 photos")
            return
        # Like Telegram: one update per photo, all queued before the bot sees any.
        group = f"shell-album-{next(self.albums)}"
        for _path, content in files:
            self.sandbox.model.send_message(self.person.id, photo=content, media_group_id=group)
        await self.sandbox.process()

    async def cmd_file(self, arg: str) -> None:
        files = self.read_files(arg)
        if files is None:
            return
        if len(files) > 1:
            self.say("one file at a time")
            return
        path, content = files[0]
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.sandbox.model.send_message(self.person.id, document=(path.name, content, mime))
        await self.sandbox.process()

    async def cmd_quit(self, _arg: str) -> None:
        self.done = True


async def run_shell(settings: Settings, args: argparse.Namespace) -> int:
    clock = ShiftedClock()
    if not settings.agent_chat_ids():
        settings = settings.model_copy(update={"agent_chat_id": SHELL_GROUP})
    sandbox = await Sandbox.start(settings, clock)
    person = sandbox.person(args.user_id, args.name, language_code=args.lang)
    agent = sandbox.agent(args.user_id + 1_000_000, "Olga", chat_id=min(settings.agent_chat_ids()))
    shell = Shell(sandbox, person, clock, sys.stdout, agent)
    interactive = sys.stdin.isatty()
    if interactive:
        shell.say(
            "supportbot shell: you are a buyer in a private chat; :agent answers as an agent "
            "in the agents' group. :help for help, Ctrl-D to leave."
        )
    if not await shell.order_count():
        shell.say(f"(user {args.user_id} has no orders yet; :demo creates a realistic set)")
    try:
        while not shell.done:
            if interactive:
                print("you › ", end="", flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            if not interactive and line.strip():
                shell.say(f"you › {line.rstrip()}")
            await shell.handle(line)
    finally:
        await sandbox.stop()
    return 0
