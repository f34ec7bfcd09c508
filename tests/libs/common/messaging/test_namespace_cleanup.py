"""A test's namespace is deleted whole (tests/support/broker.py, the ``broker_cleanup`` fixture):
wait queues of any delay and queues a test declared by hand go too, so nothing is left behind."""

from __future__ import annotations

import asyncio

import aio_pika
import aiohttp

from libs.common.messaging import Topology
from libs.common.messaging.inspect import ManagementApi
from tests.support.broker import delete_test_namespace, management_api


async def _listed(management: ManagementApi, namespace: str) -> set[str]:
    async with aiohttp.ClientSession() as http:
        return set(await management.queues(http, f"{namespace}."))


async def _listed_with(management: ManagementApi, namespace: str, names: set[str]) -> set[str]:
    """The namespace's queues once the listing shows ``names`` (it follows within moments)."""
    listed: set[str] = set()
    for _ in range(50):
        listed = await _listed(management, namespace)
        if names <= listed:
            break
        await asyncio.sleep(0.1)
    return listed


async def test_a_namespace_with_wait_queues_of_any_delay_leaves_no_queue(
    amqp_url: str, namespace: str
) -> None:
    management = management_api(amqp_url)
    assert management is not None, "RabbitMQ's management plugin is off (scripts/setup.sh)"
    topology = Topology(namespace=namespace, retry_delays=(0.2, 0.5), delivery_limit=3)
    # Delays no topology of the tests names (a wait queue of 750 ms, 3 s), and queues a test
    # made by hand: only the management API's listing knows of them.
    extra = {
        f"{namespace}.mapper.events.wait.750ms",
        f"{namespace}.fortnox_writer.commands.wait.3s",
        f"{namespace}.probe.wait.200ms",
        f"{namespace}.probe",
    }
    connection = await aio_pika.connect(amqp_url)
    try:
        async with connection:
            await topology.declare_on(connection)
            channel = await connection.channel()
            for name in sorted(extra):
                await channel.declare_queue(name, durable=True)
        before = await _listed_with(management, namespace, extra)
        assert extra <= before and f"{namespace}.mapper.events.wait.200ms" in before, before
    finally:
        deleted = await delete_test_namespace(amqp_url, namespace)
    assert set(deleted) >= before
    assert await _listed(management, namespace) == set()
    # Another namespace's queues are not touched (a positive control on the prefix).
    other = Topology(namespace=f"{namespace}x", retry_delays=(0.2,), delivery_limit=3)
    connection = await aio_pika.connect(amqp_url)
    try:
        async with connection:
            await other.declare_on(connection)
        assert f"{namespace}x.mapper.events" not in await delete_test_namespace(amqp_url, namespace)
        kept = {f"{namespace}x.mapper.events"}
        assert kept <= await _listed_with(management, f"{namespace}x", kept)
    finally:
        await delete_test_namespace(amqp_url, f"{namespace}x")
