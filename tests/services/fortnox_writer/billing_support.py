"""Helpers for the usage-billing tests: a stack with 15 trial credits, its ledger, the merchant."""

from __future__ import annotations

from typing import Any

import asyncpg

from fortbridge.localstack import LocalStack

TRIAL = 15
BILLING_SETTINGS: dict[str, Any] = {
    "billing_trial_credits": TRIAL,
    "billing_test_charges": True,
    "billing_capped_amount": "1.50",  # ten usage charges of 0.15
    "billing_relay_interval_seconds": 0.1,
    "billing_retry_max_seconds": 0.5,
}


async def charges(pool: asyncpg.Pool, shop: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT * FROM fortnox_writer.billing_charges WHERE shop = $1 ORDER BY id", shop
    )
    return rows


async def waiting_on_billing(pool: asyncpg.Pool, shop: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM fortnox_writer.deferred_commands"
            " WHERE shop = $1 AND reason = 'billing'",
            shop,
        )
    )


async def usage(stack: LocalStack, **params: str) -> tuple[int, dict[str, Any]]:
    async with stack.http.get(
        stack.url("fortnox_writer", "/admin/api/billing/usage.json"),
        params={"shop": stack.shop, **params},
        headers=stack.admin_headers(),
    ) as response:
        return response.status, await response.json()


async def merchant(stack: LocalStack, action: str) -> dict[str, Any]:
    """The merchant acts on the shop's latest subscription in Shopify (the simulator)."""
    subs = stack.shopify.shop(stack.shop).app_subscriptions
    sub_id = max(subs)
    async with stack.http.post(
        f"{stack.shopify.base_url}/_sim/shops/{stack.shop}/app_subscriptions/{sub_id}/{action}"
    ) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
    await stack.shopify.drain_webhooks()
    return body


def usage_records(stack: LocalStack) -> list[dict[str, Any]]:
    return list(stack.shopify.shop(stack.shop).usage_records.values())
