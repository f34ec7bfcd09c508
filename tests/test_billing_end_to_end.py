"""Usage billing on the whole stack (issue 14): 20 orders, 3 of them delivered twice and 2
replayed from failed jobs, make exactly 15 trial charges and 5 usage records in Shopify."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.services.fortnox_writer.billing_support import (
    BILLING_SETTINGS,
    charges,
    merchant,
    usage,
    usage_records,
    waiting_on_billing,
)
from tests.services.fortnox_writer.writer_support import forget_deferred

SWEDISH_RATES = {Decimal(rate) for rate in ("25", "12", "6", "0")}


@pytest.mark.slow
async def test_twenty_orders_with_duplicates_and_replays_bill_fifteen_free_and_five_paid(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(**BILLING_SETTINGS, replay_rate=20.0)
    try:
        orders = [order_payload() for _ in range(20)]
        # Two orders fail first (19 % VAT, which the Fortnox company has not set up).
        failing = {3, 11}
        for n in failing:
            orders[n] = order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
        for n, order in enumerate(orders):
            copies = 2 if n in (0, 7, 15) else 1  # three delivered twice
            assert await stack.send_order(order, copies=copies) == [200] * copies

        # 18 good orders: 15 on trial credits, 3 wait on billing; 2 failed jobs.
        await stack.wait_for(lambda: len(stack.invoices()) == 15, timeout=90)

        async def settled_first() -> bool:
            jobs = await stack.failed_jobs()
            return len(jobs) == 2 and await waiting_on_billing(stack.pool, stack.shop) == 3

        await stack.wait_for(settled_first, timeout=60)
        assert [r["kind"] for r in await charges(stack.pool, stack.shop)] == ["trial"] * 15

        # The merchant approves the usage charges the writer started: the 3 resume.
        await merchant(stack, "approve")
        await stack.wait_for(lambda: len(stack.invoices()) == 18, timeout=60)

        # The Fortnox company gets the 19 % rate; the two failed jobs are replayed.
        stack.fortnox.set_vat_rates(stack.tenant_id, SWEDISH_RATES | {Decimal("19")})
        async with stack.http.post(
            stack.url("replayer", "/admin/api/integrations/fortnox/retry.json"),
            json={"shop": stack.shop},
            headers=stack.admin_headers(),
        ) as response:
            assert response.status in (200, 202), await response.text()
        await stack.wait_for(lambda: len(stack.invoices()) == 20, timeout=60)

        async def all_recorded() -> bool:
            rows = await charges(stack.pool, stack.shop)
            return len(rows) == 20 and all(
                r["state"] == "charged" and r["usage_status"] in (None, "recorded") for r in rows
            )

        await stack.wait_for(all_recorded, timeout=60)
        rows = await charges(stack.pool, stack.shop)
        kinds = [r["kind"] for r in rows]
        assert kinds.count("trial") == 15 and kinds.count("usage") == 5
        records = usage_records(stack)
        assert len(records) == 5
        assert len({r["idempotency_key"] for r in records}) == 5
        assert sum((r["price"] for r in records), Decimal(0)) == Decimal("0.75")
        assert all(len(stack.invoices_for(o["id"])) == 1 for o in orders)
        status, body = await usage(stack)
        assert status == 200
        report: dict[str, Any] = body["usage"]
        assert report["trial"] == {"credits": 15, "used": 15, "left": 0}
        assert report["syncs_billed_this_cycle"] == 5
        assert report["subscription"]["amount_used"] == "0.75"
        assert report["usage_records"] == {"recorded": 5, "pending": 0}
        assert report["waiting"]["count"] == 0
    finally:
        await forget_deferred(stack.pool)
