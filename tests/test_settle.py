"""tests.support.settle: the condition tests wait on before asserting that nothing more happened.

The positive control for every ``settled(stack)`` in the suite: waiting on it is enough for the
whole pipeline to have run (an order sent and not waited for is invoiced and its status written
back to Shopify once the stack has settled), and it fails, saying what moves, while work is stuck.
"""

from __future__ import annotations

import pytest

from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.support.settle import settled


async def test_settled_returns_only_after_the_whole_pipeline_ran(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory()
    orders = [order_payload() for _ in range(3)]
    for order in orders:
        assert await stack.send_order(order) == [200]
    await settled(stack)
    assert [len(stack.invoices_for(order["id"])) for order in orders] == [1, 1, 1]
    metafields = stack.shopify.shop(stack.shop).metafields
    for order in orders:
        assert (f"gid://shopify/Order/{order['id']}", "fortbridge", "sync_status") in metafields


async def test_settled_fails_naming_what_still_moves(stack_factory: StackFactory) -> None:
    stack = await stack_factory()
    # Fortnox answers 503 for a while: the order waits in the writer's retry queues.
    stack.fortnox.faults.add(
        method="POST", path_regex=r"^/3/invoices$", kind="status", status=503, times=None
    )
    assert await stack.send_order(order_payload()) == [200]
    with pytest.raises(AssertionError, match="did not settle"):
        await settled(stack, timeout=0.5)
