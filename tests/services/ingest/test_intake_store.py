"""Ingest's store (services/ingest/intake.py) in process, on the real PostgreSQL with a publisher
that records: what a row holds, the event-id and webhook-id dedupe inside one batch and across
batches, one bad row not failing its batch, publishes confirmed, deferred or timed out, and the
bound on events being published, webhooks a little apart written together within the writers'
``write_wait``. Fast enough for bench/mutation.py; test_intake.py covers the
same through HTTP and the broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest
from opentelemetry import context as otel_context

from libs.common import database, tracing
from libs.common.messaging.publisher import Outgoing
from services.ingest import intake as intake_module
from services.ingest.intake import Intake, Stored
from services.ingest.service import definition
from services.ingest.webhook import WebhookDelivery, order_id_of


class RecordingPublisher:
    """Confirms each publish once ``gate`` is open, or raises for the event uids in ``fail``."""

    events_exchange = "events"

    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: set[str] = set()
        self.trace_ids: dict[str, str | None] = {}

    async def publish_batch(
        self, messages: Sequence[Outgoing], *, exchange: str
    ) -> list[BaseException | None]:
        await self.gate.wait()
        outcomes: list[BaseException | None] = []
        for message in messages:
            assert message.message_id is not None and message.parent is not None
            if message.message_id in self.fail:
                outcomes.append(ConnectionError("no confirm"))
                continue
            self.published.append((message.message_id, message.routing_key))
            token = otel_context.attach(message.parent)  # the trace the message continues
            try:
                self.trace_ids[message.message_id] = tracing.current_trace_id()
            finally:
                otel_context.detach(token)
            outcomes.append(None)
        return outcomes


@pytest.fixture
async def ingest_pool(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    assert definition.migrations is not None
    await database.migrate(pool, "ingest", definition.migrations)
    yield pool


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def delivery(
    shop: str,
    webhook_id: str,
    event_id: str | None = None,
    topic: str = "orders/paid",
    **payload: Any,
) -> WebhookDelivery:
    payload = {"id": 820982911946154508, **payload}
    return WebhookDelivery(
        shop=shop,
        topic=topic,
        webhook_id=webhook_id,
        event_id=event_id,
        api_version="2025-07",
        triggered_at=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
        order_id=order_id_of(topic, payload),
        body=orjson.dumps(payload),
    )


def new_shop() -> str:
    return f"intake-{uuid.uuid4().hex[:8]}.myshopify.com"


async def rows(pool: asyncpg.Pool, shop: str) -> list[dict[str, Any]]:
    found = await pool.fetch(
        "SELECT * FROM ingest.webhook_events WHERE shop = $1 ORDER BY webhook_id", shop
    )
    return [dict(row) for row in found]


async def test_a_delivery_is_committed_whole_then_published_and_marked(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher)  # type: ignore[arg-type]
    shop = new_shop()
    hook = delivery(shop, "wh-1", "ev-1")
    stored = await intake.store(hook)
    assert stored.new and stored.published is not None
    assert await stored.published is True
    await intake.close()
    [row] = await rows(ingest_pool, shop)
    assert str(row["event_uid"]) == stored.event_uid
    assert (row["topic"], row["webhook_id"], row["event_id"], row["api_version"]) == (
        "orders/paid",
        "wh-1",
        "ev-1",
        "2025-07",
    )
    assert row["triggered_at"] == hook.triggered_at
    assert row["body"] == hook.body.decode() and row["order_id"] == "820982911946154508"
    assert row["duplicates"] == 0 and row["published_at"] is not None
    assert publisher.published == [(stored.event_uid, "shopify.orders.paid")]


async def test_a_redelivery_by_webhook_id_or_event_id_is_a_duplicate_of_the_stored_event(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher)  # type: ignore[arg-type]
    shop = new_shop()
    first = await intake.store(delivery(shop, "wh-1", "ev-1"))
    same_webhook = await intake.store(delivery(shop, "wh-1", "ev-other"))
    same_event = await intake.store(delivery(shop, "wh-2", "ev-1"))
    assert [same_webhook, same_event] == [Stored(first.event_uid, False)] * 2
    # The same event id under another topic is another event.
    other_topic = await intake.store(delivery(shop, "wh-3", "ev-1", topic="orders/updated"))
    assert other_topic.new
    await intake.close()
    stored = await rows(ingest_pool, shop)
    assert [(r["webhook_id"], r["duplicates"]) for r in stored] == [("wh-1", 2), ("wh-3", 0)]
    assert sorted(uid for uid, _ in publisher.published) == sorted(
        [first.event_uid, other_topic.event_uid]
    )


async def test_redeliveries_in_one_batch_store_the_event_once(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher, writers=1)  # type: ignore[arg-type]
    shop = new_shop()
    hooks = [delivery(shop, f"wh-{i}", "ev-1") for i in range(4)]
    hooks += [delivery(shop, f"other-{i}", f"ev-{i + 10}") for i in range(4)]
    stored = await asyncio.gather(*(intake.store(hook) for hook in hooks))
    await intake.close()
    assert sum(s.new for s in stored) == 5
    assert len({s.event_uid for s in stored[:4]}) == 1
    assert len(await rows(ingest_pool, shop)) == 5
    assert len(publisher.published) == 5


async def test_one_bad_row_fails_alone_and_its_batch_is_stored(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher, writers=1)  # type: ignore[arg-type]
    shop = new_shop()
    good = [delivery(shop, f"wh-{i}", f"ev-{i}") for i in range(3)]
    bad_hook = delivery(shop, "wh-bad", "ev-bad")
    outcomes = await asyncio.gather(
        *(intake.store(hook) for hook in good),
        intake.store(
            replace(bad_hook, body=b'{"note": "\xff"}')
        ),  # not UTF-8: the text column refuses it
        return_exceptions=True,
    )
    await intake.close()
    assert all(isinstance(o, Stored) and o.new for o in outcomes[:3])
    assert isinstance(outcomes[3], UnicodeDecodeError)
    assert [r["webhook_id"] for r in await rows(ingest_pool, shop)] == ["wh-0", "wh-1", "wh-2"]


async def test_a_publish_that_fails_is_left_to_the_relay(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher, writers=1)  # type: ignore[arg-type]
    shop = new_shop()
    publisher.gate.clear()  # both are written before either publish is confirmed
    pending = [asyncio.ensure_future(intake.store(delivery(shop, f"wh-{i}"))) for i in range(2)]
    stored = await asyncio.gather(*pending)
    publisher.fail.add(stored[1].event_uid)
    publisher.gate.set()
    assert stored[0].published is not None and stored[1].published is not None
    assert [await stored[0].published, await stored[1].published] == [True, False]
    await intake.close()
    marked = {str(r["event_uid"]): r["published_at"] for r in await rows(ingest_pool, shop)}
    assert marked[stored[0].event_uid] is not None
    assert marked[stored[1].event_uid] is None  # the relay publishes it


async def test_an_answer_waits_for_its_confirm_at_most_publish_wait(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher, publish_wait=0.05)  # type: ignore[arg-type]
    publisher.gate.clear()
    stored = await intake.store(delivery(new_shop(), "wh-1"))
    assert stored.published is not None
    assert await asyncio.wait_for(stored.published, 5) is False  # not confirmed in time
    publisher.gate.set()
    await intake.close()
    assert len(publisher.published) == 1  # published after all (marked by the relay's UPDATE)


async def test_deliveries_wait_while_max_in_flight_events_are_being_published(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher, max_in_flight=1)  # type: ignore[arg-type]
    shop = new_shop()
    publisher.gate.clear()
    first = await intake.store(delivery(shop, "wh-1"))
    while intake._in_flight < 1:  # its publish has started
        await asyncio.sleep(0.005)
    second = asyncio.ensure_future(intake.store(delivery(shop, "wh-2")))
    # The first publish holds the only place: the second is not written until it is confirmed.
    done, _ = await asyncio.wait([second], timeout=0.3)
    assert not done and [r["webhook_id"] for r in await rows(ingest_pool, shop)] == ["wh-1"]
    publisher.gate.set()  # positive control: once confirmed, the second is written
    assert (await asyncio.wait_for(second, 5)).new
    assert first.published is not None and await first.published
    await intake.close()
    assert [r["webhook_id"] for r in await rows(ingest_pool, shop)] == ["wh-1", "wh-2"]


class WatchedPool:
    """The real pool, counting the batch INSERTs under way at once; ``before_duplicate`` runs
    before each duplicate's look-up (to race it)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.inserting = 0
        self.most = 0
        self.before_duplicate: Any = None

    async def fetch(self, *args: Any) -> Any:
        self.inserting += 1
        self.most = max(self.most, self.inserting)
        try:
            return await self.pool.fetch(*args)
        finally:
            self.inserting -= 1

    async def fetchval(self, *args: Any) -> Any:
        if self.before_duplicate is not None:
            await self.before_duplicate()
        return await self.pool.fetchval(*args)

    async def execute(self, *args: Any) -> Any:
        return await self.pool.execute(*args)


