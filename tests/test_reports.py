"""The complaint-handling report against a hand-made set of cases.

Cases opened 1-10 November 2026 (Moscow); the figures are worked out below by hand.

| case | locale | tags                   | 1st resp. s (work) | resolution s (work) | in time | rating | status now (events)              |
| 1    | ru     | general, payment_delay | 600 (600)          | 7200 (3600)         | yes     | 5      | resolved                         |
| 2    | ru     | payment, payment_delay | 1800 (1800)        | 86400 (32400)       | yes     | 3      | resolved                         |
| 3    | ru     | payment                | 5400 (0)           | -                   | no      | -      | waiting_buyer                    |
| 4    | en     | defect, payment_delay  | 300 (300)          | 3600 (3600)         | yes     | 4      | in_progress (resolved 4 Nov, reopened 20 Nov) |
| 5    | en     | general                | -                  | -                   | overdue | -      | waiting (due 12 Nov, never answered) |
| 6    | ru     | general                | opened 20 October: outside the period          |
"""  # noqa: E501

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

import pytest

from bot.clock import ManualClock
from bot.emulator.sandbox import Sandbox
from bot.i18n import create_i18n
from bot.reports.chart import chart_figure, render_chart
from bot.reports.cli import set_tag
from bot.reports.render import render
from bot.reports.service import Report, ReportError, ReportService, period_between
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import Case, CaseEvent, CaseTag, Tag, User
from storage.repositories.reports import Measure, Segment
from tests.conftest import make_settings

MSK = ZoneInfo("Europe/Moscow")
I18N = create_i18n("en")
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=MSK).astimezone(UTC)


CASES = [
    # id, locale, type, created, first response (s, work), resolution (s, work), in time,
    # rating, status now, extra events after creation
    (1, "ru", "general", at(2), (600, 600), (7200, 3600), True, 5, "resolved"),
    (2, "ru", "payment", at(3), (1800, 1800), (86400, 32400), True, 3, "resolved"),
    (3, "ru", "payment", at(5), (5400, 0), None, False, None, "waiting_buyer"),
    (4, "en", "defect", at(4), (300, 300), (3600, 3600), True, 4, "in_progress"),
    (5, "en", "general", at(9), None, None, None, None, "waiting"),
    (6, "ru", "general", at(20, month=10), (60, 60), (120, 120), True, 1, "resolved"),
]
TAGS = {1: ["payment_delay"], 2: ["payment_delay"], 4: ["payment_delay"]}


async def fill(url: str) -> None:
    engine = create_engine(url)
    await upgrade(engine)
    async with create_session_factory(engine)() as session:
        session.add(User(id=1, first_name="B", first_seen=at(1, month=10), last_seen=NOW))
        await session.flush()
        session.add(Tag(name="payment_delay", description_en="Payment takes long",
                        description_ru="Оплата долго не проходит"))  # fmt: skip
        for number, locale, type_, created, first, resolution, in_time, rating, status in CASES:
            case = Case(
                id=number, buyer_id=1, type=type_, locale=locale, status=status, reason="",
                created_at=created, updated_at=created,
                response_due_at=created + timedelta(days=3),
                first_response_at=created + timedelta(seconds=first[0]) if first else None,
                first_response_seconds=first[0] if first else None,
                first_response_work_seconds=first[1] if first else None,
                resolution_seconds=resolution[0] if resolution else None,
                resolution_work_seconds=resolution[1] if resolution else None,
                resolved_at=created + timedelta(seconds=resolution[0]) if resolution else None,
                responded_in_time=in_time, rating=rating, agent_chat_id=-100,
                resolver_name="Olga" if resolution else None,
            )  # fmt: skip
            session.add(case)
            await session.flush()
            events = [(created, None, "waiting")]
            if first:
                events.append((created + timedelta(seconds=first[0]), "waiting", "waiting_buyer"))
            if resolution:
                events.append(
                    (created + timedelta(seconds=resolution[0]), "waiting_buyer", "resolved")
                )
            if number == 4:  # reopened after the period: it was resolved at the period's end
                events.append((at(20), "resolved", "in_progress"))
            for when, old, new in events:
                session.add(CaseEvent(case_id=number, at=when, kind="status", from_value=old,
                                      to_value=new))  # fmt: skip
            for tag in [type_, *TAGS.get(number, [])]:
                session.add(CaseTag(case_id=number, tag=tag))
        await session.commit()
    await engine.dispose()


