"""``GET /admin/api/quiet.json``: is anything still in flight? False while orders flow, true
after; each service's part counted (outbox, set-aside commands by reason, failed jobs, syncs);
unacknowledged messages from RabbitMQ's management API, or reported as not measured without it.

The stack runs on a database of its own: quiet counts the whole deployment's tables, and the
test run's shared database holds other tests' leftovers.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiohttp
import asyncpg
import pytest

from fortbridge.localstack import migrate_all
from libs.common import database
from libs.common.access import ApiTokenStore
from libs.common.messaging import MAPPER_EVENTS, Topology
from libs.common.messaging.inspect import (
    BrokerReport,
    ManagementApi,
    QueueStats,
    inspect_queues,
)
from libs.common.quiet import compose
from services.fortnox_writer.in_flight import in_flight as writer_in_flight
from services.ingest.in_flight import in_flight as ingest_in_flight
from services.replayer.in_flight import in_flight as replayer_in_flight
from simulators.shopify.payloads import order_payload
from tests.support.settle import MANAGEMENT_URL
from tests.support.stack import Stack, running_stack

OPERATOR = "operator-token-for-quiet"


async def management_answers(amqp_url: str) -> bool:
    api = ManagementApi.configured(MANAGEMENT_URL, amqp_url)
    assert api is not None
    try:
        async with aiohttp.ClientSession() as http:
            await api.queues(http, "no-such-namespace.")
        return True
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


@pytest.fixture
async def own_database(database_url: str) -> AsyncIterator[str]:
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(path=f"/fortbridge_quiet_{uuid.uuid4().hex[:8]}"))
    await database.ensure_database(url)
    yield url
    await database.drop_database(url)


@pytest.fixture
async def management(amqp_url: str) -> str:
    if not await management_answers(amqp_url):
        message = f"RabbitMQ's management API does not answer at {MANAGEMENT_URL}: scripts/setup.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return MANAGEMENT_URL


@pytest.fixture
async def stack(
    amqp_url: str, own_database: str, management: str, broker_cleanup: Topology
) -> AsyncIterator[Stack]:
    async with running_stack(
        amqp_url=amqp_url,
        namespace=broker_cleanup.namespace,
        database_url=own_database,
        amqp_management_url=management,
        admin_api_token=OPERATOR,
        # Slots 0.2 s apart: five orders' Fortnox calls take over a second, set aside meanwhile.
        fortnox_rate_limit=5,
        fortnox_rate_window_seconds=1.0,
        fortnox_defer_after_seconds=0.1,
    ) as stack:
        yield stack


async def quiet(stack: Stack, token: str = OPERATOR) -> tuple[int, dict[str, Any]]:
    async with stack.http.get(
        stack.url("replayer", "/admin/api/quiet.json"),
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        return response.status, dict(await response.json())


@pytest.mark.slow
async def test_false_while_orders_flow_true_after(stack: Stack) -> None:
    status, before = await quiet(stack)
    assert status == 200 and before["quiet"] is True, before
    orders = [order_payload() for _ in range(10)]
    for order in orders:
        assert await stack.send_order(order) == [200]

    def invoiced() -> int:
        return sum(len(stack.invoices_for(order["id"])) for order in orders)

    # Ingest answers once an event is stored, before the mapper and writer have made anything
    # of it, and the broker's queue figures lag up to 5 s: asked at once, quiet may not see the
    # events yet. Asked again while the orders are still on their way (the writer sets their
    # commands aside at 5 Fortnox calls a second), it must say busy.
    flowing: dict[str, Any] = {}
    while invoiced() < len(orders):
        _, flowing = await quiet(stack)
        if flowing["quiet"] is False:
            break
        await asyncio.sleep(0.05)
    assert invoiced() < len(orders), "every order was done before quiet said busy"
    assert flowing["quiet"] is False, flowing
    assert flowing["busy"], flowing
    assert flowing["unmeasured"] == []

    async def all_invoiced() -> bool:
        return all(len(stack.invoices_for(order["id"])) == 1 for order in orders)

    await stack.wait_for(all_invoiced, timeout=30)

    async def is_quiet() -> bool:
        return (await quiet(stack))[1]["quiet"] is True

    await stack.wait_for(is_quiet, timeout=30)  # the management API's figures lag up to 5 s
    _, after = await quiet(stack)
    assert after["busy"] == [] and after["waiting_for_people"] == []
    writer = after["services"]["fortnox_writer"]
    assert writer["deferred_commands"] == {"rate_limit": 0, "retry": 0, "parked": 0, "billing": 0}
    queue = f"{stack.settings.amqp_namespace}.mapper.events"
    assert after["services"]["mapper"]["queues"][queue] == {
        "ready": 0,
        "unacked": 0,
        "consumers": 1,
    }


@pytest.fixture
async def quiet_pool(own_database: str) -> AsyncIterator[asyncpg.Pool]:
    """The deployment's tables with no service running (nothing moves the rows under test)."""
    await migrate_all(own_database)
    pool = await database.create_pool(own_database, max_size=2)
    yield pool
    await pool.close()


