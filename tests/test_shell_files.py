"""The shell sends real files: a photo, an album (one update per photo), an image as a file."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from bot.clock import ManualClock
from bot.emulator.sandbox import Sandbox
from bot.shell import Shell
from tests.conftest import START
from tests.factories import PHOTO, add_orders, order


async def test_shell_photo_album_and_file_reach_the_defect_dialog(
    sandbox: Sandbox, clock: ManualClock, tmp_path: Path
) -> None:
    await add_orders(sandbox, order("S1", 901, "delivered", placed_at=START - timedelta(days=4)))
    for name in ("a.jpg", "b.jpg", "c.png"):
        (tmp_path / name).write_bytes(PHOTO + name.encode())
    out = io.StringIO()
    shell = Shell(sandbox, sandbox.person(901, "Anna"), clock, out)  # type: ignore[arg-type]
    for line in (
        "/start",
        "3",  # the defect button
        ":say S1",
        "The lid is cracked",
        f":photo {tmp_path / 'a.jpg'}",
        f":album {tmp_path / 'a.jpg'} {tmp_path / 'b.jpg'}",
        f":file {tmp_path / 'c.png'}",
        f":file {tmp_path / 'missing.png'}",
        f":album {tmp_path / 'a.jpg'}",
    ):
        await shell.handle(line)
    printed = out.getvalue()
    assert "4 photos received. Send more (up to 10 in all) or press Done." in printed
    assert "cannot read" in printed
    assert "an album holds 2 to 10 photos" in printed
    sent = [m for m in sandbox.model.messages(901) if m["from"]["id"] == 901]
    album = [m for m in sent if "media_group_id" in m]
    assert len(album) == 2
    assert len({m["media_group_id"] for m in album}) == 1
    assert sent[-1]["document"]["mime_type"] == "image/png"
    stored = sandbox.model.files[sent[-1]["document"]["file_id"]]
    assert stored.content == PHOTO + b"c.png"
