"""Two writer processes bill each order once: every command is published twice at once (the
same result delivered twice, taken by either replica), and each order makes one usage record."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fortbridge.localstack import command_publisher, order_command
from libs.common.crypto import TokenCipher
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shops import ShopRegistry
from services.fortnox_writer.billing_ledger import BillingLedger
from services.fortnox_writer.subscriptions import Subscriptions
from simulators.shopify.payloads import order_payload
from tests.services.fortnox_writer.billing_support import BILLING_SETTINGS, charges, usage_records
from tests.services.fortnox_writer.writer_support import forget_deferred
from tests.support.settle import MANAGEMENT_URL, settled
from tests.test_writer_replicas import Writers, _until, stack_factory  # noqa: F401

pytestmark = pytest.mark.slow


async def test_two_replicas_processing_the_same_results_charge_each_order_once(
    stack_factory: Any,  # noqa: F811
) -> None:
    settings = {**BILLING_SETTINGS, "billing_trial_credits": 0}
    async with stack_factory(**settings) as stack:
        # The shop's usage charges are approved before the orders come.
        cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
        admin = ShopifyAdmin(
            stack.http, stack.settings.shopify_admin_url, stack.settings.shopify_api_version
        )
        ledger = BillingLedger(stack.pool, stack.settings)
        subscriptions = Subscriptions(
            stack.pool, stack.settings, ledger, admin, ShopRegistry(stack.pool, cipher)
        )
        await subscriptions.start(stack.shop)
        shop = stack.shopify.shop(stack.shop)
        [sub] = shop.app_subscriptions.values()
        assert stack.shopify.billing.transition(shop, sub, "approve") is None
        assert (await subscriptions.refresh(stack.shop)).status == "ACTIVE"

        writers = Writers(stack)
        stack_factory.writers.append(writers)
        await writers.start(2)
        orders = [order_payload() for _ in range(10)]
        commands = [order_command(stack.shop, order) for order in orders]
        async with command_publisher(stack.settings) as publish:
            await asyncio.gather(*(publish(c) for c in commands for _ in range(2)))
            await _until(lambda: len(stack.invoices()) >= 10, 60, "ten invoices")
            await _until(lambda: len(usage_records(stack)) >= 10, 60, "ten usage records")
            # Both copies of every command are handled (the writers are processes of their own:
            # the management API counts the messages they hold, past its 5 s statistics lag).
            await settled(
                stack,
                services=("fortnox_writer",),
                management_url=MANAGEMENT_URL,
                checks=4,
                interval=2.0,
            )
        rows = await charges(stack.pool, stack.shop)
        await forget_deferred(stack.pool)
    assert sorted(len(stack.invoices_for(o["id"])) for o in orders) == [1] * 10
    assert len(rows) == 10 and {r["kind"] for r in rows} == {"usage"}
    records = usage_records(stack)
    assert len(records) == 10
    assert {r["idempotency_key"] for r in records} == {r["idempotency_key"] for r in rows}