async def parts(pool: asyncpg.Pool) -> dict[str, Any]:
    found = {
        "ingest": await ingest_in_flight(pool),
        "fortnox_writer": await writer_in_flight(pool),
        "replayer": await replayer_in_flight(pool),
    }
    names = ("ingest", "mapper", "fortnox_writer", "timeline", "replayer")
    queues: dict[str, list[str]] = {name: [] for name in names}
    return compose(found, queues, BrokerReport(queues={}))


async def test_each_services_part_is_counted(quiet_pool: asyncpg.Pool) -> None:
    pool = quiet_pool
    assert (await parts(pool))["quiet"] is True
    await pool.execute(
        "INSERT INTO ingest.webhook_events (event_uid, shop, topic, webhook_id, received_at, body)"
        " VALUES ($1, 's.myshopify.com', 'orders/create', 'w-1', now(), '{}')",
        uuid.uuid4(),
    )
    await pool.execute(
        "INSERT INTO ingest.sync_jobs (id, shop, kind, status)"
        " VALUES ($1, 's.myshopify.com', 'products', 'running')",
        uuid.uuid4(),
    )
    for reason in ("rate_limit", "retry", "parked", "parked"):
        await pool.execute(
            "INSERT INTO fortnox_writer.deferred_commands (command_id, shop, document_key,"
            " routing_key, body, reason) VALUES ($1, 's.myshopify.com', 'k',"
            " 'fortnox.command.create_document', '', $2)",
            uuid.uuid4().hex,
            reason,
        )
    for status in ("open", "open", "queued", "discarded", "retrying"):
        await pool.execute(
            "INSERT INTO replayer.failed_jobs (id, message_id, queue, routing_key, headers, body,"
            " error_class, first_failed_at, last_failed_at, status)"
            " VALUES ($1, $2, 'q', 'fortnox.command.create_document', '{}', '', 'permanent',"
            " now(), now(), $3)",
            uuid.uuid4(),
            uuid.uuid4().hex,
            status,
        )
    report = await parts(pool)
    assert report["quiet"] is False
    services = report["services"]
    assert services["ingest"]["outbox_unpublished"] == 1
    assert services["ingest"]["sync_jobs_running"] == 1
    assert services["fortnox_writer"]["deferred_commands"] == {
        "rate_limit": 1,
        "retry": 1,
        "parked": 2,
        "billing": 0,
    }
    assert services["replayer"]["failed_jobs"] == {"open": 2, "queued": 1}
    assert services["mapper"]["quiet"] is True and services["ingest"]["quiet"] is False
    assert sorted(report["busy"]) == [
        "fortnox_writer: 1 commands set aside (rate_limit)",
        "fortnox_writer: 1 commands set aside (retry)",
        "ingest: 1 catalog syncs running",
        "ingest: 1 stored webhooks not yet published",
        "replayer: 1 failed jobs queued for a paced replay",
    ]
    assert sorted(report["waiting_for_people"]) == [
        "fortnox_writer: 2 commands parked until their shop reconnects Fortnox",
        "replayer: 2 failed jobs open (replay or discard them)",
    ]

    # What waits for a person never becomes quiet by itself, so it does not count as busy.
    await pool.execute("UPDATE ingest.webhook_events SET published_at = now()")
    await pool.execute("UPDATE ingest.sync_jobs SET status = 'finished'")
    await pool.execute("DELETE FROM fortnox_writer.deferred_commands WHERE reason <> 'parked'")
    await pool.execute("UPDATE replayer.failed_jobs SET status = 'open' WHERE status = 'queued'")
    report = await parts(pool)
    assert report["quiet"] is True, report["busy"]
    assert len(report["waiting_for_people"]) == 2