@pytest.mark.parametrize("writers", [1, 3])
async def test_at_most_writers_batches_are_written_at_once(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher, writers: int
) -> None:
    watched = WatchedPool(ingest_pool)
    intake = Intake(watched, publisher, writers=writers, max_batch=1)  # type: ignore[arg-type]
    shop = new_shop()
    stored = await asyncio.gather(*(intake.store(delivery(shop, f"wh-{i}")) for i in range(8)))
    await intake.close()
    assert all(s.new for s in stored)
    # One writer: one INSERT at a time; three: more than one at once (the positive control).
    assert watched.most == 1 if writers == 1 else 1 < watched.most <= writers


async def test_a_duplicate_whose_stored_event_was_deleted_meanwhile_fails(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    watched = WatchedPool(ingest_pool)
    intake = Intake(watched, publisher)  # type: ignore[arg-type]
    shop = new_shop()
    await intake.store(delivery(shop, "wh-1", "ev-1"))

    async def redact() -> None:  # shop/redact deletes the shop's events
        await ingest_pool.execute("DELETE FROM ingest.webhook_events WHERE shop = $1", shop)

    watched.before_duplicate = redact
    with pytest.raises(RuntimeError, match="the duplicate's stored event disappeared"):
        await intake.store(delivery(shop, "wh-1", "ev-1"))
    await intake.close()


async def test_a_batch_of_two_with_a_bad_row_stores_the_good_one(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher, writers=1)  # type: ignore[arg-type]
    shop = new_shop()
    bad_hook = delivery(shop, "wh-bad")
    outcomes = await asyncio.gather(
        intake.store(delivery(shop, "wh-good")),
        intake.store(replace(bad_hook, body=b"\xff")),
        return_exceptions=True,
    )
    await intake.close()
    assert isinstance(outcomes[0], Stored) and isinstance(outcomes[1], UnicodeDecodeError)
    assert [r["webhook_id"] for r in await rows(ingest_pool, shop)] == ["wh-good"]


class RecordingLog:
    """Stands in for the module's logger: every line's event and fields."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})

    warning = info


async def test_each_batch_logs_its_webhook_ids_and_event_uids(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    intake = Intake(ingest_pool, publisher, writers=1)  # type: ignore[arg-type]
    shop = new_shop()
    await intake.store(delivery(shop, "wh-0", "ev-0"))
    logs = RecordingLog()
    monkeypatch.setattr(intake_module, "log", logs)
    stored = await asyncio.gather(
        *(intake.store(delivery(shop, f"wh-{i}", f"ev-{i}")) for i in range(3))
    )
    await intake.close()
    [line] = [entry for entry in logs.lines if entry["event"] == "webhooks stored"]
    fresh = [s.event_uid for s in stored[1:]]
    assert (line["count"], line["duplicates"], line["webhook_ids"]) == (2, 1, "wh-1 wh-2")
    assert line["event_uids"] == " ".join(fresh)


async def test_each_event_keeps_and_is_published_in_its_own_webhooks_trace(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher, span_exporter: Any
) -> None:
    intake = Intake(ingest_pool, publisher, writers=1)  # type: ignore[arg-type]
    shop = new_shop()
    tracer = tracing.get_tracer("test")

    async def webhook(n: int) -> tuple[Stored, str | None]:
        with tracer.start_as_current_span(f"POST /webhooks/shopify {n}"):
            return await intake.store(delivery(shop, f"wh-{n}")), tracing.current_trace_id()

    answered = await asyncio.gather(*(webhook(n) for n in range(3)))  # one batch
    await intake.close()
    stored = {str(r["event_uid"]): r for r in await rows(ingest_pool, shop)}
    for event, trace_id in answered:
        assert trace_id is not None and publisher.trace_ids[event.event_uid] == trace_id
        assert trace_id in json.loads(stored[event.event_uid]["trace_headers"])["traceparent"]


async def test_close_waits_for_the_batches_and_publishes_under_way(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher)  # type: ignore[arg-type]
    shop = new_shop()
    storing = [asyncio.ensure_future(intake.store(delivery(shop, f"wh-{i}"))) for i in range(3)]
    await asyncio.sleep(0)  # queued, their batch not yet written
    await intake.close()  # shutdown: returns once written and published
    assert all(task.done() for task in storing)
    assert len(publisher.published) == 3
    assert all(r["published_at"] is not None for r in await rows(ingest_pool, shop))


async def test_a_stored_body_is_compressed_with_lz4_where_the_server_has_it(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher)  # type: ignore[arg-type]
    shop = new_shop()
    notes = "a note the customer wrote at checkout. " * 200  # compressible, about 8 KB
    await intake.store(delivery(shop, "wh-1", note=notes))
    await intake.close()
    async with ingest_pool.acquire() as connection:
        try:  # whether this server was built with lz4 (ingest's migration 0009 falls back)
            await connection.execute("SET default_toast_compression = lz4")
            expected = "lz4"
        except asyncpg.PostgresError:
            expected = "pglz"
        finally:
            await connection.execute("RESET default_toast_compression")
        method = await connection.fetchval(
            "SELECT pg_column_compression(body) FROM ingest.webhook_events WHERE shop = $1", shop
        )
    assert method == expected


async def test_a_delivery_right_after_the_last_writer_finished_starts_a_writer(
    ingest_pool: asyncpg.Pool, publisher: RecordingPublisher
) -> None:
    intake = Intake(ingest_pool, publisher, writers=1)  # type: ignore[arg-type]
    shop = new_shop()
    await intake.store(delivery(shop, "wh-1"))
    # In the same turn of the event loop as the answer: the only writer has just found nothing
    # left, and its task is not yet done. The delivery must not wait for another one to come.
    async with asyncio.timeout(5):
        assert (await intake.store(delivery(shop, "wh-2"))).new
    await intake.close()
    assert [r["webhook_id"] for r in await rows(ingest_pool, shop)] == ["wh-1", "wh-2"]


class InsertCountingPool:
    """The real pool; counts the batch INSERTs and their rows."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.inserts: list[int] = []

    async def fetch(self, *args: Any) -> Any:
        if "INSERT INTO ingest.webhook_events" in args[0]:
            self.inserts.append(len(args[1]))
        return await self.pool.fetch(*args)

    async def fetchval(self, *args: Any) -> Any:
        return await self.pool.fetchval(*args)

    async def execute(self, *args: Any) -> Any:
        return await self.pool.execute(*args)


async def _inserts_of_webhooks_a_little_apart(
    pool: asyncpg.Pool, write_wait: float, count: int = 5
) -> tuple[list[int], list[Stored], str]:
    """The rows of each INSERT when ``count`` webhooks arrive 5 ms apart (and what each got)."""
    counting = InsertCountingPool(pool)
    intake = Intake(counting, RecordingPublisher(), write_wait=write_wait)  # type: ignore[arg-type]
    shop = new_shop()
    tasks = []
    for n in range(count):
        tasks.append(asyncio.create_task(intake.store(delivery(shop, f"wh-{n}"))))
        await asyncio.sleep(0.005)
    stored = await asyncio.gather(*tasks)
    await intake.close()
    return counting.inserts, stored, shop


async def test_webhooks_a_little_apart_are_written_together_within_write_wait(
    ingest_pool: asyncpg.Pool,
) -> None:
    inserts, stored, shop = await _inserts_of_webhooks_a_little_apart(ingest_pool, 0.2)
    assert inserts == [5] and all(s.new for s in stored)
    assert len(await rows(ingest_pool, shop)) == 5


async def test_without_write_wait_a_lone_webhook_is_written_at_once(
    ingest_pool: asyncpg.Pool,
) -> None:
    inserts, _, _ = await _inserts_of_webhooks_a_little_apart(ingest_pool, 0.0)
    assert sum(inserts) == 5 and len(inserts) > 1


async def test_webhooks_arriving_together_are_written_without_waiting(
    ingest_pool: asyncpg.Pool,
) -> None:
    counting = InsertCountingPool(ingest_pool)
    intake = Intake(
        counting,
        RecordingPublisher(),  # type: ignore[arg-type]
        writers=1,
        write_wait=30.0,
    )
    shop = new_shop()
    first, second = (delivery(shop, f"wh-{n}") for n in range(2))
    stored = await asyncio.wait_for(asyncio.gather(intake.store(first), intake.store(second)), 5)
    assert counting.inserts == [2] and all(s.new for s in stored)
    await intake.close()
