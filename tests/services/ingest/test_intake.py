"""Ingest's group commit and outbox (services/ingest/intake.py, events.relay_once), on the real
database and broker: ingest alone, so what it publishes waits in the mapper's queue."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import pytest
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from libs.common.messaging import MAPPER_EVENTS
from libs.common.messaging.publisher import SHOP_HEADER
from libs.common.service import STATE
from services.ingest import events
from services.ingest.intake import Intake
from services.ingest.routes import INTAKE
from services.ingest.webhook import WebhookDelivery
from simulators.shopify.payloads import order_payload
from simulators.shopify.webhooks import WebhookSender, build_webhook, deliver, redelivery
from tests.conftest import StackFactory
from tests.support.stack import SHOPIFY_SECRET, Stack


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest",), reconcile_interval_seconds=0)


async def post(stack: Stack, hook: Any) -> tuple[int, dict[str, Any]]:
    async with stack.http.post(
        stack.url("ingest", "/webhooks/shopify"), data=hook.body, headers=dict(hook.headers)
    ) as response:
        return response.status, await response.json()


async def rows(stack: Stack) -> list[dict[str, Any]]:
    found = await stack.pool.fetch(
        "SELECT event_uid, webhook_id, event_id, duplicates, published_at, set_aside_at,"
        " set_aside_reason FROM ingest.webhook_events WHERE shop = $1 ORDER BY received_at",
        stack.shop,
    )
    return [dict(row) for row in found]


async def published_ids(stack: Stack) -> list[str]:
    """The ids of the test shop's messages waiting in the mapper's queue (all taken off it).
    The test database is shared: the stack's relay also publishes what earlier tests left
    unpublished on purpose, for their own shops."""
    queue_name = MAPPER_EVENTS.full_name(stack.settings.amqp_namespace)
    ids: list[str] = []
    connection = await aio_pika.connect(stack.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            if message.headers.get(SHOP_HEADER) == stack.shop:
                ids.append(str(message.message_id))
    return ids


def intake_of(stack: Stack) -> Intake:
    return stack.apps["ingest"][INTAKE][0]


def batches() -> float:
    return REGISTRY.get_sample_value("fortbridge_ingest_batch_size_count") or 0.0


async def test_the_same_event_under_a_new_webhook_id_is_stored_once(stack: Stack) -> None:
    hook = build_webhook("orders/paid", stack.shop, order_payload(), SHOPIFY_SECRET)
    url = stack.url("ingest", "/webhooks/shopify")
    sender = WebhookSender(stack.http, timeout=5.0, max_retries=0)
    first = await sender.send(url, hook)
    again = await sender.redeliver(url, hook)
    assert first.status == again.status == 200
    # Both at once too: the two deliveries may share one batch.
    other = build_webhook("orders/paid", stack.shop, order_payload(), SHOPIFY_SECRET)
    answers = await asyncio.gather(post(stack, other), post(stack, redelivery(other)))
    assert sorted(body["status"] for _, body in answers) == ["duplicate", "stored"]
    assert answers[0][1]["event_uid"] == answers[1][1]["event_uid"]
    stored = await rows(stack)
    assert [(r["event_id"], r["duplicates"]) for r in stored] == [
        (hook.event_id, 1),
        (other.event_id, 1),
    ]
    assert stored[0]["webhook_id"] == hook.webhook_id


async def test_a_burst_is_written_in_few_statements_each_delivery_answered_for_itself(
    stack: Stack,
) -> None:
    hooks = [
        build_webhook("orders/create", stack.shop, order_payload(), SHOPIFY_SECRET)
        for _ in range(40)
    ]
    before = batches()
    url = stack.url("ingest", "/webhooks/shopify")
    statuses = await asyncio.gather(
        *(deliver(stack.http, url, hook) for hook in hooks),
        deliver(stack.http, url, hooks[7], copies=2),
    )
    assert [s for group in statuses for s in group] == [200] * 42
    written = batches() - before
    assert 1 <= written < 42  # grouped: fewer statements than deliveries
    stored = await rows(stack)
    assert sorted(r["webhook_id"] for r in stored) == sorted(h.webhook_id for h in hooks)
    assert {r["webhook_id"]: r["duplicates"] for r in stored}[hooks[7].webhook_id] == 2
    # Every new event is published once, under its event uid, and marked published.
    await stack.wait_for(lambda: _all_published(stack))
    assert sorted(await published_ids(stack)) == sorted(str(r["event_uid"]) for r in stored)


async def test_the_intake_writes_on_connections_of_its_own_released_without_a_reset_query(
    stack: Stack,
) -> None:
    """Its INSERTs and UPDATEs are single statements: its pool skips asyncpg's reset query (a
    round trip and four commands per statement), which the service's own pool keeps."""
    pool = intake_of(stack).pool
    assert pool is not stack.pool and pool is not stack.apps["ingest"][STATE].runtime.pool
    async with pool.acquire() as connection:
        await connection.execute("SET application_name = 'probe-of-the-intake'")
    held = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        names = [await c.fetchval("SHOW application_name") for c in held]
    finally:
        for connection in held:
            await pool.release(connection)
    assert "probe-of-the-intake" in names


