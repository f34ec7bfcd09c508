"""Shopify's redact webhooks reach every service that holds personal data (whole stack)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from libs.common.access import ApiTokenStore
from libs.common.privacy import REDACTED
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

EMAIL = "anna@example.com"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory()


async def count(stack: Stack, sql: str, *args: Any) -> int:
    return int(await stack.pool.fetchval(sql, *args))


async def test_customer_redact_then_shop_redact(stack: Stack) -> None:
    synced = order_payload(email=EMAIL)
    failing = order_payload(email=EMAIL, lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
    await stack.send_order(synced)
    await stack.send_order(failing)
    await stack.wait_for(lambda: len(stack.invoices_for(synced["id"])) == 1)

    async def job_recorded() -> bool:
        return bool(await stack.failed_jobs())

    await stack.wait_for(job_recorded)

    async def on_timeline() -> bool:  # notes go only on orders the timeline has (issue 12)
        known = "SELECT count(*) FROM timeline.order_status WHERE shop = $1 AND order_id = $2"
        return await count(stack, known, stack.shop, str(synced["id"])) == 1

    await stack.wait_for(on_timeline)
    async with stack.http.post(
        stack.url("timeline", f"/admin/api/orders/{synced['id']}/timeline_events.json"),
        params={"shop": stack.shop},
        json={"timeline_event": {"message": "Anna called about the delivery"}},
    ) as response:
        assert response.status == 201
    cache = "SELECT count(*) FROM fortnox_writer.customer_register WHERE shop = $1 AND email = $2"
    assert await count(stack, cache, stack.shop, EMAIL.lower()) == 1
    await ApiTokenStore(stack.pool).create(stack.shop, "read_orders")

    await stack.send_webhook(
        "customers/redact",
        {
            "shop_domain": stack.shop,
            "customer": {"id": 1, "email": EMAIL},
            "orders_to_redact": [synced["id"], failing["id"]],
        },
    )

    async def customer_redacted() -> bool:
        notes = await stack.pool.fetch(
            "SELECT message FROM timeline.events WHERE shop = $1 AND kind = 'note'", stack.shop
        )
        jobs = await stack.failed_jobs()
        return (
            [n["message"] for n in notes] == [REDACTED]
            and await count(stack, cache, stack.shop, EMAIL.lower()) == 0
            and all(job["status"] == "discarded" for job in jobs)
        )

    await stack.wait_for(customer_redacted)
    bodies = await stack.pool.fetch(
        "SELECT body FROM replayer.failed_jobs WHERE shop = $1", stack.shop
    )
    assert bodies and all(EMAIL.encode() not in bytes(row["body"]) for row in bodies)
    payloads = "SELECT count(*) FROM mapper.order_payloads WHERE shop = $1"
    assert await count(stack, payloads, stack.shop) == 0
    # The books stay: the invoice in Fortnox is untouched.
    [invoice] = stack.invoices_for(synced["id"])
    assert invoice.total == Decimal(synced["total_price"])

    await stack.send_webhook("shop/redact", {"shop_domain": stack.shop})
    tables = (
        "fortnox_writer.connections",
        "fortnox_writer.documents",
        "fortnox_writer.customer_register",
        "fortnox_writer.preflight_results",  # marked due when the stack connected
        "timeline.events",
        "timeline.order_status",
        "replayer.failed_jobs",
        "mapper.order_state",
        "access.api_tokens",
        "ingest.order_documents",
    )

    async def shop_gone() -> bool:
        for table in tables:
            if await count(stack, f"SELECT count(*) FROM {table} WHERE shop = $1", stack.shop):
                return False
        return True

    await stack.wait_for(shop_gone)
