"""The order rules on their own: verdicts and boundaries, as pure functions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import Settings
from bot.domain import policies
from bot.domain.policies import CancelVerdict, RefundVerdict
from tests.conftest import START
from tests.factories import order

HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def rules() -> Settings:
    return Settings(_env_file=None, cancel_window_hours=8, refund_days=14)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("status", "paid", "age", "verdict"),
    [
        ("unpaid", False, 30 * HOUR, CancelVerdict.unpaid),
        ("paid", True, 8 * HOUR, CancelVerdict.instant),
        ("paid", True, 8 * HOUR + SECOND, CancelVerdict.review),
        ("shipped", True, HOUR, CancelVerdict.shipped),
        ("delivered", True, HOUR, CancelVerdict.shipped),
        ("awaiting_review", True, HOUR, CancelVerdict.shipped),
        ("cancelled", True, HOUR, CancelVerdict.closed),
        ("refunded", True, HOUR, CancelVerdict.closed),
    ],
)
def test_cancel_verdict(
    rules: Settings, status: str, paid: bool, age: timedelta, verdict: CancelVerdict
) -> None:
    item = order("X", 1, status, placed_at=START - age, paid=paid)
    assert policies.cancel_verdict(item, rules, START) == verdict


def test_cancel_window_follows_the_setting(rules: Settings) -> None:
    item = order("X", 1, "paid", placed_at=START - 3 * HOUR)
    short = rules.model_copy(update={"cancel_window_hours": 2})
    assert policies.cancel_verdict(item, rules, START) == CancelVerdict.instant
    assert policies.cancel_verdict(item, short, START) == CancelVerdict.review


@pytest.mark.parametrize(
    ("status", "paid", "method", "issued_ago", "verdict"),
    [
        ("unpaid", False, "card", None, RefundVerdict.nothing_charged),
        ("cancelled", False, "card", None, RefundVerdict.nothing_charged),
        ("paid", True, "card", None, RefundVerdict.not_cancelled),
        ("shipped", True, "card", None, RefundVerdict.in_transit),
        ("delivered", True, "card", None, RefundVerdict.delivered),
        ("awaiting_review", True, "card", None, RefundVerdict.delivered),
        ("cancelled", True, "card", None, RefundVerdict.unrecorded),
        ("refunded", True, "wallet", timedelta(days=14), RefundVerdict.on_the_way),
        ("refunded", True, "wallet", timedelta(days=14) + SECOND, RefundVerdict.overdue),
        ("cancelled", True, "bonus", timedelta(days=40), RefundVerdict.on_balance),
    ],
)
def test_refund_verdict(
    rules: Settings,
    status: str,
    paid: bool,
    method: str,
    issued_ago: timedelta | None,
    verdict: RefundVerdict,
) -> None:
    issued = START - issued_ago if issued_ago is not None else None
    item = order(
        "X", 1, status, placed_at=START - timedelta(days=60), paid=paid, method=method,
        refund_issued_at=issued,
    )  # fmt: skip
    assert policies.refund_verdict(item, rules, START) == verdict


def test_refund_due_and_issue_on_cancel(rules: Settings) -> None:
    assert policies.refund_due(START, rules) == START + timedelta(days=14)
    paid = order("X", 1, "paid", placed_at=START)
    unpaid = order("Y", 1, "unpaid", placed_at=START, paid=False)
    assert policies.refund_issued_on_cancel(paid, START) == START
    assert policies.refund_issued_on_cancel(unpaid, START) is None


@pytest.mark.parametrize(
    ("status", "allowed"),
    [("unpaid", False), ("paid", False), ("shipped", True), ("delivered", True),
     ("awaiting_review", True),
     ("cancelled", False), ("refunded", False)],
)  # fmt: skip
def test_defect_claim_allowed(status: str, allowed: bool) -> None:
    assert policies.defect_claim_allowed(order("X", 1, status, placed_at=START)) is allowed
