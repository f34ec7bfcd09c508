"""A Shopify Payments payout as one Fortnox voucher (accounting/payouts.py, pure): it balances,
its fee is Shopify's, its bank row is the amount paid out, and a payout whose transactions do
not add up is refused rather than booked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from libs.common.errors import PermanentError
from services.mapper.accounting import ShopSettings
from services.mapper.accounting.payouts import plan_payout, reference
from simulators.shopify import ShopifySimulator
from simulators.shopify.payloads import order_payload
from simulators.shopify.payouts import Adjustment

D = Decimal
SHOP = "payout-plan.myshopify.com"
ON = ShopSettings.model_validate({"payouts": {"enabled": True}})


def payout_event(sim: ShopifySimulator, **options: Any) -> dict[str, Any]:
    """The payouts/paid payload ingest stores, from the simulator's REST payout."""
    payout = sim.make_payout(SHOP, **options)
    txns = [
        t for t in sim.shop(SHOP).payments.transactions.values() if t["payout_id"] == payout["id"]
    ]
    return {
        "id": str(payout["id"]),
        "status": payout["status"],
        "issued_at": payout["issued_at"],
        "currency": payout["currency"],
        "net": payout["amount"],
        "summary": payout["summary"],
        "balance_transactions": [{**t, "id": str(t["id"])} for t in txns],
    }


@pytest.fixture
def sim() -> ShopifySimulator:
    sim = ShopifySimulator(now=lambda: datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    sim.add_shop(SHOP)
    for n in range(3):
        sim.add_order(SHOP, order_payload(5_100_000_000_000 + n))
    order = sim.shop(SHOP).orders[5_100_000_000_001]
    refund = {"kind": "refund", "status": "success", "amount": "40.00", "id": 8_100_000_001}
    sim.add_refund(SHOP, order["id"], {"id": 9_100_000_001, "transactions": [refund]})
    return sim


def rows_of(plan_rows: Any) -> dict[tuple[int, str], Decimal]:
    out: dict[tuple[int, str], Decimal] = {}
    for row in plan_rows:
        side = "debit" if row.debit else "credit"
        out[(row.account, side)] = out.get((row.account, side), D(0)) + (row.debit or row.credit)
    return out


def test_the_voucher_balances_and_its_fee_is_shopifys(sim: ShopifySimulator) -> None:
    event = payout_event(
        sim, adjustments=[Adjustment(D("-25.00"), "dispute", D("15.00"))], reserve=D("100.00")
    )
    plan = plan_payout(SHOP, event, ON, event_uid="e1")
    command = plan.command
    assert command is not None and command.voucher is not None
    voucher = command.voucher
    assert voucher.reference == reference(event["id"])
    assert voucher.transaction_date == "2026-11-30" and voucher.currency == "SEK"
    debit = sum((r.debit for r in voucher.rows), D(0))
    credit = sum((r.credit for r in voucher.rows), D(0))
    assert debit == credit == command.expected_total
    rows = rows_of(voucher.rows)
    txns = event["balance_transactions"]
    shopify_fees = sum((D(t["fee"]) for t in txns), D(0))
    assert shopify_fees == D(event["summary"]["charges_fee_amount"]) + D("15.00")
    assert rows[(6064, "debit")] == shopify_fees
    assert rows[(1930, "debit")] == D(event["net"])
    charges = sum((D(t["amount"]) for t in txns if t["type"] == "charge"), D(0))
    assert rows[(1580, "credit")] == charges
    assert rows[(1580, "debit")] == D("40.00")  # the refund paid back through Shopify
    assert rows[(6990, "debit")] == D("25.00")
    assert rows[(1680, "debit")] == D("100.00")
    assert command.document_key == f"{SHOP}:payout:{event['id']}:voucher"
    assert command.source.type == "payout"


def test_accounts_and_series_are_the_shops(sim: ShopifySimulator) -> None:
    settings = ShopSettings.model_validate(
        {
            "payouts": {
                "enabled": True,
                "voucher_series": "S",
                "clearing_account": 1581,
                "fee_account": 6570,
                "bank_account": 1940,
            }
        }
    )
    plan = plan_payout(SHOP, payout_event(sim), settings, event_uid=None)
    assert plan.command is not None and plan.command.voucher is not None
    assert plan.command.voucher.series == "S"
    assert {r.account for r in plan.command.voucher.rows} == {1581, 6570, 1940}


def test_a_payout_whose_transactions_do_not_add_up_is_refused(sim: ShopifySimulator) -> None:
    event = payout_event(sim)
    event["net"] = str(D(event["net"]) + D("0.01"))
    with pytest.raises(PermanentError) as caught:
        plan_payout(SHOP, event, ON, event_uid=None)
    assert caught.value.code == "payout_does_not_add_up"
    sim.add_order(SHOP, order_payload(5_100_000_000_009))
    event = payout_event(sim)
    charge = next(t for t in event["balance_transactions"] if t["type"] == "charge")
    charge["fee"] = "0.00"  # amount - fee is no longer its net
    with pytest.raises(PermanentError):
        plan_payout(SHOP, event, ON, event_uid=None)


def test_skipped_when_not_enabled_not_paid_or_empty(sim: ShopifySimulator) -> None:
    event = payout_event(sim)
    assert plan_payout(SHOP, event, ShopSettings(), event_uid=None).skipped is not None
    assert plan_payout(SHOP, {**event, "status": "in_transit"}, ON, event_uid=None).command is None
    empty = payout_event(sim)  # nothing left to pay out
    assert plan_payout(SHOP, empty, ON, event_uid=None).skipped == "the payout moves no money"