async def build(url: str, by: Segment = Segment.locale, lang: str = "en") -> Report:
    engine = create_engine(url)
    settings = make_settings(url)
    period = period_between(date(2026, 11, 1), date(2026, 11, 10), MSK, NOW)
    async with create_session_factory(engine)() as session:
        report = await ReportService(session, settings, ManualClock(NOW)).build(period, by, lang)
    await engine.dispose()
    return report


def text_of(report: Report, fmt: str = "md") -> str:
    """The report as the command prints it, in the report's language."""
    with I18N.context(), I18N.use_locale(report.lang):
        return render(report, fmt, None)


def chart_of(report: Report) -> bytes:
    with I18N.context(), I18N.use_locale(report.lang):
        return render_chart(report)


async def check_hand_made_figures(url: str) -> Report:
    await fill(url)
    report = await build(url)
    everything = report.all
    assert everything.opened == 5
    assert {key: f.opened for key, f in report.segments.items()} == {"ru": 3, "en": 2}
    # First response: 300, 600, 1800, 5400 -> average 8100 / 4, lower middle 600.
    assert everything.average(Measure.response) == 2025
    assert everything.medians[Measure.response] == 600
    # Working time: 0, 300, 600, 1800 -> 675 and 300.
    assert everything.average(Measure.response_work) == 675
    assert everything.medians[Measure.response_work] == 300
    # Resolution: 3600, 7200, 86400 -> 32400 and 7200.
    assert everything.average(Measure.resolution) == 32400
    assert everything.medians[Measure.resolution] == 7200
    # In time: cases 1, 2, 4; late: 3; overdue and unanswered: 5 -> 3 of 5.
    assert everything.in_time_share == pytest.approx(0.6)
    # Open at the end of 10 November: 3 and 5 (4 was resolved then, reopened later).
    assert everything.open_at_end == 2
    assert everything.csat == 4.0
    assert everything.sums.ratings == [0, 0, 1, 1, 1]
    russian = report.segments["ru"]
    assert russian.average(Measure.response) == 2600  # (600 + 1800 + 5400) / 3
    assert russian.medians[Measure.response] == 1800
    assert [(t.name, t.cases) for t in report.tags][:2] == [("payment_delay", 3), ("general", 2)]
    assert {(t.name, t.cases) for t in report.tags} == {
        ("payment_delay", 3), ("general", 2), ("payment", 2), ("defect", 1)
    }  # fmt: skip
    return report


async def test_hand_made_figures_on_sqlite(sqlite_url: str) -> None:
    await check_hand_made_figures(sqlite_url)


@pytest.mark.postgres
async def test_same_report_on_postgres_and_sqlite(sqlite_url: str, postgres_url: str) -> None:
    on_sqlite = await check_hand_made_figures(sqlite_url)
    on_postgres = await check_hand_made_figures(postgres_url)
    for fmt in ("md", "csv", "json"):
        assert text_of(on_postgres, fmt) == text_of(on_sqlite, fmt)


async def test_report_reads_like_the_published_figures(sqlite_url: str) -> None:
    await fill(sqlite_url)
    english = text_of(await build(sqlite_url))
    russian = text_of(await build(sqlite_url, lang="ru"))
    assert "| Cases opened | 3 | 2 | 5 |" in english
    assert "33 min 45 sec" in english  # the average first response, 2025 s
    assert "9 h" in english  # the average resolution, 32400 s
    assert "33 мин 45 с" in russian
    assert "Оплата долго не проходит" in russian
    assert "Payment takes long" in english
    assert "### Самые частые метки\n\n| Метка | Обращений | О чём |" in russian
    assert "медианой считается меньшее из двух центральных значений" in russian