def test_a_queue_holding_messages_is_busy() -> None:
    queues = {"mapper": ["ns.mapper.events", "ns.mapper.events.wait.1s"], "timeline": ["t"]}

    def report(ready: int, unacked: int | None) -> dict[str, Any]:
        stats = {
            "ns.mapper.events": QueueStats("ns.mapper.events", True, 0, 0, 1),
            "ns.mapper.events.wait.1s": QueueStats("w", True, ready, unacked, 0),
        }
        return compose({}, queues, BrokerReport(queues=stats))

    assert report(0, 0)["quiet"] is True
    assert report(0, None)["quiet"] is True  # unmeasured is not busy: `unmeasured` says so
    held = report(0, 3)
    assert held["busy"] == ["mapper: 3 messages being handled from ns.mapper.events.wait.1s"]
    waiting = report(2, 0)
    assert waiting["busy"] == ["mapper: 2 messages ready in ns.mapper.events.wait.1s"]
    assert waiting["services"]["mapper"]["quiet"] is False
    assert waiting["services"]["timeline"] == {"quiet": True, "queues": {"t": {"exists": False}}}


@pytest.mark.slow
async def test_only_the_deployments_operator_may_ask(stack: Stack) -> None:
    shop_token = (await ApiTokenStore(stack.pool).create(stack.shop, "manage_apps")).token
    status, body = await quiet(stack, shop_token)
    assert status == 403 and "operator" in body["error"]
    status, _ = await quiet(stack, "wrong")
    assert status == 401


async def test_unacked_messages_come_from_the_management_api_or_are_unmeasured(
    amqp_url: str, management: str, namespace: str, broker_cleanup: Topology
) -> None:
    topology = Topology(namespace=namespace, retry_delays=(0.2, 0.5))
    queue = topology.queue_name(MAPPER_EVENTS)
    connection = await aio_pika.connect(amqp_url)
    async with connection, aiohttp.ClientSession() as http:
        await topology.declare_on(connection)
        channel = await connection.channel()
        for _ in range(3):
            await channel.default_exchange.publish(aio_pika.Message(b"{}"), routing_key=queue)
        holder = await connection.channel()
        await holder.set_qos(prefetch_count=2)
        held: list[aio_pika.abc.AbstractIncomingMessage] = []
        await (await holder.get_queue(queue, ensure=False)).consume(held.append)
        api = ManagementApi.configured(management, amqp_url)

        async def two_unacked() -> bool:
            report = await inspect_queues(
                connection, http, [queue], management=api, prefix=f"{namespace}."
            )
            return report.queues[queue].unacked == 2

        deadline = asyncio.get_running_loop().time() + 15
        while not await two_unacked():  # the management API refreshes every 5 s
            assert asyncio.get_running_loop().time() < deadline, "unacked never reported"
            await asyncio.sleep(0.5)
        report = await inspect_queues(
            connection, http, [queue], management=api, prefix=f"{namespace}."
        )
        assert report.queues[queue].ready == 1 and report.unmeasured == []

        without = await inspect_queues(connection, http, [queue], management=None, prefix="x")
        assert without.queues[queue].ready == 1 and without.queues[queue].unacked is None
        assert "AMQP_MANAGEMENT_URL is not set" in without.unmeasured[0]
        down = ManagementApi.configured("http://127.0.0.1:9", amqp_url)
        unreachable = await inspect_queues(connection, http, [queue], management=down, prefix="x")
        assert unreachable.queues[queue].unacked is None
        assert "did not answer" in unreachable.unmeasured[0]
        assert len(held) == 2
