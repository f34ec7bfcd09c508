"""Payouts through the stack: ingest polls the shop's paid Shopify Payments payouts (Shopify has
no payouts webhook), stores each once, the mapper books it as one voucher, the writer makes it
once in Fortnox; a second poll and a second delivery of the same payout change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from libs.common.service import STATE
from services.ingest import events
from services.ingest.reconcile.runner import FINISHED, Reconciler
from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.services.fortnox_writer.actions_support import connect_all_scopes, published_results
from tests.support.stack import Stack

pytestmark = pytest.mark.slow
D = Decimal
SCOPES = "invoice payment customer article companyinformation bookkeeping currency"
SETTINGS = "/admin/api/integrations/fortnox/settings.json"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    stack = await stack_factory(reconcile_interval_seconds=0)
    await connect_all_scopes(stack, SCOPES)
    async with stack.http.put(
        stack.url("mapper", SETTINGS),
        json={"settings": {"payouts": {"enabled": True}}, "version": 0},
        params={"shop": stack.shop},
    ) as response:
        assert response.status == 200, await response.text()
    return stack


async def stored_payouts(stack: Stack) -> list[str]:
    rows = await stack.pool.fetch(
        "SELECT webhook_id FROM ingest.webhook_events WHERE shop = $1 AND topic = 'payouts/paid'",
        stack.shop,
    )
    return [row["webhook_id"] for row in rows]


async def test_a_polled_payout_becomes_one_voucher_whose_fee_is_shopifys(stack: Stack) -> None:
    before_install = datetime.now(UTC) - timedelta(days=2)  # reconciliation leaves these alone
    for n in range(4):
        stack.shopify.add_order(
            stack.shop, order_payload(5_200_000_000_000 + n, created_at=before_install)
        )
    payout = stack.shopify.make_payout(stack.shop)
    shopify_fees = sum(
        (
            D(t["fee"])
            for t in stack.shopify.shop(stack.shop).payments.transactions.values()
            if t["payout_id"] == payout["id"]
        ),
        D(0),
    )
    runtime = stack.apps["ingest"][STATE].require_runtime()
    reconciler = Reconciler(runtime)
    assert await reconciler.reconcile_shop(stack.shop) == FINISHED
    tenant = stack.fortnox.tenant(stack.tenant_id)
    await stack.wait_for(lambda: len(tenant.vouchers) == 1, timeout=30)
    [voucher] = tenant.vouchers.values()
    debit = sum((D(r["Debit"]) for r in voucher.rows), D(0))
    credit = sum((D(r["Credit"]) for r in voucher.rows), D(0))
    assert debit == credit
    by_account = {r["Account"]: r for r in voucher.rows}
    assert (
        D(by_account[6064]["Debit"]) == shopify_fees == D(payout["summary"]["charges_fee_amount"])
    )
    assert D(by_account[1930]["Debit"]) == D(payout["amount"])
    assert voucher.fields["Description"] == f"Shopify Payments utbetalning {payout['id']}"

    # Polled again, and delivered a second time by another path: still one voucher.
    assert await reconciler.reconcile_shop(stack.shop) == FINISHED
    assert await stored_payouts(stack) == [f"reconcile:payouts/paid:{payout['id']}"]
    [payload] = [
        row["body"]
        for row in await stack.pool.fetch(
            "SELECT body FROM ingest.webhook_events WHERE topic = 'payouts/paid' AND shop = $1",
            stack.shop,
        )
    ]
    async with published_results(stack.settings.amqp_url, runtime.topology) as seen:
        await events.submit(
            runtime.pool,
            runtime.publisher,
            stack.shop,
            "payouts/paid",
            json.loads(payload),
            webhook_id=f"again:{payout['id']}",
            api_version=runtime.settings.shopify_api_version,
            source="test",
        )
        await stack.wait_for(lambda: bool(seen), timeout=30)
    assert [(r["status"], r["document_kind"]) for r in seen] == [("already_synced", "voucher")]

    async def both_planned() -> bool:
        count = await stack.pool.fetchval(
            "SELECT count(*) FROM mapper.processed_events WHERE shop = $1"
            " AND topic = 'payouts/paid' AND outcome = 'command'",
            stack.shop,
        )
        return int(count) == 2

    await stack.wait_for(both_planned, timeout=30)
    assert len(tenant.vouchers) == 1
    assert await stack.failed_jobs() == []
