"""Shopify's redact webhooks reach every service that holds personal data (whole stack)."""

from __future__ import annotations

import contextlib
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
    tables = await shop_tables(stack)
    # The list is found, not written: a table added later with a shop column is checked too.
    assert {"fortnox_writer.connections", "mapper.order_state", "access.api_tokens"} <= set(tables)

    holding: list[str] = []

    async def shop_gone() -> bool:
        holding.clear()
        for table in tables:
            sql = f"SELECT count(*) FROM {table} WHERE shop = $1"
            if table in KEPT_AFTER_SHOP_REDACT:
                sql += f" AND NOT ({KEPT_AFTER_SHOP_REDACT[table][0]})"
            if await count(stack, sql, stack.shop):
                holding.append(table)
        return not holding

    with contextlib.suppress(TimeoutError):
        await stack.wait_for(shop_gone)
    assert holding == [], "shop/redact left rows of the shop in these tables"


# Rows with a shop column that shop/redact keeps, with the condition they meet and the reason.
KEPT_AFTER_SHOP_REDACT: dict[str, tuple[str, str]] = {
    "ingest.webhook_events": (
        "topic = 'shop/redact'",
        "the shop/redact request itself: the outbox must still publish it to every service",
    ),
    "mapper.processed_events": (
        "topic = 'shop/redact'",
        "the mapper's inbox row of the shop/redact itself (an event id, no personal data), so a "
        "redelivered shop/redact is not handled twice",
    ),
    "fortnox_writer.billing_charges": (
        "true",
        "the shop's billing record (order ids, document keys, prices, Shopify usage record ids;"
        " no personal data): what was billed through Shopify, and a shop that installs again"
        " does not get its trial credits again (docs/billing.md)",
    ),
    "fortnox_writer.billing_accounts": (
        "true",
        "the shop's Shopify subscription (ids, status, cap; no personal data), with its charges",
    ),
}


async def shop_tables(stack: Stack) -> list[str]:
    """Every table of the services' schemas that has a ``shop`` column."""
    rows = await stack.pool.fetch(
        """
        SELECT DISTINCT c.table_schema || '.' || c.table_name AS name
        FROM information_schema.columns c
        JOIN information_schema.tables t
          ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.column_name = 'shop' AND t.table_type = 'BASE TABLE'
          AND c.table_schema NOT IN ('pg_catalog', 'information_schema', 'public')
        ORDER BY name
        """
    )
    return [row["name"] for row in rows]