async def _all_published(stack: Stack) -> bool:
    return all(r["published_at"] is not None for r in await rows(stack))


async def test_one_row_the_database_refuses_does_not_fail_its_batch(stack: Stack) -> None:
    intake = intake_of(stack)

    def delivery(n: int, body: bytes) -> WebhookDelivery:
        return WebhookDelivery(
            shop=stack.shop,
            topic="orders/create",
            webhook_id=f"wh-{n}-{uuid.uuid4()}",
            event_id=None,
            api_version="2025-07",
            triggered_at=None,
            order_id=str(n),
            body=body,
        )

    bodies = [json.dumps({"id": n}).encode() for n in range(6)]
    bodies[3] = b'{"id": 3, "note": "\x00"}'  # no text column stores NUL (webhooks refuse it)
    outcomes = await asyncio.gather(
        *(intake.store(delivery(n, body)) for n, body in enumerate(bodies)),
        return_exceptions=True,
    )
    failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == [3]
    assert len(await rows(stack)) == 5


async def insert_left_behind(stack: Stack, body: str, *, trace_headers: str = "{}") -> str:
    """A stored, unpublished event, as a crash between commit and publish leaves it."""
    event_uid = uuid.uuid4()
    await stack.pool.execute(
        """
        INSERT INTO ingest.webhook_events (event_uid, shop, topic, webhook_id, received_at, body,
            trace_headers)
        VALUES ($1, $2, 'orders/create', $3, now() - interval '10 seconds', $4, $5::jsonb)
        """,
        event_uid,
        stack.shop,
        str(uuid.uuid4()),
        body,
        trace_headers,
    )
    return str(event_uid)


