"""The exactly-once look-up compares ExternalInvoiceReference1 for EQUALITY.

Fortnox's ``?externalinvoicereference1=`` is a substring search: looking for ``shopify-123``
also returns ``shopify-1234`` and a replacement's ``shopify-123-v2``. A retry that adopted one of
those would leave its own order without an invoice (and attach another order's invoice to it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from libs.common.messaging import Topology
from simulators.fortnox.customers import create_customer
from simulators.fortnox.invoices import create_invoice
from tests.services.fortnox_writer.actions_support import (
    Order,
    done,
    invoices,
    writer_failures,
    writer_stack,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(amqp_url: str, database_url: str, broker_cleanup: Topology) -> AsyncIterator[Stack]:
    async with writer_stack(amqp_url, database_url, broker_cleanup.namespace) as stack:
        yield stack


def _neighbour(stack: Stack, reference: str) -> int:
    """An invoice made by someone else whose reference contains ours."""
    tenant = stack.fortnox.tenant(stack.tenant_id)
    customer = create_customer(tenant, {"Name": "Annan AB"})
    body = {
        "CustomerNumber": customer.customer_number,
        "ExternalInvoiceReference1": reference,
        "InvoiceRows": [{"Description": "Annat", "DeliveredQuantity": 1, "Price": 10, "VAT": 25}],
    }
    return create_invoice(tenant, body).document_number


async def test_a_retry_never_adopts_an_invoice_whose_reference_only_contains_ours(
    stack: Stack,
) -> None:
    order = Order(stack)
    longer = _neighbour(stack, f"{order.reference}4")  # ...-123 beside ...-1234
    replacement = _neighbour(stack, f"{order.reference}-v2")  # a replacement's suffix
    # The first create fails without committing, so the retry searches before creating.
    stack.fortnox.faults.add(method="POST", path_regex=r"^/3/invoices$", kind="status", times=1)
    row = await done(stack, order.create(), timeout=30)
    assert row["attempts"] == 2  # the retry looked, found no exact match, and created
    ours = [i for i in invoices(stack) if i.get("ExternalInvoiceReference1") == order.reference]
    assert [i.document_number for i in ours] == [int(row["document_number"])]
    assert int(row["document_number"]) not in (longer, replacement)
    assert ours[0].total == Decimal("250.00")
    searched = [
        r
        for r in stack.fortnox.requests_for(stack.tenant_id)
        if r.method == "GET" and r.path == "/3/invoices"
    ]
    assert searched  # the look-up did run (and its answer held both neighbours)
    assert await writer_failures(stack) == []
