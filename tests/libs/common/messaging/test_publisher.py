"""The publisher: confirmed publishes, batches traced per message, and when the broker cannot
confirm a clear, bounded failure, never a hang."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aio_pika
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import REGISTRY

from libs.common import tracing
from libs.common.messages import ShopifyEvent, utcnow
from libs.common.messaging import MAPPER_EVENTS, Publisher, PublishFailed, Topology
from libs.common.messaging.publisher import Outgoing
from tests.support.tcp_proxy import TcpProxy, tcp_proxy


def event() -> ShopifyEvent:
    return ShopifyEvent(
        shop="demo.myshopify.com",
        event_uid="uid-1",
        topic="orders/create",
        webhook_id="wh-1",
        received_at=utcnow(),
        payload={"id": 1},
    )


async def test_confirmed_publish_reaches_the_queue(amqp_url: str, broker_cleanup: Topology) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        await broker_cleanup.declare(await connection.channel())
        publisher = Publisher(connection, broker_cleanup.events_exchange, timeout=5)
        await publisher.start()
        await publisher.publish(event(), "shopify.orders.create")
        channel = await connection.channel()
        queue = await channel.get_queue(broker_cleanup.queue_name(MAPPER_EVENTS))
        received = await queue.get(timeout=5)
        assert received.message_id is not None and b"uid-1" in received.body
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def proxied_publisher(
    amqp_url: str, topology: Topology, timeout: float
) -> AsyncIterator[tuple[TcpProxy, Publisher]]:
    """A publisher whose connection runs through a TCP proxy the test can break."""
    async with tcp_proxy(amqp_url) as proxy:
        connection = await aio_pika.connect_robust(proxy.url(amqp_url))
        try:
            await topology.declare(await connection.channel())
            publisher = Publisher(connection, topology.events_exchange, timeout=timeout)
            await publisher.start()
            yield proxy, publisher
        finally:
            proxy.release()
            await connection.close()


async def test_no_confirm_within_the_timeout_is_a_publish_failure(
    amqp_url: str, broker_cleanup: Topology
) -> None:
    async with proxied_publisher(amqp_url, broker_cleanup, timeout=1.0) as (proxy, publisher):
        proxy.hold()  # a partition: the confirm never comes back
        started = time.monotonic()
        with pytest.raises(PublishFailed, match=r"no broker confirm within 1\.0 s"):
            await publisher.publish(event(), "shopify.orders.create")
        assert time.monotonic() - started < 3


async def test_a_connection_reset_before_the_confirm_is_a_publish_failure(
    amqp_url: str, broker_cleanup: Topology
) -> None:
    async with proxied_publisher(amqp_url, broker_cleanup, timeout=10.0) as (proxy, publisher):
        proxy.hold()
        publishing = asyncio.create_task(publisher.publish(event(), "shopify.orders.create"))
        await asyncio.sleep(0.3)
        proxy.cut()
        # The caller's task is not cancelled: it learns the publish failed, and carries on.
        with pytest.raises((PublishFailed, ConnectionError)):
            await publishing
        assert not publishing.cancelled()


async def test_a_batch_publishes_each_message_in_its_own_trace(
    amqp_url: str, broker_cleanup: Topology, span_exporter: InMemorySpanExporter
) -> None:
    """Each message of a batch is a PRODUCER span under the context given with it and carries
    that span's traceparent, so each continues its own trace; an unroutable one fails alone."""
    span_exporter.clear()
    tracer = tracing.get_tracer(__name__)
    parents = [tracer.start_span(f"webhook {n}") for n in range(3)]
    contexts = [trace.set_span_in_context(span) for span in parents]
    body = event().model_dump_json().encode()
    messages = [
        Outgoing(body, "shopify.orders.create", message_id=f"m{n}", parent=context)
        for n, context in enumerate(contexts)
    ]
    messages.insert(1, Outgoing(body, "nobody.listens.here", message_id="lost"))
    published = REGISTRY.get_sample_value(
        "fortbridge_messages_published_total", {"exchange": broker_cleanup.events_exchange}
    )
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        await broker_cleanup.declare(await connection.channel())
        publisher = Publisher(connection, broker_cleanup.events_exchange, timeout=5)
        await publisher.start()
        outcomes = await publisher.publish_batch(messages, exchange=publisher.events_exchange)
        assert [outcome is None for outcome in outcomes] == [True, False, True, True]
        channel = await connection.channel()
        queue = await channel.get_queue(broker_cleanup.queue_name(MAPPER_EVENTS))
        received = [await queue.get(timeout=5) for _ in range(3)]
    finally:
        await connection.close()
    assert (
        REGISTRY.get_sample_value(
            "fortbridge_messages_published_total", {"exchange": broker_cleanup.events_exchange}
        )
        == (published or 0) + 3
    )
    producers = {
        (span.attributes or {})["messaging.message.id"]: span
        for span in span_exporter.get_finished_spans()
        if span.kind is SpanKind.PRODUCER
    }
    for message in received:
        n = int(str(message.message_id).removeprefix("m"))
        parent = parents[n].get_span_context()
        producer = producers[f"m{n}"]
        # The producer span is a child of its own webhook's span ...
        assert producer.parent is not None and producer.parent.span_id == parent.span_id
        assert producer.context.trace_id == parent.trace_id
        # ... and the message carries the producer span: the consumer continues that trace.
        _, trace_id, span_id, _ = str(message.headers["traceparent"]).split("-")
        assert (trace_id, span_id) == (
            f"{parent.trace_id:032x}",
            f"{producer.context.span_id:016x}",
        )
    assert producers["lost"].status.status_code is StatusCode.ERROR


