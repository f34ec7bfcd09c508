"""Payouts in the reconciliation report through the stack: a booked payout's voucher ties out with
Shopify's net, fees and gross; the same voucher edited in the Fortnox simulator (a fee row typed
otherwise) shows the amounts that disagree (ingest, mapper, writer; both simulators)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from simulators.fortnox._state import Voucher
from tests.conftest import StackFactory
from tests.test_reconciliation_report import payout_booked, report_of, stack_with_payouts

pytestmark = pytest.mark.slow


def book_more_fee_by_hand(voucher: Voucher, amount: Decimal) -> None:
    """Edit the payout voucher in place as a person in Fortnox would: ``amount`` more on the
    fee account (6064), balanced on the clearing account (1580)."""
    [fee_row] = [r for r in voucher.rows if r["Account"] == 6064]
    fee_row["Debit"] = Decimal(str(fee_row["Debit"])) + amount
    [clearing] = [r for r in voucher.rows if r["Account"] == 1580 and r.get("Credit")]
    clearing["Credit"] = Decimal(str(clearing["Credit"])) + amount


async def test_a_payout_voucher_is_compared_by_its_amounts(stack_factory: StackFactory) -> None:
    stack = await stack_with_payouts(stack_factory, first_order=5_320_000_000_000)
    booked = stack.shopify.make_payout(stack.shop)
    tenant = await payout_booked(stack)
    today = datetime.now(UTC).date().isoformat()
    report = await report_of(stack, today, today)
    [row] = report["payouts"]
    fees = Decimal(booked["summary"]["charges_fee_amount"])
    gross = Decimal(booked["summary"]["charges_gross_amount"])
    assert Decimal(row["fortnox"]["fees"]) == Decimal(row["fees"]) == fees
    assert Decimal(row["fortnox"]["net"]) == Decimal(row["net"]) == Decimal(booked["amount"])
    assert Decimal(row["fortnox"]["gross"]) == Decimal(row["gross"]) == gross
    assert [d for d in report["differences"] if "payout" in d["what"]] == []

    # Someone books the fee otherwise by hand (the simulator's voucher edited in place).
    [voucher] = tenant.vouchers.values()
    book_more_fee_by_hand(voucher, Decimal("5.00"))
    report = await report_of(stack, today, today)
    found = {d["what"]: d for d in report["differences"] if d["kind"] == "payout"}
    payout_id = booked["id"]
    assert set(found) == {
        f"payout {payout_id} fees (fee account)",
        f"payout {payout_id} charges and refunds gross (clearing account)",
    }, report["differences"]
    edited = found[f"payout {payout_id} fees (fee account)"]
    assert Decimal(edited["difference"]) == Decimal("5.00")
    assert edited["document"] == f"{voucher.series}{voucher.number}"


async def test_a_euro_payout_is_booked_and_compared_in_sek_at_the_rate_of_its_date(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_with_payouts(stack_factory, first_order=5_330_000_000_000)
    stack.shopify.shop(stack.shop).currency = "EUR"  # Shopify Payments pays out in euro
    today = datetime.now(UTC).date().isoformat()
    rate = Decimal("11.4321")
    stack.fortnox.set_daily_rate(stack.tenant_id, "EUR", today, rate)
    booked = stack.shopify.make_payout(stack.shop)
    assert booked["currency"] == "EUR"
    tenant = await payout_booked(stack)
    [voucher] = tenant.vouchers.values()
    debits = sum((Decimal(str(r.get("Debit") or 0)) for r in voucher.rows), Decimal(0))
    credits = sum((Decimal(str(r.get("Credit") or 0)) for r in voucher.rows), Decimal(0))
    assert debits == credits
    net = Decimal(booked["amount"])
    sek = (net * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    [bank] = [r for r in voucher.rows if r["Account"] == 1930]
    assert Decimal(str(bank["Debit"])) == sek
    assert f"(EUR {net} kurs 11.4321)" in voucher.fields["Description"]

    report = await report_of(stack, today, today)
    [row] = report["payouts"]
    assert row["rate"] == "11.4321"
    assert Decimal(row["fortnox"]["net"]) == Decimal(row["sek"]["net"]) == sek
    assert [d for d in report["differences"] if "payout" in d["what"]] == []
    assert not [n for n in report["notes"] if "payout" in n]

    # The fee row edited by hand in Fortnox: the report shows it in SEK.
    book_more_fee_by_hand(voucher, Decimal("5.00"))
    report = await report_of(stack, today, today)
    found = {d["what"]: d for d in report["differences"] if d["kind"] == "payout"}
    edited = found[f"payout {booked['id']} fees (fee account)"]
    assert Decimal(edited["difference"]) == Decimal("5.00")
