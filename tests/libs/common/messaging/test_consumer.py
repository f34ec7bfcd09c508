"""The consumer runner against the real broker: ack, retry, dead letter, delivery limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import aiormq
import pytest
from aio_pika.abc import AbstractRobustConnection

from libs.common.errors import PermanentError, TransientError
from libs.common.messages import ShopifyEvent, utcnow
from libs.common.messaging import MAPPER_EVENTS, Consumer, Delivery, Publisher, Topology
from libs.common.messaging.consumer import ATTEMPT_HEADER


@pytest.fixture
async def connection(amqp_url: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url)
    yield connection
    await connection.close()


@pytest.fixture
async def publisher(
    connection: AbstractRobustConnection, broker_cleanup: Topology
) -> AsyncIterator[Publisher]:
    channel = await connection.channel()
    await broker_cleanup.declare(channel)
    publisher = Publisher(connection, broker_cleanup.events_exchange)
    await publisher.start()
    yield publisher
    await publisher.close()


def event(n: int = 1) -> ShopifyEvent:
    return ShopifyEvent(
        shop="demo.myshopify.com",
        event_uid=f"uid-{n}",
        topic="orders/create",
        webhook_id=f"wh-{n}",
        received_at=utcnow(),
        payload={"id": n},
    )


async def dead_letters(
    connection: AbstractRobustConnection, topology: Topology, expected: int, timeout: float = 10
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    channel = await connection.channel()
    queue = await channel.get_queue(topology.dead_letter_queue)
    found = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found) < expected and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        found.append(message)
    return found


def consumer(connection, topology, publisher, handler, max_attempts=3) -> Consumer:  # type: ignore[no-untyped-def]
    return Consumer(
        connection=connection,
        topology=topology,
        queue=MAPPER_EVENTS,
        handler=handler,
        publisher=publisher,
        service="test",
        prefetch=4,
        max_attempts=max_attempts,
    )


async def test_handled_message_is_acked_once(
    connection: AbstractRobustConnection, broker_cleanup: Topology, publisher: Publisher
) -> None:
    seen: list[ShopifyEvent] = []
    done = asyncio.Event()

    async def handle(delivery: Delivery) -> None:
        seen.append(delivery.parse(ShopifyEvent))
        done.set()

    runner = consumer(connection, broker_cleanup, publisher, handle)
    await runner.start()
    await publisher.publish(event(), "shopify.orders.create")
    await asyncio.wait_for(done.wait(), 10)
    await runner.stop()
    assert [e.event_uid for e in seen] == ["uid-1"]
    channel = await connection.channel()
    queue = await channel.declare_queue(broker_cleanup.queue_name(MAPPER_EVENTS), passive=True)
    assert queue.declaration_result.message_count == 0


async def test_permanent_error_dead_letters_with_reason(
    connection: AbstractRobustConnection, broker_cleanup: Topology, publisher: Publisher
) -> None:
    async def handle(delivery: Delivery) -> None:
        raise PermanentError("VAT rate 19 missing", code="2000728", source_message="moms")

    runner = consumer(connection, broker_cleanup, publisher, handle)
    await runner.start()
    await publisher.publish(event(), "shopify.orders.create")
    [letter] = await dead_letters(connection, broker_cleanup, 1)
    await runner.stop()
    assert letter.headers["x-fortbridge-error-class"] == "permanent"
    assert letter.headers["x-fortbridge-error-code"] == "2000728"
    assert letter.headers["x-fortbridge-failed-queue"] == broker_cleanup.queue_name(MAPPER_EVENTS)
    assert letter.routing_key == "shopify.orders.create"
    assert b"uid-1" in letter.body


async def test_transient_error_is_retried_after_a_delay(
    connection: AbstractRobustConnection, broker_cleanup: Topology, publisher: Publisher
) -> None:
    attempts: list[int] = []
    done = asyncio.Event()

    async def handle(delivery: Delivery) -> None:
        attempts.append(delivery.attempt)
        if len(attempts) == 1:
            raise TransientError("Fortnox timed out")
        done.set()

    runner = consumer(connection, broker_cleanup, publisher, handle)
    await runner.start()
    await publisher.publish(event(), "shopify.orders.create")
    await asyncio.wait_for(done.wait(), 10)
    await runner.stop()
    assert attempts == [0, 1]


async def test_unexpected_errors_stop_after_max_attempts(
    connection: AbstractRobustConnection, broker_cleanup: Topology, publisher: Publisher
) -> None:
    calls = 0

    async def handle(delivery: Delivery) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("bug")

    runner = consumer(connection, broker_cleanup, publisher, handle, max_attempts=3)
    await runner.start()
    await publisher.publish(event(), "shopify.orders.create")
    [letter] = await dead_letters(connection, broker_cleanup, 1)
    await runner.stop()
    assert calls == 3
    assert letter.headers["x-fortbridge-error-class"] == "unexpected"
    assert letter.headers["x-fortbridge-error-code"] == "RuntimeError"
    assert letter.headers[ATTEMPT_HEADER] == 2


async def test_message_that_kills_its_consumer_stops_at_the_delivery_limit(
    connection: AbstractRobustConnection, broker_cleanup: Topology, publisher: Publisher
) -> None:
    await publisher.publish(event(), "shopify.orders.create")
    queue_name = broker_cleanup.queue_name(MAPPER_EVENTS)
    deliveries = 0
    for _ in range(broker_cleanup.delivery_limit + 2):
        channel = await connection.channel()
        queue = await channel.get_queue(queue_name)
        message = await queue.get(fail=False, no_ack=False)
        if message is None:
            await channel.close()
            break
        deliveries += 1
        await channel.close()  # the "crash": the channel dies without an ack
    [letter] = await dead_letters(connection, broker_cleanup, 1)
    assert deliveries == broker_cleanup.delivery_limit + 1
    assert letter.headers["x-death"][0]["reason"] == "delivery_limit"


async def test_unroutable_publish_raises(publisher: Publisher) -> None:
    with pytest.raises(aio_pika.exceptions.PublishError):
        await publisher.publish_raw(b"{}", "no-such-queue", exchange="")


class _RefusesFirstConsume:
    """The real robust connection, except that the first consume fails the way RabbitMQ 3.10
    fails one on a quorum queue whose process is not up yet (INTERNAL_ERROR)."""

    def __init__(self, connection: AbstractRobustConnection) -> None:
        self._connection = connection
        self.refused = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._connection, name)

    async def channel(self) -> object:
        channel = await self._connection.channel()
        if self.refused:
            return channel
        outer = self

        class Queue:
            def __init__(self, queue: object) -> None:
                self._queue = queue

            async def consume(self, *args: object, **kwargs: object) -> str:
                outer.refused += 1
                raise aiormq.exceptions.ConnectionInternalError("INTERNAL_ERROR")

        class Channel:
            is_closed = False

            def __getattr__(self, name: str) -> object:
                return getattr(channel, name)

            async def get_queue(self, name: str, ensure: bool = True) -> Queue:
                return Queue(await channel.get_queue(name, ensure=ensure))

        return Channel()


async def test_a_consume_the_broker_refuses_is_asked_again(
    connection: AbstractRobustConnection, publisher: Publisher, broker_cleanup: Topology
) -> None:
    handled: list[str] = []

    async def handle(delivery: Delivery) -> None:
        handled.append(delivery.message_id or "")

    flaky = _RefusesFirstConsume(connection)
    consumer = Consumer(
        connection=flaky,  # type: ignore[arg-type]
        topology=broker_cleanup,
        queue=MAPPER_EVENTS,
        handler=handle,
        publisher=publisher,
        service="tests",
    )
    await consumer.start(pause=0.01)
    try:
        assert flaky.refused == 1 and consumer.running
        await publisher.publish(event(7), routing_key="shopify.orders.create")
        for _ in range(200):
            if handled:
                break
            await asyncio.sleep(0.05)
        assert len(handled) == 1
    finally:
        await consumer.stop()


async def test_a_consume_refused_every_time_fails_the_start(
    connection: AbstractRobustConnection, publisher: Publisher, broker_cleanup: Topology
) -> None:
    class AlwaysRefuses(_RefusesFirstConsume):
        async def channel(self) -> object:
            self.refused = 0
            return await super().channel()

    consumer = Consumer(
        connection=AlwaysRefuses(connection),  # type: ignore[arg-type]
        topology=broker_cleanup,
        queue=MAPPER_EVENTS,
        handler=lambda _delivery: asyncio.sleep(0),
        publisher=publisher,
        service="tests",
    )
    with pytest.raises(aiormq.exceptions.ConnectionInternalError):
        await consumer.start(attempts=3, pause=0.01)