async def test_a_batch_without_confirms_fails_every_message_and_the_next_batch_works(
    amqp_url: str, broker_cleanup: Topology
) -> None:
    body = event().model_dump_json().encode()
    batch = [Outgoing(body, "shopify.orders.create", message_id=f"b{n}") for n in range(3)]
    async with proxied_publisher(amqp_url, broker_cleanup, timeout=1.0) as (proxy, publisher):
        proxy.hold()
        started = time.monotonic()
        outcomes = await publisher.publish_batch(batch, exchange=publisher.events_exchange)
        assert all(isinstance(outcome, PublishFailed) for outcome in outcomes), outcomes
        assert time.monotonic() - started < 3
        proxy.release()
        # The late acks of the failed batch are ignored; a new batch gets its own.
        again = await publisher.publish_batch(batch, exchange=publisher.events_exchange)
        assert again == [None, None, None]


async def test_a_writer_that_takes_no_frames_is_a_publish_failure_in_time(
    amqp_url: str, broker_cleanup: Topology
) -> None:
    """A connection whose writer is stuck (a stalled socket fills aiormq's bounded write queue)
    fails the batch within the timeout, as basic_publish's timeout did, instead of hanging with
    the channel's lock held; the tags it took are handed back."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        await broker_cleanup.declare(await connection.channel())
        publisher = Publisher(connection, broker_cleanup.events_exchange, timeout=1.0)
        await publisher.start()
        channel = await publisher._underlay()
        tag = channel.delivery_tag
        stuck: asyncio.Queue[object] = asyncio.Queue(maxsize=1)
        stuck.put_nowait(object())
        writer, channel.write_queue = channel.write_queue, stuck
        started = time.monotonic()
        with pytest.raises(PublishFailed, match=r"within 1\.0 s"):
            await asyncio.wait_for(publisher.publish(event(), "shopify.orders.create"), 10)
        assert time.monotonic() - started < 3
        assert channel.delivery_tag == tag
        channel.write_queue = writer  # the writer takes frames again: the lock is free
        await publisher.publish(event(), "shopify.orders.create")
    finally:
        await connection.close()
