"""Secrets never printed: every command, against every broken Bot API and database
address, prints no token-shaped string, no secret, no password, and fails with one
clear line instead of a traceback."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import bot.app
from bot.cli import main
from bot.config import Settings
from bot.logs import Redactor, RedactSecrets
from tests.conftest import quiet_root_logger

TOKEN = "7012345678:AAHdQwErTyUiOpAsDfGhJkLzXcVbNm1234567"
LINK_SECRET = "link-secret-0123456789abcdef-0123456789"
DB_PASSWORD = "pg-password-8f3a1c"
SECRETS = (TOKEN, TOKEN.split(":")[1], LINK_SECRET, DB_PASSWORD)
TOKEN_SHAPED = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


class Refusing(BaseHTTPRequestHandler):
    """A Bot API server that refuses every call and, rudely, echoes the URL back."""

    def do_POST(self) -> None:
        body = json.dumps(
            {"ok": False, "error_code": 401, "description": f"Unauthorized: {self.path}"}
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def refusing_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


API_URLS = {
    "refused": "http://127.0.0.1:1",
    "bad port": "http://127.0.0.1:99999",
    "not a url": "not a url",
    "refusing server": "refusing",  # the fixture's address
}
DATABASE_URLS = {
    "not a url": "not a url",
    "unknown driver": f"mysql+nosuchdriver://root:{DB_PASSWORD}@127.0.0.1/shop",
    "refused postgres": f"postgresql+asyncpg://postgres:{DB_PASSWORD}@127.0.0.1:1/shop",
    "missing folder": "sqlite+aiosqlite:////nonexistent-folder/bot.sqlite3",
}
COMMANDS = {
    "run": ["run"],
    "shell": ["shell"],
    "migrate": ["migrate"],
    "orders import": ["orders", "import", "orders.csv"],
    "orders demo": ["orders", "demo", "--telegram-id", "5"],
    "link": ["link", "B-1"],
    "link named": ["link", "B-1", "--bot-username", "shop_help_bot"],
    "report": ["report"],
    "tags": ["tags", "set", "payment", "Payment failure"],
    "i18n": ["i18n"],
}
# Each command once per broken Bot API address (on a good database), and once per
# broken database address (with an API that refuses connections).
BROKEN = [("api", name) for name in API_URLS] + [("database", name) for name in DATABASE_URLS]


def run_command(
    argv: list[str],
    api: str,
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    log_level: str,
) -> tuple[int, str, str]:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("LINK_SECRET", LINK_SECRET)
    monkeypatch.setenv("TELEGRAM_API_URL", api)
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("LOG_LEVEL", log_level)
    monkeypatch.setattr(sys, "stdin", io.StringIO("/start\n"))
    try:
        with pytest.raises(SystemExit) as exited:
            main(argv)
    finally:
        quiet_root_logger()
        logging.captureWarnings(False)
    out, err = capsys.readouterr()
    code = exited.value.code
    if isinstance(code, str):  # sys.exit("message") prints it to stderr
        err, code = err + code + "\n", 1
    return int(code or 0), out, err


def assert_no_secrets(*texts: str) -> None:
    for text in texts:
        assert TOKEN_SHAPED.search(text) is None, text
        for secret in SECRETS:
            assert secret not in text, text


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)
    # `run` retries an unreachable Bot API for half a minute; what is said is the same.
    monkeypatch.setattr(bot.app, "FIRST_RETRY_SECONDS", 0.01)
    (tmp_path / "orders.csv").write_text(
        "order_id,buyer_telegram_id,status,placed_at,payment_method,amount,currency,title\n"
        "A-1,5,unpaid,2026-11-24T09:00:00+03:00,card,1,RUB,Mug\n",
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize(("broken", "variant"), BROKEN)
@pytest.mark.parametrize("command", COMMANDS)
def test_no_command_prints_a_secret_whatever_is_broken(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    refusing_api: str,
    command: str,
    broken: str,
    variant: str,
) -> None:
    api, database = API_URLS["refused"], f"sqlite+aiosqlite:///{workdir / 'bot.sqlite3'}"
    if broken == "api":
        api = refusing_api if API_URLS[variant] == "refusing" else API_URLS[variant]
    else:
        database = DATABASE_URLS[variant]
    # DEBUG: every log record there is, tracebacks included, must be clean too.
    code, out, err = run_command(COMMANDS[command], api, database, monkeypatch, capsys, "DEBUG")
    assert_no_secrets(out, err)
    if code != 0:
        said = [line for line in err.splitlines() if line.startswith("supportbot")]
        assert said, err
    # At the default level a failure is one line, never a traceback.
    code, out, err = run_command(COMMANDS[command], api, database, monkeypatch, capsys, "INFO")
    assert_no_secrets(out, err)
    assert "Traceback" not in err
    if code != 0:
        said = [line for line in err.splitlines() if not LOG_LINE.match(line)]
        assert len(said) == 1, err
        assert said[0].startswith("supportbot"), err


def test_the_failures_say_what_to_fix(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    refusing_api: str,
) -> None:
    good_db = f"sqlite+aiosqlite:///{workdir / 'bot.sqlite3'}"
    cases = [
        (["run"], "http://127.0.0.1:99999", good_db,
         "supportbot: cannot reach the Bot API at TELEGRAM_API_URL=http://127.0.0.1:99999 "
         "(TelegramNetworkError: HTTP Client says - InvalidUrlClientError: "
         "http://127.0.0.1:99999/bot***/getMe); check the address and the network"),
        (["run"], refusing_api, good_db,
         "supportbot: the Bot API refused BOT_TOKEN (TelegramUnauthorizedError: Telegram "
         "server says - Unauthorized: /bot***/getMe); check the token from @BotFather"),
        (["link", "B-1"], "http://127.0.0.1:99999", good_db,
         "supportbot: could not ask Telegram for the bot's username ("
         "InvalidUrlClientError: http://127.0.0.1:99999/bot***/getMe); give it with "
         "--bot-username"),
        (["migrate"], API_URLS["refused"], "not a url",
         "supportbot: configuration error: DATABASE_URL: Value error, not a database "
         "address supportbot can open; e.g. sqlite+aiosqlite:///supportbot.sqlite3"),
        (["migrate"], API_URLS["refused"], "postgresql+asyncpg://postgres@127.0.0.1:port/shop",
         "supportbot: configuration error: DATABASE_URL: Value error, not a database "),
        (["report"], API_URLS["refused"], DATABASE_URLS["refused postgres"],
         "supportbot: cannot open the database at DATABASE_URL (ConnectionRefusedError"),
        (["run"], "not a url", good_db,
         "supportbot: configuration error: TELEGRAM_API_URL: Value error, must start with"),
    ]  # fmt: skip
    for argv, api, database, says in cases:
        code, _out, err = run_command(argv, api, database, monkeypatch, capsys, "WARNING")
        assert code != 0
        assert err.strip().startswith(says), err


def test_redaction_covers_every_secret_in_settings() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        link_secret=LINK_SECRET,
        database_url=DATABASE_URLS["refused postgres"],
        redis_url=f"redis://:{DB_PASSWORD}@127.0.0.1:6379/0",
    )
    redactor = Redactor.for_settings(settings)
    text = (
        f"url http://h/bot{TOKEN}/getMe, quoted {TOKEN.replace(':', '%3A')}, half "
        f"{TOKEN.split(':')[1]}, link {LINK_SECRET}, db {settings.database_url}, "
        f"someone else's token 123456789:{'x' * 35}"
    )
    assert_no_secrets(redactor.redact(text))
    assert "http://h/bot***/getMe" in redactor.redact(text)
    # Any SecretStr added to Settings later is covered without touching the redaction.
    secret_fields = [
        name
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    ]
    assert set(secret_fields) <= {"bot_token", "link_secret", "webhook_secret"}
    assert {"bot_token", "link_secret"} <= set(secret_fields)


def test_log_records_with_tracebacks_are_redacted() -> None:
    try:
        raise RuntimeError(f"calling https://api/bot{TOKEN}/getMe")
    except RuntimeError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed %s", (TOKEN,), sys.exc_info()
        )
    RedactSecrets(Redactor([TOKEN])).filter(record)
    formatted = logging.Formatter().format(record)
    assert "Traceback" in formatted
    assert_no_secrets(formatted)


def test_the_reported_case_over_a_real_process(tmp_path: Path) -> None:
    """The issue's own reproduction: `supportbot run` with a malformed API port."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_URL": "http://127.0.0.1:99999",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
            "PATH": "",
        },
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert_no_secrets(result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("supportbot: cannot reach the Bot API")
