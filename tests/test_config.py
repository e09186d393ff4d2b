"""Start-up with missing or wrong settings: one clear line, never a traceback."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.logs import RedactSecrets
from tests.conftest import make_settings

ENV = ("BOT_TOKEN", "AGENT_CHAT_ID", "DATABASE_URL", "TIMEZONE", "TELEGRAM_API_URL", "WORK_HOURS")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("AGENT_CHAT_ID", "not-a-number", "AGENT_CHAT_ID"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE: Value error, unknown time zone"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL"),
        ("WORK_HOURS", "18:00-09:00", "WORK_HOURS"),
        ("DATABASE_URL", "mysql://shop:hunter2@db/shop", "DATABASE_URL: Value error, not a"),
    ],
)
def test_wrong_value_names_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    message = str(exit_info.value.code)
    assert message.startswith("supportbot: configuration error: ")
    assert says in message
    assert "\n" not in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://shop@db:5432/shop", "postgresql+asyncpg://shop@db:5432/shop"),
        ("postgresql://shop@db/shop", "postgresql+asyncpg://shop@db/shop"),
        ("postgresql+asyncpg://shop@db/shop", "postgresql+asyncpg://shop@db/shop"),
        ("sqlite:///data/bot.sqlite3", "sqlite+aiosqlite:///data/bot.sqlite3"),
    ],
)
def test_database_addresses_as_hosting_panels_write_them(given: str, used: str) -> None:
    assert make_settings(given).database_url == used


def test_value_from_dotenv_file(clean_env: Path) -> None:
    (clean_env / ".env").write_text("AGENT_CHAT_ID=oops\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    assert "AGENT_CHAT_ID" in str(exit_info.value.code)


def test_run_without_token_points_to_the_shell(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "BOT_TOKEN is not set" in error
    assert "supportbot shell" in error


def test_secrets_are_redacted_from_log_records() -> None:
    token = "123456:SECRET-token"
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "calling https://host/bot%s/getMe", (token,), None
    )
    RedactSecrets([token]).filter(record)
    assert token not in record.getMessage()
    assert "bot***" in record.getMessage()


def test_shell_reads_a_pipe_in_both_languages(tmp_path: Path) -> None:
    script = "/start\n6\nМой заказ потерялся\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "shell", "--lang", "ru", "--user-id", "77"],
        input=script,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shell.sqlite3'}", "PATH": ""},
        timeout=60,
        check=True,
    )
    assert "bot › Здравствуйте" in result.stdout
    assert "(pressed: 🙋 Связаться с сотрудником)" in result.stdout
    assert "Ваше обращение №1 зарегистрировано" in result.stdout
    assert "Traceback" not in result.stderr
    english = subprocess.run(
        [sys.executable, "-m", "bot", "shell", "--lang", "en", "--user-id", "78"],
        input="/start\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shell.sqlite3'}", "PATH": ""},
        timeout=60,
        check=True,
    )
    assert "bot › Hello, Anna!" in english.stdout
