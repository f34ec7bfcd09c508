"""Ingest's store (services/ingest/intake.py) after the commit: new events published in groups by
at most ``publishers`` at once, confirmed ones marked published by one marker at a time, and each
answer's wait for its confirm bounded by ``publish_wait`` from when its batch was written, even
while its events queue behind a slow publish. Real PostgreSQL, a scripted publisher."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from libs.common.messaging.publisher import Outgoing
from services.ingest.intake import Intake, Stored
from tests.services.ingest.test_intake_store import (
    RecordingPublisher,
    delivery,
    ingest_pool,
    new_shop,
    rows,
)

__all__ = ["ingest_pool"]  # the fixture, shared with test_intake_store.py


class ScriptedPublisher(RecordingPublisher):
    """Records each call's messages; call n waits for ``gates[n]`` when there is one."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.gates: dict[int, asyncio.Event] = {}
        self.at_once = 0
        self.most_at_once = 0

    async def publish_batch(
        self, messages: Sequence[Outgoing], *, exchange: str
    ) -> list[BaseException | None]:
        number = len(self.calls)
        self.calls.append([str(m.message_id) for m in messages])
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            if number in self.gates:
                await self.gates[number].wait()
            return await super().publish_batch(messages, exchange=exchange)
        finally:
            self.at_once -= 1


