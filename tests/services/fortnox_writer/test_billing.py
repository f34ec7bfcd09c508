"""Usage billing end to end (docs/billing.md): 15 free syncs, then usage charges through
Shopify's Billing API; work that cannot be charged waits, and resumes by itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fortbridge.localstack import command_publisher, order_command
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

    async def all_charged() -> bool:
        rows = await charges(stack.pool, stack.shop)
        return len(rows) == TRIAL and all(r["state"] == "charged" for r in rows)

    await stack.wait_for(all_charged, timeout=20)
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
    # The Billing page links the confirmation URL itself: its reason does not print it.
    assert "/confirm?" not in waiting["reason"] and "in Shopify" in waiting["reason"]
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

    async def recorded() -> bool:
        return (await charges(stack.pool, stack.shop))[-1]["usage_status"] == "recorded"

    await stack.wait_for(recorded, timeout=20)
    rows = await charges(stack.pool, stack.shop)
    assert [r["kind"] for r in rows].count("usage") == 1
    assert len(orders) + 1 == len(stack.invoices())
    status, body = await usage(stack)
    assert body["usage"]["syncs_billed_this_cycle"] == 1
    assert body["usage"]["subscription"]["status"] == "ACTIVE"
    assert body["usage"]["subscription"]["amount_used"] == "0.15"
    assert body["usage"]["waiting"]["count"] == 0


async def start_and_approve(stack: Stack) -> None:
    """The merchant starts the usage charges from the app and approves them in Shopify."""
    async with stack.http.post(
        stack.url("fortnox_writer", "/admin/api/billing/subscription.json"),
        params={"shop": stack.shop},
        headers=stack.admin_headers(),
    ) as response:
        assert response.status == 201, await response.text()
        body = await response.json()
    url = body["subscription"]["confirmation_url"]
    async with stack.http.post(url, data={"decision": "approve"}, allow_redirects=False) as page:
        assert page.status == 302
    await stack.shopify.drain_webhooks()

    async def active() -> bool:
        return (await usage(stack))[1]["usage"]["subscription"]["status"] == "ACTIVE"

    await stack.wait_for(active, timeout=20)


async def test_a_declined_subscription_keeps_work_waiting_and_says_why(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(**{**BILLING_SETTINGS, "billing_trial_credits": 1})
    try:
        orders = await send_orders(stack, 2)
        # The two creates race for the one trial credit: either order may win it.
        await stack.wait_for(lambda: len(stack.invoices()) == 1, timeout=30)

        async def waits() -> bool:
            return await waiting_on_billing(stack.pool, stack.shop) == 1

        await stack.wait_for(waits, timeout=30)
        [second] = [o for o in orders if not stack.invoices_for(o["id"])]
        await merchant(stack, "decline")

        async def says_declined() -> bool:
            return "declined" in await latest_message(stack, second["id"])

        await stack.wait_for(says_declined, timeout=20)
        message = await latest_message(stack, second["id"])
        assert "Start the usage charges again from the app's Billing page" in message
        assert (await stack.timeline(second["id"]))["status"]["status"] == "waiting_on_billing"
        assert await waiting_on_billing(stack.pool, stack.shop) == 1
        assert not stack.invoices_for(second["id"])
        body = (await usage(stack))[1]["usage"]
        assert body["subscription"]["status"] == "DECLINED"
        assert body["waiting"]["state"] == "declined"
        assert not await stack.failed_jobs()  # waiting, never failed

        # Starting again gives a new confirmation URL; approving it releases the work.
        await start_and_approve(stack)
        await stack.wait_for(lambda: len(stack.invoices_for(second["id"])) == 1, timeout=30)
        await stack.wait_for(lambda: len(usage_records(stack)) == 1, timeout=20)
    finally:
        await forget_deferred(stack.pool)


async def test_reaching_the_cap_keeps_work_waiting_and_raising_it_releases_it(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        **{**BILLING_SETTINGS, "billing_trial_credits": 0, "billing_capped_amount": "0.45"}
    )
    try:
        await start_and_approve(stack)
        orders = await send_orders(stack, 4)
        await stack.wait_for(lambda: len(stack.invoices()) == 3, timeout=30)

        async def waits() -> bool:
            return await waiting_on_billing(stack.pool, stack.shop) == 1

        await stack.wait_for(waits, timeout=30)
        await stack.wait_for(lambda: len(usage_records(stack)) == 3, timeout=20)
        await stack.shopify.drain_webhooks()
        [waiting] = [o for o in orders if not stack.invoices_for(o["id"])]

        # Shopify's approaching_capped_amount (at 90 %) was handled: the app shows it.
        async def warned() -> bool:
            body = (await usage(stack))[1]["usage"]
            return body["subscription"]["approaching_cap_at"] is not None

        await stack.wait_for(warned, timeout=20)
        body = (await usage(stack))[1]["usage"]
        assert body["subscription"]["amount_used"] == "0.45"
        assert body["subscription"]["capped_amount"] == "0.45"
        assert body["waiting"]["state"] == "capped" and body["waiting"]["count"] == 1
        assert "capped amount" in body["waiting"]["reason"]
        assert "capped amount" in await latest_message(stack, waiting["id"])

        # The merchant raises the cap (approved on Shopify's page): the waiting work runs.
        async with stack.http.post(
            stack.url("fortnox_writer", "/admin/api/billing/capped_amount.json"),
            params={"shop": stack.shop},
            json={"capped_amount": "0.90"},
            headers=stack.admin_headers(),
        ) as response:
            assert response.status == 200, await response.text()
            url = (await response.json())["capped_amount"]["confirmation_url"]
        async with stack.http.post(url, data={"decision": "approve"}, allow_redirects=False):
            pass
        await stack.shopify.drain_webhooks()
        await stack.wait_for(lambda: len(stack.invoices_for(waiting["id"])) == 1, timeout=30)
        await stack.wait_for(lambda: len(usage_records(stack)) == 4, timeout=20)
        keys = {r["idempotency_key"] for r in usage_records(stack)}
        assert len(keys) == 4
    finally:
        await forget_deferred(stack.pool)


async def test_a_usage_record_whose_call_times_out_after_shopify_stored_it_exists_once(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        **{**BILLING_SETTINGS, "billing_trial_credits": 0, "billing_call_timeout_seconds": 0.5}
    )
    try:
        await start_and_approve(stack)
        # Shopify answers the first usage record only after our side gave up (it stores it).
        stack.shopify.faults.add("late", delay=1.0, operation="FortbridgeUsage")
        [order] = await send_orders(stack, 1)
        await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)

        async def recorded() -> bool:
            rows = await charges(stack.pool, stack.shop)
            return bool(rows) and rows[0]["usage_status"] == "recorded"

        await stack.wait_for(recorded, timeout=30)
        [row] = await charges(stack.pool, stack.shop)
        assert row["attempts"] >= 1 and row["kind"] == "usage"
        [record] = usage_records(stack)  # once, though it was asked for twice
        assert record["idempotency_key"] == row["idempotency_key"]
        assert f"gid://shopify/AppUsageRecord/{record['id']}" == row["usage_record_id"]

        def asked() -> list[Any]:
            return [r for r in stack.shopify.requests if r.operation == "FortbridgeUsage"]

        await stack.wait_for(lambda: len(asked()) >= 2, timeout=10)
        assert asked()[0].fault == "late"
        assert len(usage_records(stack)) == 1
        assert len(stack.invoices_for(order["id"])) == 1  # nothing rolled back in Fortnox
    finally:
        await forget_deferred(stack.pool)


async def test_a_replay_of_an_order_that_has_its_invoice_charges_nothing(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(**{**BILLING_SETTINGS, "billing_trial_credits": 1})
    try:
        [order] = await send_orders(stack, 1)
        await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)
        # Delivered again (another webhook id) and its command replayed twice at once: the
        # shop has no credit left and no subscription, yet nothing waits and nothing is charged.
        command = order_command(stack.shop, order)
        async with command_publisher(stack.settings) as publish:
            await asyncio.gather(publish(command), publish(command))

            async def answered() -> bool:
                events = (await stack.timeline(order["id"])).get("timeline_events", [])
                return sum("Already in Fortnox" in e["message"] for e in events) >= 2

            await stack.wait_for(answered, timeout=30)
        assert await waiting_on_billing(stack.pool, stack.shop) == 0
        assert [r["kind"] for r in await charges(stack.pool, stack.shop)] == ["trial"]
        assert not stack.shopify.shop(stack.shop).app_subscriptions
        assert len(stack.invoices_for(order["id"])) == 1
    finally:
        await forget_deferred(stack.pool)
