"""A refund's money paid back: a negative payment on its credit document, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from libs.common.messaging import Topology
from tests.services.fortnox_writer.actions_support import (
    FAULTS,
    Order,
    done,
    invoice,
    invoices,
    last_result,
    payments,
    send,
    writer_failures,
    writer_stack,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.slow

D = Decimal


@pytest.fixture
async def stack(amqp_url: str, database_url: str, broker_cleanup: Topology) -> AsyncIterator[Stack]:
    async with writer_stack(amqp_url, database_url, broker_cleanup.namespace) as stack:
        yield stack


async def test_money_back_settles_the_negative_invoice(stack: Stack) -> None:
    order = Order(stack)
    original = await done(stack, order.create(bookkeep=True))
    await done(stack, order.pay("tx-1", "250.00"))
    refund = order.refund_invoice("7001", [("Sockor", "-1", "100.00", "25")])
    negative = await done(stack, refund)
    pay_back = order.pay_back("7001", refund.document_key, "tx-2", "125.00", bookkeep=True)
    row = await done(stack, pay_back)

    credit = invoice(stack, negative["document_number"])
    paid_back = [p for p in payments(stack) if p.invoice_number == credit.document_number]
    assert [(p.amount, p.amount_currency, p.booked) for p in paid_back] == [
        (D("-125.00"), D("-125.00"), True)
    ]
    assert paid_back[0].fields["ExternalInvoiceReference1"] == "tx-2"
    assert credit.total == D("-125.00") and credit.balance == 0
    assert credit.final_pay_date == "2026-03-05"
    assert invoice(stack, original["document_number"]).balance == 0  # the original stays paid
    assert row["outcome"] == "paid" and row["document_number"] == str(paid_back[0].number)
    result = await last_result(stack, pay_back)
    assert (result["status"], result["document_kind"]) == ("synced", "payment")


async def test_a_paid_invoice_is_credited_not_cancelled_and_its_credit_settled(
    stack: Stack,
) -> None:
    order = Order(stack)
    original = await done(stack, order.create())  # unbooked: it could be cancelled if unpaid
    await done(stack, order.pay("tx-3", "250.00"))
    reverse = order.reverse("refund", allow_cancel=True)
    reversal = await done(stack, reverse)
    assert reversal["outcome"] == "credited"
    first = invoice(stack, original["document_number"])
    assert not first.cancelled and first.booked
    assert first.credit_invoice_reference == int(reversal["document_number"])

    await done(stack, order.pay_back("7002", reverse.document_key, "tx-4", "250.00"))
    credit = invoice(stack, reversal["document_number"])
    [paid_back] = [p for p in payments(stack) if p.invoice_number == credit.document_number]
    assert paid_back.amount == D("-250.00")
    assert (credit.balance, first.balance) == (0, 0)


async def test_money_back_in_eur_uses_the_rate(stack: Stack) -> None:
    order = Order(stack, currency="EUR")
    await done(stack, order.create([("Socks", "2", "40.00", "25")], CurrencyRate="11.20"))
    await done(stack, order.pay("tx-5", "100.00", rate="11.2345"))
    refund = order.refund_invoice("7003", [("Socks", "-1", "40.00", "25")])
    negative = await done(stack, refund)
    await done(
        stack,
        order.pay_back("7003", refund.document_key, "tx-6", "50.00", currency_rate=D("11.2345")),
    )
    credit = invoice(stack, negative["document_number"])
    [paid_back] = [p for p in payments(stack) if p.invoice_number == credit.document_number]
    assert (paid_back.amount, paid_back.amount_currency) == (D("-561.73"), D("-50.00"))
    assert credit.balance == 0


async def test_money_back_on_a_cancelled_invoice_fails_with_the_reason(stack: Stack) -> None:
    order = Order(stack)
    original = await done(stack, order.create())
    reverse = order.reverse("refund")
    assert (await done(stack, reverse))["outcome"] == "cancelled"
    await send(stack, order.pay_back("7004", reverse.document_key, "tx-7", "250.00"))

    async def failed() -> bool:
        return bool(await writer_failures(stack))

    await stack.wait_for(failed)
    [job] = await writer_failures(stack)
    assert job["error_code"] == "credit_cancelled"
    assert payments(stack) == []
    assert invoice(stack, original["document_number"]).cancelled


@pytest.mark.parametrize("spec", FAULTS)
async def test_money_back_is_paid_once(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    await done(stack, order.create(bookkeep=True))
    await done(stack, order.pay("tx-8", "250.00"))
    refund = order.refund_invoice("7005", [("Sockor", "-1", "100.00", "25")])
    negative = await done(stack, refund)
    stack.fortnox.faults.add(method="POST", path_regex=r"^/3/invoicepayments$", **spec)  # type: ignore[arg-type]
    row = await done(
        stack, order.pay_back("7005", refund.document_key, "tx-9", "125.00"), timeout=30
    )
    credit = invoice(stack, negative["document_number"])
    [paid_back] = [p for p in payments(stack) if p.invoice_number == credit.document_number]
    assert paid_back.amount == D("-125.00") and credit.balance == 0
    assert row["attempts"] == 1  # the retry adopted the payment instead of posting again
    assert len(payments(stack)) == 2 and len(invoices(stack)) == 2
    assert await writer_failures(stack) == []
