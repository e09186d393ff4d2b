"""A realistic set of orders for one buyer, relative to now, covering every branch of
the cancel, refund, defect and payment dialogs (`supportbot orders demo`, the
shell's `:demo`). Running it again refreshes the same orders."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from bot.domain.orders import OrderStatus, PaymentMethod
from bot.ops.order_import import ImportReport, OrderImporter, OrderRecord

S, M = OrderStatus, PaymentMethod
H, D = timedelta(hours=1), timedelta(days=1)

# (title, status, method, amount, currency, placed before now, paid after placing,
#  refund issued before now): one line per branch the dialogs take.
DEMO: tuple[
    tuple[str, OrderStatus, PaymentMethod, str, str, timedelta, timedelta | None, timedelta | None],
    ...,
] = (
    ("Xiaomi Redmi Buds 4 Lite", S.unpaid, M.card, "1890", "RUB", 1 * H, None, None),
    ("Anker PowerCore 10000", S.paid, M.card, "2490", "RUB", 2 * H, 5 * timedelta(minutes=1), None),
    ("LEGO Technic 42151", S.paid, M.bonus, "4999", "RUB", 2 * H, 3 * timedelta(minutes=1), None),
    (
        "Logitech MX Master 3S",
        S.paid,
        M.card,
        "8990",
        "RUB",
        20 * H,
        10 * timedelta(minutes=1),
        None,
    ),
    (
        "Kindle Paperwhite 16 GB",
        S.paid,
        M.wallet,
        "159.99",
        "USD",
        3 * H,
        2 * timedelta(minutes=1),
        None,
    ),
    ("Baseus GaN 65W charger", S.shipped, M.card, "2190", "RUB", 6 * D, 1 * H, None),
    ("Philips Hue White starter kit", S.delivered, M.wallet, "6490", "RUB", 21 * D, 1 * H, None),
    ("Samsung T7 Shield 1 TB", S.delivered, M.card, "9790", "RUB", 35 * D, 1 * H, None),
    ("JBL Go 3", S.cancelled, M.card, "3290", "RUB", 4 * D, 1 * H, 3 * D),
    ("Tefal Ultragliss iron", S.refunded, M.card, "5690", "RUB", 30 * D, 1 * H, 20 * D),
    ("Nintendo Switch Pro Controller", S.cancelled, M.wallet, "5990", "RUB", 5 * D, 1 * H, None),
    ("Xiaomi Mi Band 8", S.refunded, M.bonus, "2990", "RUB", 10 * D, 1 * H, 2 * D),
    ("Ugreen USB-C hub 6-in-1", S.cancelled, M.card, "1990", "RUB", 2 * D, None, None),
)


def demo_records(telegram_id: int, now: datetime) -> list[OrderRecord]:
    """The demo orders of `telegram_id`, numbered DEMO-<id>-01, -02..."""
    records = []
    for number, (title, status, method, amount, currency, age, paid_after, refund_age) in enumerate(
        DEMO, start=1
    ):
        placed = now - age
        records.append(
            OrderRecord(
                order_id=f"DEMO-{telegram_id}-{number:02d}",
                buyer_telegram_id=telegram_id,
                buyer_id=None,
                status=status,
                placed_at=placed,
                paid_at=placed + paid_after if paid_after is not None else None,
                payment_method=method,
                amount=Decimal(amount),
                currency=currency,
                title=title,
                refund_issued_at=now - refund_age if refund_age is not None else None,
            )
        )
    return records


async def create_demo_orders(
    importer: OrderImporter, telegram_id: int, now: datetime
) -> ImportReport:
    """Add (or refresh) the demo orders of one buyer."""
    report = ImportReport()
    await importer.upsert(demo_records(telegram_id, now), report)
    return report
