"""Topology declaration against the real broker: idempotent, and safe when replicas race."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest

from libs.common.messaging import Topology


async def test_replicas_declaring_at_once_all_succeed(
    amqp_url: str, broker_cleanup: Topology
) -> None:
    connections = [await aio_pika.connect_robust(amqp_url) for _ in range(5)]
    try:
        await asyncio.gather(*(broker_cleanup.declare_on(c) for c in connections))
        # Declaring again (a restart) is a no-op, and every queue is there and durable.
        await broker_cleanup.declare_on(connections[0])
        channel = await connections[0].channel()
        for work_queue in broker_cleanup.work_queues:
            await channel.declare_queue(broker_cleanup.queue_name(work_queue), passive=True)
            for delay in broker_cleanup.retry_delays:
                await channel.declare_queue(
                    broker_cleanup.wait_queue_name(work_queue, delay), passive=True
                )
        await channel.declare_queue(broker_cleanup.dead_letter_queue, passive=True)
    finally:
        for connection in connections:
            await connection.close()


async def test_conflicting_arguments_are_not_retried(
    amqp_url: str, broker_cleanup: Topology
) -> None:
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        await broker_cleanup.declare_on(connection)
        other = Topology(
            namespace=broker_cleanup.namespace,
            retry_delays=broker_cleanup.retry_delays,
            delivery_limit=broker_cleanup.delivery_limit + 1,
        )
        with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
            await other.declare_on(connection)
    finally:
        await connection.close()
