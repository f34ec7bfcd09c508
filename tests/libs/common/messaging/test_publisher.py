"""The publisher when the broker cannot confirm: a clear, bounded failure, never a hang."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aio_pika
import pytest

from libs.common.messages import ShopifyEvent, utcnow
from libs.common.messaging import MAPPER_EVENTS, Publisher, PublishFailed, Topology
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
