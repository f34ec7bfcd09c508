"""Through all five services: an order with two VAT rates, a discount code and shipping, then
a partial refund, then a second partial refund; each refund becomes a negative invoice in the
Fortnox simulator whose total equals the refunded amount, and the original stays intact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from simulators.shopify.payloads import DiscountSpec, LineSpec, order_payload
from tests.conftest import StackFactory
from tests.services.mapper.builders import money_back, refund_payload
from tests.support.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory()


def by_reference(stack: Stack, reference: str) -> list[object]:
    return [i for i in stack.invoices() if i.get("ExternalInvoiceReference1") == reference]


async def test_two_partial_refunds_become_two_negative_invoices(stack: Stack) -> None:
    order = order_payload(
        lines=[
            LineSpec("Mugg", "129.00", 3, "0.25", "MUG-BLUE"),
            LineSpec("Kokbok", "249.00", 2, "0.06", "BOOK-COOK-1"),
        ],
        discount_codes=[DiscountSpec("HOST10", "10")],
    )
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    [invoice] = stack.invoices_for(order["id"])
    assert invoice.total == Decimal(order["total_price"])

    refunds = [
        refund_payload(order, 7_700_000_000_001, lines=[(0, 1)]),
        refund_payload(order, 7_700_000_000_002, lines=[(0, 1), (1, 1)]),
    ]
    for refund in refunds:
        await stack.send_webhook("refunds/create", refund)
    for refund in refunds:
        reference = f"shopify-refund-{refund['id']}"
        await stack.wait_for(lambda r=reference: len(by_reference(stack, r)) == 1, timeout=30)
        [credit] = by_reference(stack, reference)
        refunded = sum(
            (Decimal(line["subtotal"]) for line in refund["refund_line_items"]), Decimal(0)
        )
        assert credit.total == -refunded  # type: ignore[attr-defined]
        assert credit.get("ExternalInvoiceReference2") == f"shopify-{order['id']}"  # type: ignore[attr-defined]
    [original] = stack.invoices_for(order["id"])
    assert original.total == Decimal(order["total_price"])
    assert await stack.failed_jobs() == []


async def test_money_paid_back_settles_the_negative_invoice_of_a_paid_order(stack: Stack) -> None:
    order = order_payload(
        lines=[
            LineSpec("Mugg", "129.00", 2, "0.25", "MUG-BLUE"),
            LineSpec("Kokbok", "249.00", 1, "0.06", "BOOK-COOK-1"),
        ],
    )
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    await stack.send_webhook("orders/paid", {**order, "financial_status": "paid"})
    await stack.wait_for(lambda: stack.invoices_for(order["id"])[0].balance == 0, timeout=30)

    refund = money_back(
        order, refund_payload(order, 7_700_000_000_011, lines=[(0, 1)]), 7_800_000_000_011, "manual"
    )
    await stack.send_webhook("refunds/create", refund)
    reference = f"shopify-refund-{refund['id']}"
    await stack.wait_for(lambda: len(by_reference(stack, reference)) == 1, timeout=30)
    [credit] = by_reference(stack, reference)
    tenant = stack.fortnox.tenant(stack.tenant_id)

    def paid_back() -> list[object]:
        return [p for p in tenant.payments.values() if p.invoice_number == credit.document_number]  # type: ignore[attr-defined]

    await stack.wait_for(lambda: len(paid_back()) == 1, timeout=30)
    [payment] = paid_back()
    assert payment.amount == Decimal("-129.00") == credit.total  # type: ignore[attr-defined]
    assert payment.fields["ExternalInvoiceReference1"] == "7800000000011"  # type: ignore[attr-defined]
    assert credit.balance == 0 and credit.final_pay_date is not None  # type: ignore[attr-defined]
    [original] = stack.invoices_for(order["id"])
    assert original.balance == 0 and not original.cancelled
    assert len(tenant.payments) == 2
    assert await stack.failed_jobs() == []


async def test_money_paid_back_before_orders_paid_settles_the_credit_once_paid(
    stack: Stack,
) -> None:
    """Webhooks out of order: the refund comes before orders/paid. Its money back waits in the
    order's state and is registered with the invoice's payment."""
    order = order_payload(lines=[LineSpec("Mugg", "129.00", 2, "0.25", "MUG-BLUE")])
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    refund = money_back(
        order, refund_payload(order, 7_700_000_000_021, lines=[(0, 1)]), 7_800_000_000_021, "manual"
    )
    await stack.send_webhook("refunds/create", refund)
    reference = f"shopify-refund-{refund['id']}"
    await stack.wait_for(lambda: len(by_reference(stack, reference)) == 1, timeout=30)
    tenant = stack.fortnox.tenant(stack.tenant_id)
    assert len(tenant.payments) == 0

    await stack.send_webhook("orders/paid", {**order, "financial_status": "partially_refunded"})
    await stack.wait_for(lambda: len(tenant.payments) == 2, timeout=30)
    [credit] = by_reference(stack, reference)
    [original] = stack.invoices_for(order["id"])
    assert credit.balance == 0 and credit.total == Decimal("-129.00")  # type: ignore[attr-defined]
    assert original.balance == 0 and not original.cancelled
    assert await stack.failed_jobs() == []
