"""Usage billing end to end (docs/billing.md): 15 free syncs, then usage charges through
Shopify's Billing API; work that cannot be charged waits, and resumes by itself."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.services.fortnox_writer.billing_support import (
    BILLING_SETTINGS,
    TRIAL,
    charges,
    merchant,
    usage,
    usage_records,
    waiting_on_billing,
)
from tests.services.fortnox_writer.writer_support import forget_deferred
from tests.support.stack import Stack


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Any:
    stack = await stack_factory(**BILLING_SETTINGS)
    yield stack
    await forget_deferred(stack.pool)


async def send_orders(stack: Stack, count: int) -> list[dict[str, Any]]:
    orders = [order_payload() for _ in range(count)]
    for order in orders:
        assert await stack.send_order(order) == [200]
    return orders


async def latest_message(stack: Stack, order_id: int) -> str:
    """The order's last timeline line (what the merchant reads)."""
    events = (await stack.timeline(order_id))["timeline_events"]
    return str(events[-1]["message"])


async def test_the_15th_sync_is_free_the_16th_waits_and_approving_releases_it(
    stack: Stack,
) -> None:
    orders = await send_orders(stack, TRIAL)
    await stack.wait_for(lambda: len(stack.invoices()) == TRIAL, timeout=60)
    rows = await charges(stack.pool, stack.shop)
    assert [r["kind"] for r in rows] == ["trial"] * TRIAL
    assert all(r["state"] == "charged" for r in rows)
    status, body = await usage(stack)
    assert status == 200
    assert body["usage"]["trial"] == {"credits": TRIAL, "used": TRIAL, "left": 0}

    # The 16th: no credit left and no subscription yet: it waits (not failed, not dropped),
    # and a subscription waits for the merchant's approval at its confirmation URL.
    [late] = await send_orders(stack, 1)

    async def waits() -> bool:
        return await waiting_on_billing(stack.pool, stack.shop) == 1

    await stack.wait_for(waits, timeout=30)
    assert len(stack.invoices()) == TRIAL and not stack.invoices_for(late["id"])
    [sub] = stack.shopify.shop(stack.shop).app_subscriptions.values()
    assert sub["status"] == "PENDING" and sub["test"] is True
    assert sub["line_items"][0]["terms"] == "$0.15 per sync"

    async def told() -> bool:
        timeline = await stack.timeline(late["id"])
        return timeline.get("status", {}).get("status") == "waiting_on_billing"

    await stack.wait_for(told, timeout=20)
    message = await latest_message(stack, late["id"])
    assert "15 free syncs are used" in message and "/confirm?" in message, message
    status, body = await usage(stack)
    waiting = body["usage"]["waiting"]
    assert waiting["count"] == 1 and waiting["state"] == "subscription_pending"
    assert waiting["commands"][0]["order_id"] == str(late["id"])
    assert body["usage"]["subscription"]["confirmation_url"].startswith(stack.shopify.base_url)
    assert not usage_records(stack)

    # The merchant approves: Shopify's app_subscriptions/update releases the waiting work.
    await merchant(stack, "approve")
    await stack.wait_for(lambda: len(stack.invoices_for(late["id"])) == 1, timeout=30)
    await stack.wait_for(lambda: len(usage_records(stack)) == 1, timeout=20)
    [record] = usage_records(stack)
    assert record["idempotency_key"] == f"fortbridge:{stack.shop}:order:{late['id']}:invoice"
    assert str(record["price"]) == "0.15" and record["test"] is True
    rows = await charges(stack.pool, stack.shop)
    assert [r["kind"] for r in rows].count("usage") == 1
    assert rows[-1]["usage_status"] == "recorded"
    assert len(orders) + 1 == len(stack.invoices())
    status, body = await usage(stack)
    assert body["usage"]["syncs_billed_this_cycle"] == 1
    assert body["usage"]["subscription"]["status"] == "ACTIVE"
    assert body["usage"]["subscription"]["amount_used"] == "0.15"
    assert body["usage"]["waiting"]["count"] == 0
