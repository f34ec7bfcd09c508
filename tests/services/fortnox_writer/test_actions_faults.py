"""Each action under injected faults still makes exactly one credit, payment or document.

``drop_after_commit``: Fortnox commits, then the connection drops without an answer.
``timeout``: Fortnox answers after the writer's timeout (3 s in tests) and commits late (4 s),
so the retry has to wait for the outcome to settle before it looks for it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from libs.common.messaging import Topology
from tests.services.fortnox_writer.actions_support import (
    EMAIL,
    FAULTS,
    Order,
    done,
    invoice,
    invoices,
    last_result,
    payments,
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


def fault(stack: Stack, method: str, path_regex: str, spec: dict[str, object]) -> None:
    stack.fortnox.faults.add(method=method, path_regex=path_regex, **spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", FAULTS)
async def test_credit_is_made_once(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    fault(stack, "PUT", r"^/3/invoices/\d+/credit$", spec)
    row = await done(stack, order.reverse("refund"), timeout=30)
    credits = [i for i in invoices(stack) if i.credit]
    assert len(credits) == 1
    assert row["document_number"] == str(credits[0].document_number)
    assert invoice(stack, created["document_number"]).credit_invoice_reference == int(
        row["document_number"]
    )
    assert (await last_result(stack, order.reverse("refund")))["status"] == "synced"
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_cancel_is_made_once(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    created = await done(stack, order.create())
    fault(stack, "PUT", r"^/3/invoices/\d+/cancel$", spec)
    row = await done(stack, order.reverse(), timeout=30)
    assert invoice(stack, created["document_number"]).cancelled
    assert row["outcome"] == "cancelled"
    assert len(invoices(stack)) == 1
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_payment_is_registered_once(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    await done(stack, order.create(bookkeep=True))
    fault(stack, "POST", r"^/3/invoicepayments$", spec)
    row = await done(stack, order.pay("tx-77", "250.00", bookkeep=True), timeout=30)
    [payment] = payments(stack)
    assert payment.booked and payment.amount == D("250.00")
    assert row["document_number"] == str(payment.number)
    assert row["attempts"] == 1  # the retry adopted the payment instead of posting again
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_payment_bookkeep_is_safe_to_repeat(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    await done(stack, order.create(bookkeep=True))
    fault(stack, "PUT", r"^/3/invoicepayments/\d+/bookkeep$", spec)
    await done(stack, order.pay("tx-78", "100.00", bookkeep=True), timeout=30)
    [payment] = payments(stack)
    assert payment.booked
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_replacement_invoice_is_made_once(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    fault(stack, "POST", r"^/3/invoices$", spec)
    row = await done(stack, order.update([("Sockor", "3", "100.00", "25")]), timeout=30)
    replacements = [
        i for i in invoices(stack) if i.get("ExternalInvoiceReference1") == f"{order.reference}-v2"
    ]
    assert [i.document_number for i in replacements if not i.credit] == [
        int(row["document_number"])
    ]
    assert len([i for i in invoices(stack) if i.credit]) == 1
    assert invoice(stack, created["document_number"]).credit_invoice_reference
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_update_in_place_survives_a_fault(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    await done(stack, order.create())
    fault(stack, "PUT", r"^/3/invoices/\d+$", spec)
    await done(stack, order.update([("Sockor", "5", "100.00", "25")]), timeout=30)
    [changed] = invoices(stack)
    assert changed.total == D("625.00")
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_bookkeep_after_create_survives_a_fault(
    stack: Stack, spec: dict[str, object]
) -> None:
    order = Order(stack)
    fault(stack, "PUT", r"^/3/invoices/\d+/bookkeep$", spec)
    row = await done(stack, order.create(bookkeep=True, send_email=True), timeout=30)
    [made] = invoices(stack)
    assert made.document_number == int(row["document_number"])
    assert made.booked and made.sent
    assert made.emails == [EMAIL]
    assert await writer_failures(stack) == []


# Fortnox's e-mail action is a GET: aiohttp's own re-send of an idempotent request after a
# dropped connection would send the e-mail twice; libs/common/http.client_session turns it off.


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"kind": "drop_after_commit"}, id="drop_after_commit"),
        pytest.param({"kind": "timeout", "delay": 4.0}, id="timeout"),
    ],
)
async def test_email_after_create_is_sent_once(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    fault(stack, "GET", r"^/3/invoices/\d+/email$", spec)
    await done(stack, order.create(bookkeep=True, send_email=True), timeout=30)
    [made] = invoices(stack)
    assert made.booked and made.sent
    assert made.emails == [EMAIL]
    assert await writer_failures(stack) == []


@pytest.mark.parametrize("spec", FAULTS)
async def test_negative_invoice_is_made_once(stack: Stack, spec: dict[str, object]) -> None:
    order = Order(stack)
    await done(stack, order.create())
    fault(stack, "POST", r"^/3/invoices$", spec)
    refund = order.refund_invoice("88001", [("Sockor", "-1", "100.00", "25")])
    await done(stack, refund, timeout=30)
    negatives = [
        i for i in invoices(stack) if i.get("ExternalInvoiceReference1") == "shopify-refund-88001"
    ]
    assert len(negatives) == 1 and negatives[0].total == D("-125.00")
    assert await writer_failures(stack) == []
