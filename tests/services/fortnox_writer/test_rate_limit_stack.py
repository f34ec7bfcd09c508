"""The whole stack at a saturated tenant: the writer's limiter, built from its settings, keeps
every request within Fortnox's sliding window even with network jitter on the way.

The simulator's limit is lowered (5 per 1 s) so a few dozen orders saturate the tenant in
seconds; the writer is configured with the same limit. Without the limiter, or with a window
shorter than configured where the limiter is built, the simulator answers 429s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fortbridge.localstack import LocalStack, command_publisher, order_command
from libs.common.messaging import Topology
from simulators.fortnox import FortnoxSimulator
from simulators.shopify.payloads import order_payload
from tests.services.fortnox_writer.writer_support import forget_deferred, invoices_of
from tests.support.stack import running_stack

pytestmark = pytest.mark.slow

LIMIT, WINDOW = 5, 1.0


@pytest.fixture
async def stack(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> AsyncIterator[LocalStack]:
    sim = FortnoxSimulator(rate_limit=LIMIT, rate_window=WINDOW, jitter=0.05, seed=7)
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=("fortnox_writer",),
        fortnox=sim,
        fortnox_rate_limit=LIMIT,
        fortnox_rate_window_seconds=WINDOW,
        fortnox_rate_margin_seconds=0.12,
    ) as stack:
        try:
            yield stack
        finally:
            await forget_deferred(stack.pool)


async def test_a_saturated_tenant_gets_no_429_under_jitter(stack: LocalStack) -> None:
    tenant = stack.tenant_id
    async with command_publisher(stack.settings) as publish:
        warm = order_payload()
        await publish(order_command(stack.shop, warm))
        await stack.wait_for(lambda: bool(invoices_of(stack, tenant, warm["id"])), 30)
        start = len(stack.fortnox.requests_for(tenant))
        orders = [order_payload() for _ in range(40)]
        for order in orders:
            await publish(order_command(stack.shop, order))
        await stack.wait_for(
            lambda: all(invoices_of(stack, tenant, o["id"]) for o in orders), timeout=60
        )
    assert all(len(invoices_of(stack, tenant, o["id"])) == 1 for o in orders)
    assert stack.fortnox.count_429 == 0
    api = [r for r in stack.fortnox.requests_for(tenant)[start:] if r.path.startswith("/3/")]
    times = sorted(r.time for r in api)
    # Saturated: some window held the whole budget (so without a limiter this load would 429)...
    busiest = max(sum(1 for t in times if s <= t < s + WINDOW) for s in times)
    assert busiest == LIMIT
    # ...and any LIMIT + 1 consecutive arrivals were at least a window apart.
    assert min(times[i + LIMIT] - times[i] for i in range(len(times) - LIMIT)) >= WINDOW
