"""Synthetic cases for the report benchmark, generated inside the database.

Every value comes from an integer hash of the case number, so SQLite and
PostgreSQL get exactly the same cases and must print exactly the same report.
Rows are written with INSERT ... SELECT over a generated series: nothing passes
through Python, so a million cases take seconds.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

YEAR = 365 * 86400
P = 2147483647  # a prime: the hash below walks the integers modulo it
AGENTS = ["Alexey", "Boris", "Daria", "Elena", "Fedor", "Galina", "Igor", "Kira", "Lev", "Maria"]
GROUPS = {"ru": -1001001, "en": -1001002}

TYPES = [  # (case type, share in %): payment trouble and lost parcels lead, as in published data
    ("payment", 24),
    ("not_received", 20),
    ("refund_not_received", 15),
    ("defect", 15),
    ("cancel_review", 10),
    ("seller_question", 8),
    ("refund_check", 4),
    ("general", 4),
]
TOPICS = [
    ("payment_delay", "Payment takes long to go through", "Оплата долго не проходит"),
    ("moderation_description", "Item differs from its description", "Товар не совпал с описанием"),
    ("order_fulfillment_extend", "Seller asked for more time", "Продавец просит больше времени"),
    ("address_missing", "Address or phone missing", "Нет адреса или телефона"),
    ("parcel_returned", "Parcel went back to the seller", "Посылка вернулась продавцу"),
    ("out_of_stock", "Item out of stock", "Товара нет в наличии"),
    ("tracking_stuck", "Tracking has not moved for weeks", "Трек-номер неделями не обновляется"),
    ("card_declined", "Bank declined the card", "Банк отклонил карту"),
    ("refund_late", "Refund later than 14 days", "Возврат дольше 14 дней"),
    ("wrong_size", "Wrong size or colour", "Не тот размер или цвет"),
    ("customs", "Held at customs", "Посылка задержана на таможне"),
    ("damaged_box", "Box damaged in transit", "Коробка повреждена в пути"),
]


def _hash(k: int) -> str:
    """A pseudo-random integer in [0, P) for case `i`, stream `k`, in plain integer SQL."""
    seed = f"(CAST(i AS BIGINT) * 32 + {k} + 12345)"
    return f"((({seed} * {seed}) % {P}) * 48271 % {P})"


def _pick(expr: str, table: list[tuple[str, int]]) -> str:
    parts, bound = [], 0
    for name, share in table[:-1]:
        bound += share
        parts.append(f"WHEN {expr} < {bound} THEN '{name}'")
    return f"CASE {' '.join(parts)} ELSE '{table[-1][0]}' END"


def _values(rows: list[tuple[object, ...]]) -> str:
    def literal(value: object) -> str:
        return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"

    return ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)


async def fill(engine: AsyncEngine, n: int, now: int) -> None:
    """Write `n` cases opened over the year before `now` (epoch seconds), with their
    tags and audit trail, consistent with each other as the bot would write them."""
    pg = engine.dialect.name == "postgresql"
    series = (
        f"generate_series(1, {n}) AS s(i)"
        if pg
        else f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
        "SELECT i FROM s) AS s"
    )

    def ts(expr: str) -> str:
        if pg:
            return f"to_timestamp({expr})"
        return f"(datetime({expr}, 'unixepoch') || '.000000')"

    h = _hash
    # Three levels: raw draws, then what follows from them, then the case's fate by `now`.
    stage = f"""
    CREATE TABLE bench_stage AS
    SELECT d.*, CASE WHEN answered = 1 AND c + res <= {now} THEN 1 ELSE 0 END AS resolved,
           CASE WHEN answered = 1 AND c + res + 7 * 86400 <= {now} THEN 1 ELSE 0 END AS closed,
           CASE WHEN spam = 1 AND c + 86400 <= {now} THEN 1 ELSE 0 END AS spam_closed,
           CASE WHEN rtype = 'cancel_review' THEN 86400 ELSE 3 * 86400 END AS due
    FROM (
      SELECT r.*, frt + res_extra AS res,
             CASE WHEN spam = 0 AND c + frt <= {now} THEN 1 ELSE 0 END AS answered
      FROM (
        SELECT i,
          {now} - {YEAR} + {h(1)} % {YEAR} AS c,
          CASE WHEN {h(2)} % 100 < 2 THEN 1 ELSE 0 END AS spam,
          120 + {h(3)} % 2400 + ({h(4)} % 5) * ({h(5)} % 5400)
            + CASE WHEN {h(6)} % 100 = 0 THEN 3 * 86400 ELSE 0 END AS frt,
          1800 + {h(7)} % 14400 + ({h(8)} % 4) * ({h(9)} % 21600) AS res_extra,
          {_pick(f"{h(10)} % 100", TYPES)} AS rtype,
          CASE WHEN {h(11)} % 100 < 70 THEN 'ru' ELSE 'en' END AS loc,
          {h(12)} % {len(AGENTS)} AS agent,
          CASE WHEN {h(13)} % 20 = 0 THEN 1 ELSE 0 END AS reopen,
          CASE WHEN {h(14)} % 100 >= 60 THEN NULL
               WHEN {h(15)} % 100 < 4 THEN 1 WHEN {h(15)} % 100 < 8 THEN 2
               WHEN {h(15)} % 100 < 16 THEN 3 WHEN {h(15)} % 100 < 36 THEN 4 ELSE 5 END
            AS rating,
          CASE WHEN {h(16)} % 100 < 60 THEN {h(17)} % {len(TOPICS)} ELSE -1 END AS t1,
          CASE WHEN {h(18)} % 100 < 20 THEN {h(19)} % {len(TOPICS)} ELSE -1 END AS t2
        FROM {series}
      ) AS r
    ) AS d
    """
    status = (
        "CASE WHEN closed = 1 OR spam_closed = 1 THEN 'closed' WHEN resolved = 1 THEN 'resolved' "
        "WHEN answered = 1 THEN 'waiting_buyer' ELSE 'waiting' END"
    )
    agent_name = "CASE agent " + " ".join(f"WHEN {k} THEN '{a}'" for k, a in enumerate(AGENTS))
    agent_name += " END"
    group = f"CASE WHEN loc = 'ru' THEN {GROUPS['ru']} ELSE {GROUPS['en']} END"
    # Working time: the agents work 9 of 24 hours on 5 of 7 days; a fixed share stands in.
    cases = f"""
    INSERT INTO cases (id, buyer_id, type, locale, status, reason, created_at, updated_at,
        first_response_at, resolved_at, closed_at, response_due_at,
        first_response_seconds, first_response_work_seconds, resolution_seconds,
        resolution_work_seconds, responded_in_time, agent_chat_id, assignee_id, assignee_name,
        resolver_name, rating)
    SELECT i, 1 + i % 5000, rtype, loc, {status}, '', {ts("c")}, {ts("c")},
        CASE WHEN answered = 1 THEN {ts("c + frt")} END,
        CASE WHEN resolved = 1 THEN {ts("c + res")} END,
        CASE WHEN closed = 1 THEN {ts("c + res + 7 * 86400")}
             WHEN spam_closed = 1 THEN {ts("c + 86400")} END,
        {ts("c + due")},
        CASE WHEN answered = 1 THEN frt END, CASE WHEN answered = 1 THEN frt * 3 / 10 END,
        CASE WHEN resolved = 1 THEN res END, CASE WHEN resolved = 1 THEN res * 3 / 10 END,
        CASE WHEN answered = 1 THEN frt <= due END,
        {group},
        CASE WHEN answered = 1 THEN 700 + agent END,
        CASE WHEN answered = 1 THEN {agent_name} END,
        CASE WHEN resolved = 1 THEN {agent_name} END,
        CASE WHEN resolved = 1 THEN rating END
    FROM bench_stage
    """

    def event(when: str, old: str, new: str, where: str) -> str:
        return f"SELECT i, {ts(when)}, 'status', {old}, '{new}' FROM bench_stage WHERE {where}"

    half = "c + frt + (res - frt) / 2"
    events = (
        "INSERT INTO case_events (case_id, at, kind, from_value, to_value) "
        + " UNION ALL ".join(
            [
                event("c", "NULL", "waiting", "1 = 1"),
                event("c + frt / 2", "'waiting'", "in_progress", "answered = 1"),
                event("c + frt", "'in_progress'", "waiting_buyer", "answered = 1"),
                event(half, "'waiting_buyer'", "resolved", "resolved = 1 AND reopen = 1"),
                event(half + " + 600", "'resolved'", "in_progress", "resolved = 1 AND reopen = 1"),
                event("c + res", "'in_progress'", "resolved", "resolved = 1 AND reopen = 1"),
                event("c + res", "'waiting_buyer'", "resolved", "resolved = 1 AND reopen = 0"),
                event("c + res + 7 * 86400", "'resolved'", "closed", "closed = 1"),
                event("c + 86400", "'waiting'", "closed", "spam_closed = 1"),
            ]
        )
    )
    topics = _values([(k, name) for k, (name, _en, _ru) in enumerate(TOPICS)])
    tags = """
    INSERT INTO case_tags (case_id, tag)
    SELECT i, rtype FROM bench_stage
    UNION ALL SELECT i, t.name FROM bench_stage JOIN bench_topics AS t ON t.k = t1
    UNION ALL SELECT i, t.name FROM bench_stage JOIN bench_topics AS t ON t.k = t2 WHERE t2 <> t1
    """
    async with engine.begin() as conn:
        if pg:
            # The rows are consistent by construction: skip the per-row foreign-key triggers.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in ("bench_stage", "bench_topics"):
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await conn.execute(text(stage))
        await conn.execute(text("CREATE TABLE bench_topics (k INTEGER, name VARCHAR(64))"))
        await conn.execute(text(f"INSERT INTO bench_topics VALUES {topics}"))
        await conn.execute(
            text(
                "INSERT INTO users (id, first_name, first_seen, last_seen) "
                f"SELECT i, 'Buyer', {ts(str(now - YEAR))}, {ts(str(now))} FROM "
                + series.replace(str(n), "5000")
            )
        )
        await conn.execute(text(cases))
        await conn.execute(text(events))
        await conn.execute(text(tags))
        await conn.execute(
            text(
                "INSERT INTO tags (name, description_en, description_ru) VALUES "
                + _values(list(TOPICS))
            )
        )
        for table in ("bench_stage", "bench_topics"):
            await conn.execute(text(f"DROP TABLE {table}"))
    await analyze(engine)


async def analyze(engine: AsyncEngine) -> None:
    """Fresh planner statistics (and, on PostgreSQL, the visibility map for index-only scans)."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            conn2: AsyncConnection = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn2.execute(text("VACUUM ANALYZE"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
