"""Parking: a shop Fortnox refuses keeps its commands until it reconnects; nothing is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from fortbridge.localstack import LocalStack, command_publisher, connect_fortnox, order_command
from libs.common.crypto import TokenCipher
from libs.common.messaging import Topology
from services.fortnox_writer.connections import ConnectionStore
from simulators.shopify.payloads import order_payload
from tests.services.fortnox_writer.writer_support import (
    dead_letters,
    deferred_counts,
    forget_deferred,
    settled,
)
from tests.support.stack import running_stack

pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> AsyncIterator[LocalStack]:
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=("fortnox_writer",),
        admin_api_token="operator-token",
    ) as stack:
        try:
            yield stack
        finally:
            await forget_deferred(stack.pool)


async def _status(
    stack: LocalStack, token: str | None = "operator-token"
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.get(
        stack.url("fortnox_writer", "/admin/api/integrations/fortnox/connection.json"),
        params={"shop": stack.shop},
        headers=headers,
    ) as response:
        return response.status, await response.json()


async def test_a_missing_licence_parks_the_shop_and_reconnecting_resumes_it(
    stack: LocalStack,
) -> None:
    assert (await _status(stack, token=None))[0] == 401  # the admin endpoint needs the token
    stack.fortnox.set_licence(stack.tenant_id, "invoice", False)
    orders = [order_payload() for _ in range(5)]
    async with command_publisher(stack.settings) as publish:
        await asyncio.gather(*(publish(order_command(stack.shop, o)) for o in orders))
        deadline = time.monotonic() + 20
        while (await deferred_counts(stack.pool, stack.shop)).get("parked", 0) < 5:
            assert time.monotonic() < deadline, "commands were not parked"
            await asyncio.sleep(0.05)
        status, body = await _status(stack)
        assert status == 200
        connection = body["connection"]
        assert connection["status"] == "needs_reconnection"
        assert "no licence" in connection["reason"] and "2001101" in connection["reason"]
        assert connection["parked_commands"] == 5
        assert "reconnect" in connection["what_to_do"].lower()
        assert not stack.invoices()

        # A command arriving while the shop is parked is parked at once, without a call.
        calls = len(stack.fortnox.requests_for(stack.tenant_id))
        late = order_payload()
        orders.append(late)
        await publish(order_command(stack.shop, late))
        while (await deferred_counts(stack.pool, stack.shop)).get("parked", 0) < 6:
            await asyncio.sleep(0.05)
        assert len(stack.fortnox.requests_for(stack.tenant_id)) == calls

        # The merchant activates the licence and reconnects (the CLI's code path).
        stack.fortnox.set_licence(stack.tenant_id, "invoice", True)
        cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
        store = ConnectionStore(stack.pool, cipher, stack.http, stack.settings)
        await connect_fortnox(
            stack.settings.fortnox_api_url,
            stack.tenant_id,
            store,
            stack.http,
            stack.settings,
            stack.shop,
        )
        await stack.wait_for(lambda: all(stack.invoices_for(o["id"]) for o in orders), 30)
        await stack.wait_for(lambda: settled(stack.pool, stack.shop), 30)
    assert sorted(len(stack.invoices_for(o["id"])) for o in orders) == [1] * 6
    assert await deferred_counts(stack.pool, stack.shop) == {}
    assert (await _status(stack))[1]["connection"]["status"] == "connected"
    topology = Topology(stack.settings.amqp_namespace)
    assert not await dead_letters(stack.settings.amqp_url, topology)  # parked, never failed
