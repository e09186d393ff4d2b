"""Work shared by several processes is done by one at a time: Redis locks with leases,
the delivery lanes and the scheduler's rounds that take them."""

from __future__ import annotations

import asyncio

from aiogram import Bot

from bot.desk.delivery import Delivery
from bot.desk.scheduler import Scheduler
from bot.emulator.sandbox import Sandbox
from storage.locks import RedisLocks


async def test_a_lock_is_held_by_one_process_and_renewed_while_held(redis_url: str) -> None:
    one, two = RedisLocks(redis_url, lease=0.3), RedisLocks(redis_url, lease=0.3)
    async with one.hold("chat:1") as mine:
        assert mine
        await asyncio.sleep(1.0)  # three leases: renewed meanwhile
        async with two.hold("chat:1", wait=False) as theirs:
            assert not theirs
        async with two.hold("chat:2", wait=False) as other:
            assert other  # another name is free
    async with two.hold("chat:1", wait=False) as theirs:
        assert theirs  # released on the way out
    await one.close()
    await two.close()


async def test_a_lock_of_a_killed_process_frees_when_its_lease_ends(redis_url: str) -> None:
    dead, alive = RedisLocks(redis_url, lease=0.5), RedisLocks(redis_url)
    orphan = dead._redis.lock(dead.prefix + "lane:7:topic", timeout=0.5)
    assert await orphan.acquire()  # taken, never released: the process was killed
    async with alive.hold("lane:7:topic", wait=False) as mine:
        assert not mine
    async with asyncio.timeout(5):
        async with alive.hold("lane:7:topic") as mine:
            assert mine
    await dead.close()
    await alive.close()


async def test_one_lane_runs_in_one_process_at_a_time(redis_url: str) -> None:
    """Two processes' lanes for the same case side never run their jobs side by side."""
    locks = [RedisLocks(redis_url), RedisLocks(redis_url)]
    lanes = [Delivery(locks=lock) for lock in locks]
    inside: list[int] = []
    overlaps = 0

    def job(n: int) -> object:
        async def run() -> None:
            nonlocal overlaps
            inside.append(n)
            overlaps += len(inside) > 1
            await asyncio.sleep(0.05)
            inside.remove(n)

        return run

    for n in range(6):
        lanes[n % 2].submit((1, "topic"), job(n))  # type: ignore[arg-type]
    await asyncio.gather(*(lane.settle() for lane in lanes))
    assert overlaps == 0
    for lock in locks:
        await lock.close()


async def test_a_scheduler_round_runs_in_one_process(sandbox: Sandbox, redis_url: str) -> None:
    rounds: list[str] = []
    locks = [RedisLocks(redis_url), RedisLocks(redis_url)]
    schedulers = [Scheduler(sandbox.dp["handoff"], 60, lock) for lock in locks]
    for name, scheduler in zip("ab", schedulers, strict=True):

        async def counted(bot: Bot, name: str = name) -> None:
            rounds.append(name)
            await asyncio.sleep(0.2)

        scheduler._round = counted  # type: ignore[method-assign]
    await asyncio.gather(*(s.run_due(sandbox.bot) for s in schedulers))
    assert len(rounds) == 1
    await schedulers[1].run_due(sandbox.bot)  # the next round, once the first is over
    assert len(rounds) == 2
    for lock in locks:
        await lock.close()