async def test_a_poisoned_row_is_set_aside_and_the_relay_publishes_the_rows_around_it(
    stack: Stack,
) -> None:
    good = [json.dumps(order_payload()) for _ in range(3)]
    deep = '{"a":' * 900 + "1" + "}" * 900  # what a signed 900-level webhook stored before
    uids = [
        await insert_left_behind(stack, good[0]),
        await insert_left_behind(stack, deep),
        await insert_left_behind(stack, good[1]),
        await insert_left_behind(stack, "{not json"),
        await insert_left_behind(stack, good[2]),
    ]
    poisoned = {uids[1], uids[3]}
    healthy = [uid for uid in uids if uid not in poisoned]
    # The service's own relay (every 0.2 s in tests) gets to them.
    await stack.wait_for(lambda: _settled(stack, len(uids)))
    by_uid = {str(r["event_uid"]): r for r in await rows(stack)}
    assert all(by_uid[uid]["published_at"] is not None for uid in healthy)
    assert all(by_uid[uid]["published_at"] is None for uid in poisoned)
    assert "nests deeper than 64" in by_uid[uids[1]]["set_aside_reason"]
    assert "not valid JSON" in by_uid[uids[3]]["set_aside_reason"]
    assert sorted(await published_ids(stack)) == sorted(healthy)
    assert (REGISTRY.get_sample_value("fortbridge_ingest_outbox_set_aside") or 0) >= 2
    # Operators see them, with the reason.
    async with stack.http.get(
        stack.url("ingest", "/admin/api/webhooks/set_aside.json"),
        params={"shop": stack.shop},
        headers=stack.admin_headers(),
    ) as response:
        assert response.status == 200
        listed = (await response.json())["set_aside_events"]
    assert {event["event_uid"] for event in listed} == poisoned
    assert all(event["reason"] for event in listed)
    # Set aside once, not retried every pass: later passes leave them alone.
    runtime = stack.apps["ingest"][STATE].require_runtime()
    later = await insert_left_behind(stack, good[0])
    assert await events.relay_once(runtime.pool, runtime.publisher, older_than=0) >= 1
    after = {str(r["event_uid"]): r for r in await rows(stack)}
    for uid in poisoned:
        assert after[uid]["set_aside_at"] == by_uid[uid]["set_aside_at"]
    assert after[later]["published_at"] is not None
    assert await published_ids(stack) == [later]


async def _settled(stack: Stack, count: int) -> bool:
    found = await rows(stack)
    return len(found) == count and all(
        r["published_at"] is not None or r["set_aside_at"] is not None for r in found
    )


async def test_the_relay_publishes_in_the_trace_of_the_webhook_it_stored(
    stack: Stack, span_exporter: Any
) -> None:
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    uid = await insert_left_behind(
        stack, json.dumps(order_payload()), trace_headers=json.dumps({"traceparent": parent})
    )
    await stack.wait_for(lambda: _settled(stack, 1))
    [span] = [
        s
        for s in span_exporter.get_finished_spans()
        if s.name.startswith("publish ")
        and s.attributes
        and s.attributes.get("messaging.message.id") == uid
    ]
    assert format(span.context.trace_id, "032x") == trace_id


async def test_each_webhook_of_a_batch_is_published_in_its_own_trace(
    stack: Stack, span_exporter: Any
) -> None:
    """The batch's publishes are one call, yet every message continues its own webhook's trace:
    its traceparent names a PRODUCER span whose parent is that webhook's SERVER span."""
    span_exporter.clear()
    hooks = [
        build_webhook("orders/create", stack.shop, order_payload(), SHOPIFY_SECRET)
        for _ in range(12)
    ]
    callers = {hook.webhook_id: uuid.uuid4().hex for hook in hooks}
    url = stack.url("ingest", "/webhooks/shopify")

    async def send(hook: Any) -> str:
        headers = {**hook.headers, "traceparent": f"00-{callers[hook.webhook_id]}-{'1' * 16}-01"}
        async with stack.http.post(url, data=hook.body, headers=headers) as response:
            assert response.status == 200
            return str((await response.json())["event_uid"])

    event_uids = await asyncio.gather(*(send(hook) for hook in hooks))
    trace_of = {uid: callers[hook.webhook_id] for uid, hook in zip(event_uids, hooks, strict=True)}
    await stack.wait_for(lambda: _all_published(stack))
    assert batches() > 0
    spans = span_exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    queue_name = MAPPER_EVENTS.full_name(stack.settings.amqp_namespace)
    connection = await aio_pika.connect(stack.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        messages = [await queue.get(no_ack=True, timeout=5) for _ in hooks]
    assert sorted(str(m.message_id) for m in messages) == sorted(event_uids)
    for message in messages:
        _, trace_id, span_id, _ = str(message.headers["traceparent"]).split("-")
        assert trace_id == trace_of[str(message.message_id)]
        producer = by_id[int(span_id, 16)]
        assert producer.kind is SpanKind.PRODUCER and producer.parent is not None
        server = by_id[producer.parent.span_id]
        assert server.kind is SpanKind.SERVER
        assert dict(server.attributes or {})["fortbridge.event_uid"] == message.message_id
