"""`supportbot orders import` and `orders demo`: formats, bad rows, idempotency."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.domain.orders import OrderStatus, PaymentMethod
from bot.ops.order_demo import demo_records
from storage.db import create_engine, create_session_factory
from storage.models import Order

EXAMPLE = Path(__file__).parent.parent / "docs" / "orders-example.csv"
HEADER = (
    "order_id,buyer_telegram_id,buyer_id,status,placed_at,paid_at,payment_method,"
    "amount,currency,title,refund_issued_at"
)
GOOD = "A-1,42,,paid,2026-11-24T09:00:00+03:00,2026-11-24T09:01:00+03:00,card,10.50,RUB,Mug,"


def run(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, sqlite_url: str, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", sqlite_url)


def orders(url: str) -> dict[str, Order]:
    """What the database holds (the CLI runs its own event loop, so the tests are sync)."""

    async def read() -> dict[str, Order]:
        engine = create_engine(url)
        async with create_session_factory(engine)() as session:
            found = {o.order_id: o for o in (await session.scalars(select(Order))).all()}
        await engine.dispose()
        return found

    return asyncio.run(read())


def test_example_file_loads_and_reimport_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    code, out, _err = run(["orders", "import", str(EXAMPLE)], monkeypatch, capsys)
    assert code == 0
    assert out.strip() == "supportbot: 6 added, 0 updated, 0 unchanged, 0 rejected"
    stored = orders(sqlite_url)
    cancelled = stored["100511-0002"]
    assert cancelled.status == OrderStatus.cancelled
    assert cancelled.buyer_telegram_id == 412345678
    assert cancelled.buyer_id == "B-60017"
    assert cancelled.amount == Decimal("159.99")
    assert cancelled.currency == "USD"
    assert cancelled.title == "E-reader, 16 GB"
    assert cancelled.refund_issued_at == datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
    # +03:00 is kept as the same instant, stored in UTC.
    assert stored["100234-0002"].placed_at == datetime(2026, 11, 24, 6, 12, tzinfo=UTC)
    assert stored["100234-0001"].paid_at is None

    code, out, _err = run(["orders", "import", str(EXAMPLE)], monkeypatch, capsys)
    assert (code, out.strip()) == (0, "supportbot: 0 added, 0 updated, 6 unchanged, 0 rejected")
    assert len(orders(sqlite_url)) == 6


def test_changed_rows_are_updated_by_order_id(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    run(["orders", "import", str(EXAMPLE)], monkeypatch, capsys)
    changed = tmp_path / "changed.csv"
    changed.write_text(
        HEADER + "\n"
        "100234-0002,,B-58211,shipped,2026-11-24T09:12:00+03:00,2026-11-24T09:14:30+03:00,"
        "card,2490.00,RUB,Power bank 10000 mAh,\n" + GOOD + "\n",
        encoding="utf-8",
    )
    code, out, _err = run(["orders", "import", str(changed)], monkeypatch, capsys)
    assert (code, out.strip()) == (0, "supportbot: 1 added, 1 updated, 0 unchanged, 0 rejected")
    assert (orders(sqlite_url))["100234-0002"].status == OrderStatus.shipped


BAD_ROWS = [
    ("A 1,42,,paid,2026-11-24T09:00:00+03:00,2026-11-24T09:01:00+03:00,card,1,RUB,Mug,",
     "order_id 'A 1' must be 1 to 40 letters, digits, '-' or '_'"),
    ("A-2,,,paid,2026-11-24T09:00:00+03:00,2026-11-24T09:01:00+03:00,card,1,RUB,Mug,",
     "buyer_telegram_id and buyer_id are both empty: whose order is it?"),
    ("A-3,42,,lost,2026-11-24T09:00:00+03:00,,card,1,RUB,Mug,",
     "status 'lost' is not one of unpaid, paid, shipped, delivered, awaiting_review, "
     "cancelled, refunded"),
    ("A-4,42,,unpaid,2026-11-24T09:00:00,,card,1,RUB,Mug,",
     "placed_at '2026-11-24T09:00:00' has no UTC offset (write e.g. +03:00 or Z)"),
    ("A-5,42,,paid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mug,", "a paid order needs paid_at"),
    ("A-6,42,,unpaid,2026-11-24T09:00:00+03:00,,cash,1,RUB,Mug,",
     "payment_method 'cash' is not one of card, wallet, bonus"),
    ("A-7,42,,unpaid,2026-11-24T09:00:00+03:00,,card,ten,RUB,Mug,", "amount 'ten' is not a number"),
    ("A-8,42,,unpaid,2026-11-24T09:00:00+03:00,,card,1,rubles,Mug,",
     "currency 'rubles' is not an ISO 4217 code"),
    ("A-9,42,,unpaid,2026-11-24T09:00:00+03:00,,card,1,XYZ,Mug,",
     "currency 'XYZ' is not an ISO 4217 code"),
    ("A-10,42,,delivered,2026-11-24T09:00:00+03:00,2026-11-24T09:01:00+03:00,card,1,RUB,Mug,"
     "2026-11-25T09:00:00+03:00", "refund_issued_at is only for cancelled or refunded orders"),
    ("A-11,abc,,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mug,",
     "buyer_telegram_id 'abc' is not a Telegram user id"),
    ("A-12,42,,unpaid,2026-11-24T09:00:00+03:00,,card,-5,RUB,Mug,", "amount '-5' is out of range"),
    ("A-13,42,,unpaid,yesterday,,card,1,RUB,Mug,",
     "placed_at 'yesterday' is not an ISO 8601 date and time"),
    ("A-14,42,,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,,", "title is empty"),
    ("A-15,42,,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mug,,extra",
     "more cells than the header has columns"),
    (GOOD, "order_id A-1 already appears on line 2"),
]  # fmt: skip


def test_bad_rows_are_reported_by_line_and_good_rows_still_load(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "\n".join([HEADER, GOOD, *(row for row, _ in BAD_ROWS)]) + "\n", encoding="utf-8"
    )
    code, out, _err = run(["orders", "import", str(path)], monkeypatch, capsys)
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[:-1] == [
        f"{path}:{number}: rejected: {reason}" for number, (_, reason) in enumerate(BAD_ROWS, 3)
    ]
    assert lines[-1] == f"supportbot: 1 added, 0 updated, 0 unchanged, {len(BAD_ROWS)} rejected"
    assert set(orders(sqlite_url)) == {"A-1"}


def test_json_lines_by_extension_or_content(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    rows = [
        {"order_id": "J-1", "buyer_telegram_id": 42, "status": "delivered",
         "placed_at": "2026-11-01T10:00:00Z", "paid_at": "2026-11-01T10:05:00Z",
         "payment_method": "wallet", "amount": 12.3, "currency": "eur", "title": "Lamp"},
        {"order_id": "J-2", "buyer_id": "B-7", "buyer_telegram_id": None, "status": "unpaid",
         "placed_at": "2026-11-02T10:00:00+01:00", "paid_at": None, "payment_method": "card",
         "amount": "5", "currency": "EUR", "title": "Cable"},
    ]  # fmt: skip
    text = "\n".join(json.dumps(row) for row in rows) + "\n\nnot json\n[1, 2]\n"
    for name in ("orders.jsonl", "orders.txt"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    code, out, _err = run(["orders", "import", str(tmp_path / "orders.jsonl")], monkeypatch, capsys)
    assert code == 1
    assert out.strip().splitlines() == [
        f"{tmp_path / 'orders.jsonl'}:4: rejected: not valid JSON (Expecting value)",
        f"{tmp_path / 'orders.jsonl'}:5: rejected: a line must be one JSON object",
        "supportbot: 2 added, 0 updated, 0 unchanged, 2 rejected",
    ]
    stored = orders(sqlite_url)
    assert stored["J-1"].amount == Decimal("12.30")
    assert stored["J-1"].currency == "EUR"
    assert stored["J-1"].payment_method == PaymentMethod.wallet
    assert stored["J-2"].buyer_id == "B-7"
    assert stored["J-2"].buyer_telegram_id is None
    _code, out, _err = run(["orders", "import", str(tmp_path / "orders.txt")], monkeypatch, capsys)
    assert out.strip().splitlines()[-1] == (
        "supportbot: 0 added, 0 updated, 2 unchanged, 2 rejected"
    )


def test_a_file_without_the_needed_columns_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,status\nA-1,paid\n", encoding="utf-8")
    code, _out, err = run(["orders", "import", str(path)], monkeypatch, capsys)
    assert code == 2
    assert err.strip() == (
        f"supportbot: {path}: the header row lacks the columns: placed_at, payment_method, "
        "amount, currency, title"
    )


def test_demo_command_creates_every_branch_for_one_buyer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    code, out, _err = run(["orders", "demo", "--telegram-id", "777"], monkeypatch, capsys)
    assert code == 0
    assert out.strip() == (
        "supportbot: demo orders for Telegram user 777: 13 added, 0 updated, 0 unchanged, "
        "0 rejected"
    )
    stored = orders(sqlite_url)
    assert len(stored) == 13
    assert {o.buyer_telegram_id for o in stored.values()} == {777}
    _code, out, _err = run(["orders", "demo", "--telegram-id", "777"], monkeypatch, capsys)
    assert "0 added, 13 updated" in out  # the same orders, moved to the new "now"


def test_demo_set_covers_every_dialog_branch() -> None:
    now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    orders = demo_records(5, now)
    hours = timedelta(hours=1)

    def having(status: OrderStatus, **checks: object) -> list[object]:
        return [o for o in orders if o.status is status and all(
            check(o) for check in checks.values()  # type: ignore[operator]
        )]  # fmt: skip

    assert having(OrderStatus.unpaid)
    for method in PaymentMethod:  # paid within 8 hours, by each method: cancelled at once
        assert having(
            OrderStatus.paid,
            recent=lambda o: now - o.placed_at <= 8 * hours,
            method=lambda o, m=method: o.payment_method is m,
        )
    assert having(OrderStatus.paid, late=lambda o: now - o.placed_at > 8 * hours)
    assert having(OrderStatus.shipped)
    assert having(OrderStatus.delivered)
    assert having(
        OrderStatus.cancelled,
        refund_due_soon=lambda o: o.refund_issued_at and now - o.refund_issued_at < 14 * 24 * hours,
    )
    assert having(
        OrderStatus.refunded,
        overdue=lambda o: o.refund_issued_at and now - o.refund_issued_at > 14 * 24 * hours,
    )
    assert having(OrderStatus.refunded, bonus=lambda o: o.payment_method is PaymentMethod.bonus)
    assert having(
        OrderStatus.cancelled, no_refund_date=lambda o: o.paid_at and not o.refund_issued_at
    )
    assert having(OrderStatus.cancelled, never_paid=lambda o: o.paid_at is None)
    assert len({o.order_id for o in orders}) == len(orders)


HOSTILE_CSV = [
    ("H-1,12345678901234567890,,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mug,",
     "buyer_telegram_id '12345678901234567890' is not a Telegram user id"),
    ("H-2,42,,unpaid,9999-12-31T23:59:00-23:59,,card,1,RUB,Mug,",
     "placed_at '9999-12-31T23:59:00-23:59' is out of range (years 2000 to 2100)"),
    ("H-3,42,,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mu\x00g,",
     "title holds a control character (U+0000)"),
    ("H-4,42,,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mu\x1bg,",
     "title holds a control character (U+001B)"),
    ("H-5,42,B-\x00,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mug,",
     "buyer_id holds a control character (U+0000)"),
]  # fmt: skip
HOSTILE_JSON: list[tuple[dict[str, object], str]] = [
    ({"title": {"name": "Mug"}}, "title must be text, not an object"),
    ({"title": ["Mug"]}, "title must be text, not a list"),
    ({"currency": 643}, "currency must be text, not a number"),
    ({"status": True}, "status must be text, not true or false"),
    ({"buyer_telegram_id": 12345678901234567890},
     "buyer_telegram_id '12345678901234567890' is not a Telegram user id"),
    ({"placed_at": "0001-01-01T00:00:00+23:59"},
     "placed_at '0001-01-01T00:00:00+23:59' is out of range (years 2000 to 2100)"),
    ({"title": "Mug\u0000"}, "title holds a control character (U+0000)"),
]  # fmt: skip
GOOD_JSON = {
    "order_id": "J-0", "buyer_telegram_id": 42, "status": "unpaid",
    "placed_at": "2026-11-01T10:00:00Z", "payment_method": "card", "amount": 5,
    "currency": "EUR", "title": "Lamp",
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> str:
    """The import runs on SQLite and on PostgreSQL alike."""
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    monkeypatch.setenv("DATABASE_URL", url)
    return str(url)


def test_hostile_rows_are_rejected_one_by_one_and_good_rows_load(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], any_db: str, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    rows = [HEADER, GOOD, *(row for row, _ in HOSTILE_CSV), GOOD.replace("A-1", "A-2")]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, out, err = run(["orders", "import", str(path)], monkeypatch, capsys)
    assert (code, err) == (1, "")
    assert out.strip().splitlines() == [
        *(f"{path}:{number}: rejected: {reason}" for number, (_, reason) in
          enumerate(HOSTILE_CSV, 3)),
        f"supportbot: 2 added, 0 updated, 0 unchanged, {len(HOSTILE_CSV)} rejected",
    ]  # fmt: skip
    assert set(orders(any_db)) == {"A-1", "A-2"}

    path = tmp_path / "orders.jsonl"
    lines = [json.dumps(GOOD_JSON)]
    for number, (change, _) in enumerate(HOSTILE_JSON, 1):
        lines.append(json.dumps(GOOD_JSON | {"order_id": f"J-{number}"} | change))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(["orders", "import", str(path)], monkeypatch, capsys)
    assert (code, err) == (1, "")
    assert out.strip().splitlines() == [
        *(f"{path}:{number}: rejected: {reason}" for number, (_, reason) in
          enumerate(HOSTILE_JSON, 2)),
        f"supportbot: 1 added, 0 updated, 0 unchanged, {len(HOSTILE_JSON)} rejected",
    ]  # fmt: skip
    assert orders(any_db)["J-0"].title == "Lamp"
    assert "J-1" not in orders(any_db)


def test_a_row_the_database_refuses_is_rejected_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], any_db: str, tmp_path: Path
) -> None:
    # Past validation on purpose: the database's own refusal must cost one row, not the batch.
    monkeypatch.setattr("bot.ops.order_import.MAX_TELEGRAM_ID", 10**30)
    path = tmp_path / "orders.csv"
    huge = "A-9,12345678901234567890,,unpaid,2026-11-24T09:00:00+03:00,,card,1,RUB,Mug,"
    path.write_text("\n".join([HEADER, GOOD, huge, GOOD.replace("A-1", "A-2")]) + "\n")
    code, out, err = run(["orders", "import", str(path)], monkeypatch, capsys)
    assert (code, err) == (1, "")
    [rejected, summary] = out.strip().splitlines()
    assert rejected.startswith(f"{path}:3: rejected: the database refused it: ")
    assert summary == "supportbot: 2 added, 0 updated, 0 unchanged, 1 rejected"
    assert set(orders(any_db)) == {"A-1", "A-2"}


@pytest.mark.parametrize(
    ("content", "says"),
    [("", "the file is empty: a CSV of orders has a header row naming at least "
          "order_id,status,placed_at,payment_method,amount,currency,title, "
          "then one order per row"),
     ("\n \n", "the file is empty"),
     (HEADER.replace(",", ";") + "\n" + GOOD.replace(",", ";") + "\n",
      "the columns are separated by semicolons (';'); write the CSV with commas (',') "
      "and a header row naming at least order_id,status,placed_at,"),
     (HEADER.replace(",", "\t") + "\n", "the columns are separated by tabs")],
)  # fmt: skip
def test_an_empty_or_semicolon_file_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
    says: str,
) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(content, encoding="utf-8")
    code, out, err = run(["orders", "import", str(path)], monkeypatch, capsys)
    assert (code, out) == (2, "")
    assert err.startswith(f"supportbot: {path}: {says}")
    assert "\n" not in err.strip()
