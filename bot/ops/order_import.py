"""Loading orders from the marketplace's export: CSV with a header row, or JSON Lines.

Every row is checked on its own: a bad row is reported with its line number and
the reason, and the good rows still load. Orders are upserted by `order_id`, so
importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from babel.numbers import is_currency
from sqlalchemy.exc import DBAPIError

from bot.domain.orders import OrderStatus, PaymentMethod
from storage.models import Order
from storage.repositories.orders import OrderRepository

ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
REQUIRED = (
    "order_id",
    "status",
    "placed_at",
    "payment_method",
    "amount",
    "currency",
    "title",
)
PAID_STATUSES = {
    OrderStatus.paid,
    OrderStatus.shipped,
    OrderStatus.delivered,
    OrderStatus.awaiting_review,
}
MAX_AMOUNT = Decimal("999999999999.99")
# Telegram user ids have at most 52 significant bits.
MAX_TELEGRAM_ID = 2**52 - 1
# Orders placed outside these years are a broken export, not a real order.
YEARS = range(2000, 2101)
# Fields a JSON Lines file may give as a number instead of a string.
NUMBER_FIELDS = frozenset({"order_id", "buyer_telegram_id", "buyer_id", "amount"})
BATCH = 500
# How a database refuses a value (SQLite's driver raises OverflowError for a too large int).
REFUSED = (DBAPIError, OverflowError)
# Delimiters spreadsheets often use instead of the comma.
DELIMITERS = {"semicolons": ";", "tabs": "\t", "vertical bars": "|"}


class RowError(ValueError):
    """Why one row cannot be imported."""


class FileFormatError(ValueError):
    """The file as a whole cannot be read (no header, unknown format)."""


@dataclass(frozen=True)
class OrderRecord:
    """One valid order, ready to store."""

    order_id: str
    buyer_telegram_id: int | None
    buyer_id: str | None
    status: OrderStatus
    placed_at: datetime
    paid_at: datetime | None
    payment_method: PaymentMethod
    amount: Decimal
    currency: str
    title: str
    refund_issued_at: datetime | None = None

    def differs_from(self, order: Order) -> bool:
        return any(getattr(order, f.name) != getattr(self, f.name) for f in fields(self))

    def apply_to(self, order: Order) -> None:
        for f in fields(self):
            setattr(order, f.name, getattr(self, f.name))

    def to_order(self) -> Order:
        return Order(**{f.name: getattr(self, f.name) for f in fields(self)})


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def add(self, other: ImportReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged

    def summary(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.rejected)} rejected"
        )


def _text(row: Mapping[str, Any], name: str) -> str:
    """The field as stripped text; refuses objects, lists, booleans and control characters
    (PostgreSQL refuses NUL, and nothing a buyer reads should carry the others)."""
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise RowError(f"{name} must be text, not {_json_kind(value)}")
    if not isinstance(value, str) and name not in NUMBER_FIELDS:
        raise RowError(f"{name} must be text, not a number")
    text = str(value).strip()
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise RowError(f"{name} holds a control character (U+{ord(char):04X})")
    return text


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _moment(row: Mapping[str, Any], name: str, *, required: bool = False) -> datetime | None:
    value = _text(row, name)
    if not value:
        if required:
            raise RowError(f"{name} is empty")
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{name} {value!r} is not an ISO 8601 date and time") from None
    if moment.tzinfo is None:
        raise RowError(f"{name} {value!r} has no UTC offset (write e.g. +03:00 or Z)")
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:  # e.g. 9999-12-31T23:59-23:59 is in the year 10000 in UTC
        year = 0
    if year not in YEARS:
        raise RowError(
            f"{name} {value!r} is out of range (years {YEARS.start} to {YEARS.stop - 1})"
        )
    return moment


def parse_row(row: Mapping[str, Any]) -> OrderRecord:
    """Check one row; raises RowError naming the first problem found."""
    order_id = _text(row, "order_id")
    if not ORDER_ID.fullmatch(order_id):
        raise RowError(f"order_id {order_id!r} must be 1 to 40 letters, digits, '-' or '_'")
    telegram = _text(row, "buyer_telegram_id")
    buyer_id = _text(row, "buyer_id") or None
    if telegram and not (
        telegram.isascii()
        and telegram.isdigit()
        and len(telegram) <= len(str(MAX_TELEGRAM_ID))
        and 0 < int(telegram) <= MAX_TELEGRAM_ID
    ):
        raise RowError(f"buyer_telegram_id {telegram!r} is not a Telegram user id")
    if not telegram and buyer_id is None:
        raise RowError("buyer_telegram_id and buyer_id are both empty: whose order is it?")
    if buyer_id is not None and len(buyer_id) > 64:
        raise RowError("buyer_id is longer than 64 characters")
    try:
        status = OrderStatus(_text(row, "status"))
    except ValueError:
        raise RowError(
            f"status {_text(row, 'status')!r} is not one of {', '.join(OrderStatus)}"
        ) from None
    try:
        method = PaymentMethod(_text(row, "payment_method"))
    except ValueError:
        raise RowError(
            f"payment_method {_text(row, 'payment_method')!r} is not one of "
            f"{', '.join(PaymentMethod)}"
        ) from None
    placed_at = _moment(row, "placed_at", required=True)
    assert placed_at is not None
    paid_at = _moment(row, "paid_at")
    refund_at = _moment(row, "refund_issued_at")
    if status is OrderStatus.unpaid and paid_at is not None:
        raise RowError("an unpaid order has a paid_at")
    if status in PAID_STATUSES | {OrderStatus.refunded} and paid_at is None:
        raise RowError(f"a {status} order needs paid_at")
    if paid_at is not None and paid_at < placed_at:
        raise RowError("paid_at is before placed_at")
    if refund_at is not None:
        if status not in (OrderStatus.cancelled, OrderStatus.refunded):
            raise RowError("refund_issued_at is only for cancelled or refunded orders")
        if paid_at is None:
            raise RowError("refund_issued_at is set, but the order was never paid")
        if refund_at < paid_at:
            raise RowError("refund_issued_at is before paid_at")
    raw_amount = _text(row, "amount")
    try:
        amount = Decimal(raw_amount)
    except InvalidOperation:
        raise RowError(f"amount {raw_amount!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise RowError(f"amount {raw_amount!r} is out of range")
    if amount != amount.quantize(Decimal("0.01")):
        raise RowError(f"amount {raw_amount!r} has more than two decimal places")
    currency = _text(row, "currency").upper()
    if len(currency) != 3 or not is_currency(currency):
        raise RowError(f"currency {_text(row, 'currency')!r} is not an ISO 4217 code")
    title = _text(row, "title")
    if not title:
        raise RowError("title is empty")
    if len(title) > 255:
        raise RowError("title is longer than 255 characters")
    return OrderRecord(
        order_id=order_id,
        buyer_telegram_id=int(telegram) if telegram else None,
        buyer_id=buyer_id,
        status=status,
        placed_at=placed_at,
        paid_at=paid_at,
        payment_method=method,
        amount=amount,
        currency=currency,
        title=title,
        refund_issued_at=refund_at,
    )


Row = tuple[int, Mapping[str, Any] | RowError]


def _csv_rows(text: str) -> Iterator[Row]:
    expected = f"a header row naming at least {','.join(REQUIRED)}"
    if not text.strip():
        raise FileFormatError(
            f"the file is empty: a CSV of orders has {expected}, then one order per row"
        )
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in reader.fieldnames or []]
    if len(header) == 1:
        for name, delimiter in DELIMITERS.items():
            if delimiter in header[0]:
                raise FileFormatError(
                    f"the columns are separated by {name} ({delimiter!r}); "
                    f"write the CSV with commas (',') and {expected}"
                )
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise FileFormatError(f"the header row lacks the columns: {', '.join(missing)}")
    reader.fieldnames = header
    line = reader.line_num
    for row in reader:
        start, line = line + 1, reader.line_num
        if None in row:
            yield start, RowError("more cells than the header has columns")
        else:
            yield start, row


def _jsonl_rows(text: str) -> Iterator[Row]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as error:
            yield number, RowError(f"not valid JSON ({error.msg})")
            continue
        if not isinstance(value, dict):
            yield number, RowError("a line must be one JSON object")
            continue
        yield number, value


def read_rows(path: Path) -> Iterator[Row]:
    """(line number, row or why it is unreadable) for each order in a CSV or JSONL file.

    The format comes from the extension (.csv, .jsonl, .ndjson), else from the
    content: JSON Lines start with `{`.
    """
    text = path.read_text(encoding="utf-8-sig")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson") or (suffix != ".csv" and text.lstrip().startswith("{")):
        return _jsonl_rows(text)
    return _csv_rows(text)


class OrderImporter:
    """Validates rows and upserts them by order_id through the repository."""

    def __init__(self, repo: OrderRepository) -> None:
        self.repo = repo

    async def run(self, rows: Iterable[Row]) -> ImportReport:
        report = ImportReport()
        seen: dict[str, int] = {}
        batch: list[tuple[int, OrderRecord]] = []
        for line, row in rows:
            try:
                if isinstance(row, RowError):
                    raise row
                record = parse_row(row)
                first = seen.get(record.order_id)
                if first is not None:
                    raise RowError(f"order_id {record.order_id} already appears on line {first}")
            except RowError as error:
                report.rejected.append(Rejected(line, str(error)))
                continue
            seen[record.order_id] = line
            batch.append((line, record))
            if len(batch) >= BATCH:
                await self._store(batch, report)
                batch = []
        await self._store(batch, report)
        report.rejected.sort(key=lambda rejected: rejected.line)
        return report

    async def _store(self, batch: Sequence[tuple[int, OrderRecord]], report: ImportReport) -> None:
        """Upsert a batch in a savepoint; if the database refuses it, store row by row, so
        only the rows it refuses are rejected and the others still load."""
        if not batch:
            return
        counts = ImportReport()
        try:
            async with self.repo.savepoint():
                await self.upsert([record for _, record in batch], counts)
        except REFUSED:
            for line, record in batch:
                one = ImportReport()
                try:
                    async with self.repo.savepoint():
                        await self.upsert([record], one)
                except REFUSED as error:
                    cause = error.orig if isinstance(error, DBAPIError) else error
                    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
                    report.rejected.append(Rejected(line, f"the database refused it: {reason}"))
                    continue
                report.add(one)
            return
        report.add(counts)

    async def upsert(self, records: Sequence[OrderRecord], report: ImportReport) -> None:
        """Store the records: new ones are added, known ones updated when they changed."""
        existing = await self.repo.get_many([r.order_id for r in records])
        for record in records:
            order = existing.get(record.order_id)
            if order is None:
                self.repo.add(record.to_order())
                report.added += 1
            elif record.differs_from(order):
                record.apply_to(order)
                report.updated += 1
            else:
                report.unchanged += 1
        await self.repo.flush()