async def test_segments_by_type_and_agent(sqlite_url: str) -> None:
    await fill(sqlite_url)
    by_type = await build(sqlite_url, Segment.type)
    assert {k: f.opened for k, f in by_type.segments.items()} == {
        "payment": 2, "general": 2, "defect": 1
    }  # fmt: skip
    by_agent = await build(sqlite_url, Segment.agent)
    assert by_agent.segments["Olga"].opened == 3
    rows = [line.split(",")[:2] for line in text_of(by_agent, "csv").splitlines()[1:]]
    assert rows == [["Olga", "3"], ["unassigned", "2"], ["all", "5"]]


async def test_empty_period_says_so(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    await engine.dispose()
    report = await build(sqlite_url)
    assert report.all.opened == 0
    assert "There were no cases" in text_of(report)


def test_bad_periods_get_one_clear_line() -> None:
    with (
        I18N.context(),
        I18N.use_locale("ru"),
        pytest.raises(ReportError, match="Дата начала позже даты окончания"),
    ):
        period_between(date(2026, 11, 10), date(2026, 11, 1), MSK, NOW)
    with I18N.context(), I18N.use_locale("en"):
        with pytest.raises(ReportError, match="after the end date"):
            period_between(date(2026, 11, 10), date(2026, 11, 1), MSK, NOW)
        with pytest.raises(ReportError, match="in the future"):
            period_between(date(2026, 12, 1), date(2026, 12, 5), MSK, NOW)
        cut = period_between(date(2026, 11, 20), date(2026, 11, 30), MSK, NOW)
    assert cut.end == NOW


async def test_chart_is_a_png_of_sensible_size(sqlite_url: str) -> None:
    await fill(sqlite_url)
    png = chart_of(await build(sqlite_url))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert 600 <= width <= 2400
    assert 400 <= height <= 2000
    assert 10_000 < len(png) < 1_000_000


async def test_russian_chart_names_days_in_russian_and_counts_whole_cases(
    sqlite_url: str,
) -> None:
    await fill(sqlite_url)
    report = await build(sqlite_url, lang="ru")
    with I18N.context(), I18N.use_locale("ru"):
        figure = chart_figure(report)
    figure.canvas.draw()
    daily = figure.axes[0]
    days = [label.get_text() for label in daily.get_xticklabels()]
    assert days
    assert all(re.fullmatch(r"\d{1,2} нояб\.", day) for day in days), days
    counts = [tick for tick in daily.get_yticks() if tick >= 0]
    assert counts
    assert all(tick == int(tick) for tick in counts), counts
    assert daily.get_title() == "Новые обращения по дням"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--from", "2026-11-10", "--to", "2026-11-01"], "The start date is after the end date."),
        (["--by", "planet"], "Unknown segment planet"),
        (["--from", "2099-01-01", "--to", "2099-01-02"], "The period starts in the future"),
        (["--from", "2099-01-01"], "The period starts in the future"),
        (["--from", "11/01/2026"], "11/01/2026 is not a date"),
    ],
)
def test_report_command_refuses_bad_input_in_one_line(
    tmp_path: Path, arguments: list[str], says: str
) -> None:
    result = report_command(tmp_path, arguments)
    assert result.returncode == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def report_command(
    tmp_path: Path, arguments: list[str], stdout: int | TextIO = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "report", *arguments],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}", "PATH": ""},
        timeout=60,
        check=False,
    )