class MarkCountingPool:
    """The real pool; counts the mark-published UPDATEs and can hold the first one."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.marks: list[int] = []
        self.hold_first_mark = asyncio.Event()
        self.hold_first_mark.set()

    async def fetch(self, *args: Any) -> Any:
        return await self.pool.fetch(*args)

    async def fetchval(self, *args: Any) -> Any:
        return await self.pool.fetchval(*args)

    async def execute(self, query: str, *args: Any) -> Any:
        if "published_at = now()" in query:
            self.marks.append(len(args[0]))
            if len(self.marks) == 1:
                await self.hold_first_mark.wait()
        return await self.pool.execute(query, *args)


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.002)


async def test_webhooks_arriving_one_by_one_are_published_in_groups(
    ingest_pool: asyncpg.Pool,
) -> None:
    publisher = ScriptedPublisher()
    publisher.gates[0] = asyncio.Event()
    intake = Intake(ingest_pool, publisher, publishers=1)  # type: ignore[arg-type]
    shop = new_shop()
    first = await intake.store(delivery(shop, "wh-0"))
    await wait_until(lambda: len(publisher.calls) == 1)  # its publish holds the only publisher
    # Each of these is answered (committed) on its own, its own batch of one ...
    later = [await intake.store(delivery(shop, f"wh-{n}")) for n in range(1, 6)]
    assert all(stored.new for stored in later)
    publisher.gates[0].set()
    await intake.close()
    # ... and they go out together once the publisher is free: two publishes for six batches.
    assert publisher.calls == [[first.event_uid], [stored.event_uid for stored in later]]
    assert all(r["published_at"] is not None for r in await rows(ingest_pool, shop))


@pytest.mark.parametrize("publishers", [1, 2])
async def test_at_most_publishers_publish_at_once(
    ingest_pool: asyncpg.Pool, publishers: int
) -> None:
    publisher = ScriptedPublisher()
    for number in range(3):
        publisher.gates[number] = asyncio.Event()
    intake = Intake(ingest_pool, publisher, publishers=publishers)  # type: ignore[arg-type]
    shop = new_shop()
    for n in range(3):
        await intake.store(delivery(shop, f"wh-{n}"))
        await asyncio.sleep(0.01)  # a publisher, if one is free, takes it before the next
    assert publisher.at_once == publishers  # one is held per busy publisher; the rest queue
    for gate in publisher.gates.values():
        gate.set()
    await intake.close()
    assert publisher.most_at_once == publishers
    assert sorted(uid for call in publisher.calls for uid in call) == sorted(
        str(r["event_uid"]) for r in await rows(ingest_pool, shop)
    )


async def test_confirmed_events_are_marked_by_one_update_at_a_time(
    ingest_pool: asyncpg.Pool,
) -> None:
    counting = MarkCountingPool(ingest_pool)
    counting.hold_first_mark.clear()
    intake = Intake(counting, RecordingPublisher(), publishers=4)  # type: ignore[arg-type]
    shop = new_shop()
    await intake.store(delivery(shop, "wh-0"))
    await wait_until(lambda: len(counting.marks) == 1)  # the first UPDATE is under way
    for n in range(1, 6):
        stored = await intake.store(delivery(shop, f"wh-{n}"))
        assert stored.published is not None and await stored.published
    await asyncio.sleep(0.05)  # a second marker, if there were one, would have started
    assert counting.marks == [1]
    counting.hold_first_mark.set()
    await intake.close()
    # The five confirmed while the first UPDATE ran are marked by the one UPDATE after it.
    assert counting.marks == [1, 5]
    assert all(r["published_at"] is not None for r in await rows(ingest_pool, shop))


async def test_a_confirm_waited_for_behind_a_slow_publish_still_ends_at_publish_wait(
    ingest_pool: asyncpg.Pool,
) -> None:
    publisher = ScriptedPublisher()
    publisher.gates[0] = asyncio.Event()
    publisher.gates[2] = asyncio.Event()
    intake = Intake(
        ingest_pool,
        publisher,  # type: ignore[arg-type]
        publishers=1,
        max_batch=2,
        writers=1,
        publish_wait=0.3,
    )
    shop = new_shop()
    await intake.store(delivery(shop, "wh-a"))
    await wait_until(lambda: len(publisher.calls) == 1)  # publish 0 holds the publisher
    x = await intake.store(delivery(shop, "wh-x"))
    b, c = await asyncio.gather(
        intake.store(delivery(shop, "wh-b")), intake.store(delivery(shop, "wh-c"))
    )  # one batch: its publish_wait runs from now
    publisher.gates[0].set()
    # The publisher takes x and b (at most two), then c alone, which it holds: b's batch is
    # split over two publishes, and c's wait still ends publish_wait after the batch's commit.
    assert b.published is not None and c.published is not None
    assert await asyncio.wait_for(b.published, 5) is True
    assert await asyncio.wait_for(c.published, 2) is False
    assert publisher.calls[1] == [x.event_uid, b.event_uid] and publisher.calls[2] == [c.event_uid]
    publisher.gates[2].set()
    await intake.close()
    assert all(r["published_at"] is not None for r in await rows(ingest_pool, shop))


async def test_a_publish_that_raises_leaves_its_events_to_the_relay(
    ingest_pool: asyncpg.Pool,
) -> None:
    class Broken(RecordingPublisher):
        async def publish_batch(
            self, messages: Sequence[Outgoing], *, exchange: str
        ) -> list[BaseException | None]:
            raise ConnectionError("channel closed")

    intake = Intake(ingest_pool, Broken(), publish_wait=60)  # type: ignore[arg-type]
    shop = new_shop()
    stored = await intake.store(delivery(shop, "wh-1"))
    assert isinstance(stored, Stored) and stored.published is not None
    assert await asyncio.wait_for(stored.published, 5) is False  # at once, not at publish_wait
    await intake.close()
    assert intake._in_flight == 0  # the place is given back
    [row] = await rows(ingest_pool, shop)
    assert row["published_at"] is None  # the relay publishes it


@pytest.mark.parametrize(("mark_wait", "most_updates"), [(0.3, 1), (0.0, 6)])
async def test_events_confirmed_one_by_one_are_marked_together_after_mark_wait(
    ingest_pool: asyncpg.Pool, mark_wait: float, most_updates: int
) -> None:
    """Webhooks arriving one by one (each its own batch and publish) are marked by one UPDATE
    per ``mark_wait``, not one each; with no wait each could be its own (the marker's group
    is whatever was confirmed while its last UPDATE ran)."""
    counting = MarkCountingPool(ingest_pool)
    intake = Intake(counting, RecordingPublisher(), mark_wait=mark_wait)  # type: ignore[arg-type]
    shop = new_shop()
    for n in range(6):
        stored = await intake.store(delivery(shop, f"wh-{n}"))
        assert stored.published is not None and await stored.published
        await asyncio.sleep(0.02)  # the next webhook comes a little later
    await intake.close()
    assert sum(counting.marks) == 6 and len(counting.marks) <= most_updates
    if mark_wait:
        assert counting.marks == [6]
    assert all(r["published_at"] is not None for r in await rows(ingest_pool, shop))
