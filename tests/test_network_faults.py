"""The network between the services and their servers breaks: nothing is lost or doubled.

The services reach RabbitMQ or PostgreSQL through a TCP proxy (tests/support/tcp_proxy.py) that
resets every connection at once, or holds all traffic as a partition does. Unlike a broker-side
close (tests/test_resilience.py), nobody says goodbye: publishes await confirms that never
come, deliveries are unacked, queries are cut mid-transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from libs.common.messaging import Topology
from libs.common.service import STATE
from simulators.shopify.payloads import order_payload
from tests.support.settle import settled
from tests.support.stack import Stack, running_stack
from tests.support.tcp_proxy import TcpProxy, tcp_proxy

pytestmark = pytest.mark.slow


class Trickle:
    """Orders sent one after another (each webhook awaited) until stopped: traffic never pauses."""

    def __init__(self, stack: Stack, every: float = 0.1) -> None:
        self.stack = stack
        self.every = every
        self.sent: list[tuple[dict[str, Any], list[int]]] = []
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            order = order_payload()
            self.sent.append((order, await self.stack.send_order(order)))
            await asyncio.sleep(self.every)

    async def stop(self) -> list[tuple[dict[str, Any], list[int]]]:
        self._stop.set()
        await self._task
        return self.sent


@contextlib.asynccontextmanager
async def proxied_stack(
    amqp_url: str, database_url: str, namespace: str, *, through: str, **settings: Any
) -> AsyncIterator[tuple[TcpProxy, Stack]]:
    """The stack with its ``through`` server ("broker" or "database") behind a TCP proxy."""
    target = amqp_url if through == "broker" else database_url
    async with tcp_proxy(target) as proxy:
        urls = {
            "amqp_url": proxy.url(amqp_url) if through == "broker" else amqp_url,
            "database_url": proxy.url(database_url) if through == "database" else database_url,
        }
        async with running_stack(**urls, namespace=namespace, **settings) as stack:
            yield proxy, stack


def disconnected(stack: Stack) -> int:
    """The in-process services whose broker connection is down now."""
    return sum(
        not runtime.connection.connected.is_set()
        for app in stack.apps.values()
        if (runtime := app[STATE].runtime) is not None
    )


async def assert_one_invoice_each(stack: Stack, orders: list[dict[str, Any]]) -> None:
    await stack.wait_for(
        lambda: all(len(stack.invoices_for(o["id"])) >= 1 for o in orders), timeout=120
    )
    await settled(stack, timeout=60)  # everything is handled: a late duplicate would be there
    assert sorted(len(stack.invoices_for(o["id"])) for o in orders) == [1] * len(orders)
    assert len(stack.invoices()) == len(orders)
    failed = await stack.failed_jobs()
    assert failed == [], [(j.get("service"), j.get("class"), j.get("error")) for j in failed]


async def cut_while_flowing(proxy: TcpProxy, stack: Stack, rounds: int, connections: int) -> None:
    """Each round: once the services are all connected again and orders moved on, reset all."""
    for _ in range(rounds):
        before = len(stack.invoices())
        await stack.wait_for(
            lambda b=before: proxy.live >= connections and len(stack.invoices()) > b, timeout=60
        )
        assert proxy.cut() >= connections


async def test_broker_connections_reset_mid_flow_lose_and_double_nothing(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> None:
    async with proxied_stack(
        amqp_url, database_url, broker_cleanup.namespace, through="broker"
    ) as (proxy, stack):
        assert proxy.live == 5  # one connection per service
        trickle = Trickle(stack)
        await cut_while_flowing(proxy, stack, rounds=3, connections=5)
        sent = await trickle.stop()
        # Ingest answers 200 once the event is stored, published or not: the relay publishes it.
        assert [status for _, status in sent] == [[200]] * len(sent)
        await assert_one_invoice_each(stack, [order for order, _ in sent])
        assert proxy.cuts >= 15 and proxy.accepted >= 20  # the services came back each time


async def test_database_connections_reset_mid_flow_lose_and_double_nothing(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> None:
    async with proxied_stack(
        amqp_url, database_url, broker_cleanup.namespace, through="database"
    ) as (proxy, stack):
        trickle = Trickle(stack)
        await cut_while_flowing(proxy, stack, rounds=3, connections=5)
        sent = await trickle.stop()
        # A webhook whose INSERT was cut is answered 5xx, and Shopify delivers it again.
        retry = [order for order, status in sent if status != [200]]
        assert all(status[0] >= 500 for _, status in sent if status != [200]), sent
        assert [await stack.send_order(order) for order in retry] == [[200]] * len(retry)
        await assert_one_invoice_each(stack, [order for order, _ in sent])


async def test_a_silent_partition_is_noticed_by_heartbeats_and_nothing_is_lost(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> None:
    async with proxied_stack(
        amqp_url, database_url, broker_cleanup.namespace, through="broker", amqp_heartbeat_seconds=1
    ) as (proxy, stack):
        assert proxy.live == 5
        before = [order_payload() for _ in range(3)]
        await asyncio.gather(*(stack.send_order(order) for order in before))
        await stack.wait_for(lambda: len(stack.invoices()) == 3, timeout=30)
        assert disconnected(stack) == 0 and len(stack.apps) == 5
        proxy.hold()
        # The partition outlasts the heartbeat grace (about 3 heartbeats): orders keep arriving
        # and are stored (PostgreSQL is fine), but nothing reaches the broker.
        during = [order_payload() for _ in range(6)]
        started = time.monotonic()
        statuses = await asyncio.gather(*(stack.send_order(order) for order in during))
        assert all(status == [200] for status in statuses), statuses
        # Shopify gives a webhook 5 s: ingest stops waiting for the confirm well before.
        assert time.monotonic() - started < 4
        # Not a fixed wait: every service's heartbeat has noticed the partition (its connection
        # dropped, its reconnect held too), so nothing can have reached the broker meanwhile.
        await stack.wait_for(lambda: disconnected(stack) == len(stack.apps), timeout=30)
        assert len(stack.invoices()) == 3
        proxy.release()
        await assert_one_invoice_each(stack, before + during)
        # Every service gave its stuck connection up and opened a new one.
        assert proxy.accepted >= 10