def test_report_that_cannot_be_written_gets_one_line(tmp_path: Path) -> None:
    chart = report_command(tmp_path, ["--chart", str(tmp_path / "missing" / "c.png")])
    assert chart.returncode == 1
    assert chart.stderr == (
        f"supportbot report: Cannot write the chart to {tmp_path / 'missing' / 'c.png'}: "
        "No such file or directory.\n"
    )
    assert chart.stdout == ""
    with open("/dev/full", "w") as full:
        printed = report_command(tmp_path, ["--lang", "ru"], stdout=full)
    assert printed.returncode == 1
    assert printed.stderr == (
        "supportbot report: Не получилось вывести отчёт: No space left on device.\n"
    )


@pytest.mark.parametrize(
    ("agent_locale", "heading", "cases_row"),
    [
        # November so far: the month is cut at now, the 24th.
        (
            "en",
            "Complaint-handling report, 1 November 2026 – 24 November 2026",
            "Cases opened\nRussian 3 · English 2 · all 5\n",
        ),
        (
            "ru",
            "Отчёт о работе с обращениями, 1 ноября 2026 — 24 ноября 2026",
            "Новых обращений\nрусский 3 · английский 2 · всего 5\n",
        ),
    ],
)
async def test_stats_in_the_agents_group(
    sqlite_url: str, agent_locale: str, heading: str, cases_row: str
) -> None:
    await fill(sqlite_url)
    group = -1001234
    settings = make_settings(sqlite_url, agent_chat_id=group, agent_locale=agent_locale)
    box = await Sandbox.start(settings, ManualClock(NOW))
    try:
        box.model.add_user(501, "Olga", language_code="de")
        box.model.send_message(501, "/stats 2026-11", chat_id=group)
        await box.process()
        [table, chart] = box.model.bot_messages(group)[-2:]
        assert heading in table["text"]
        assert cases_row in table["text"]
        # Telegram's own formatting, no Markdown table left in the text.
        assert not {"|", "---", "###"} & set(re.split(r"\s+", table["text"]))
        bold = {table["text"][e["offset"] : e["offset"] + e["length"]]
                for e in table["entities"] if e["type"] == "bold"}  # fmt: skip
        assert cases_row.split("\n")[0] in bold
        tags = "Самые частые метки" if agent_locale == "ru" else "Most frequent tags"
        assert f"\n\n{tags}\npayment_delay: 3" in table["text"]
        assert "photo" in chart
        box.model.send_message(501, "/stats yesterday", chat_id=group)
        await box.process()
        [refusal] = box.model.bot_messages(group)[-1:]
        assert "/stats 7d" in refusal["text"]
        # A buyer typing /stats in private gets nothing from the report.
        buyer = box.person(77, "Anna")
        [reply] = await buyer.send("/stats 2026-11")
        assert cases_row not in reply["text"]
    finally:
        await box.stop()


@pytest.mark.parametrize(
    ("name", "description", "says"),
    [
        ("x", "One letter", "'x' is not a tag name: 2 to 32 Latin letters, digits or _"),
        ("a" * 33, "Too long", "is not a tag name: 2 to 32 Latin letters, digits or _"),
        ("payment_delay", "  ", "the description is empty; write one line"),
    ],
)
async def test_tags_set_takes_what_tag_takes(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], name: str, description: str, says: str
) -> None:
    args = argparse.Namespace(name=name, description=description, lang="en")
    assert await set_tag(make_settings(sqlite_url), args) == 2
    error = capsys.readouterr().err
    assert says in error
    assert len(error.strip().splitlines()) == 1


async def test_tags_set_stores_the_tag_as_tag_writes_it(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(name="#Payment_Delay", description="Payment takes long", lang="en")
    assert await set_tag(make_settings(sqlite_url), args) == 0
    assert capsys.readouterr().out == "supportbot: payment_delay (en): Payment takes long\n"
    engine = create_engine(sqlite_url)
    async with create_session_factory(engine)() as session:
        tag = await session.get(Tag, "payment_delay")
    await engine.dispose()
    assert tag is not None
    assert tag.description_en == "Payment takes long"
