"""The writer's actions against the real broker and database and the Fortnox simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from libs.common.messaging import Topology
from tests.services.fortnox_writer.actions_support import (
    EMAIL,
    Order,
    calls,
    done,
    invoice,
    invoices,
    last_result,
    ledger_row,
    payments,
    results,
    send,
    writer_stack,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.slow

D = Decimal


@pytest.fixture
async def stack(amqp_url: str, database_url: str, broker_cleanup: Topology) -> AsyncIterator[Stack]:
    async with writer_stack(amqp_url, database_url, broker_cleanup.namespace) as stack:
        yield stack


async def test_bookkeep_and_email_after_create(stack: Stack) -> None:
    order = Order(stack)
    row = await done(stack, order.create(bookkeep=True, send_email=True))
    made = invoice(stack, row["document_number"])
    assert made.booked and made.sent
    assert made.emails == [EMAIL]
    assert row["outcome"] == "created"
    result = await last_result(stack, order.create())
    assert (result["status"], result["document_kind"]) == ("synced", "invoice")


async def test_reverse_cancels_an_unbooked_invoice_and_a_second_reverse_is_a_no_op(
    stack: Stack,
) -> None:
    order = Order(stack)
    created = await done(stack, order.create())
    reverse = order.reverse("cancel")
    row = await done(stack, reverse)
    original = invoice(stack, created["document_number"])
    assert original.cancelled and not original.credit_invoice_reference
    assert (row["outcome"], row["document_number"]) == ("cancelled", created["document_number"])
    result = await last_result(stack, reverse)
    assert (result["status"], result["document_kind"]) == ("synced", "invoice")

    again = order.reverse("cancel-again")
    row = await done(stack, again)
    assert row["outcome"] == "cancelled"
    assert (await last_result(stack, again))["status"] == "already_synced"
    await send(stack, reverse)  # the same command redelivered
    await stack.wait_for(lambda: _count(stack, reverse, 3))
    assert (await last_result(stack, reverse))["status"] == "already_synced"
    assert len(invoices(stack)) == 1


async def test_reverse_credits_a_booked_invoice_once(stack: Stack) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    row = await done(stack, order.reverse("refund-1"))
    original = invoice(stack, created["document_number"])
    credit = invoice(stack, row["document_number"])
    assert original.credit_invoice_reference == credit.document_number
    assert credit.credit and credit.total == -original.total == D("-250.00")
    assert row["outcome"] == "credited" and row["fortnox_total"] == D("-250.00")
    result = await last_result(stack, order.reverse("refund-1"))
    assert (result["status"], result["document_kind"]) == ("synced", "credit")

    second = await done(stack, order.reverse("cancelled"))
    assert second["document_number"] == row["document_number"]
    assert (await last_result(stack, order.reverse("cancelled")))["status"] == "already_synced"
    assert len(invoices(stack)) == 2


async def test_a_credit_of_an_earlier_day_is_dated_that_day_once(stack: Stack) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    refund = order.reverse("refund-1", credit_date="2026-11-15")  # a backfilled refund
    row = await done(stack, refund)
    credit = invoice(stack, row["document_number"])
    assert credit.credit and credit.fields["InvoiceDate"] == "2026-11-15"
    assert invoice(stack, created["document_number"]).credit_invoice_reference == int(
        row["document_number"]
    )
    dated = calls(stack, "PUT", rf"^/3/invoices/{row['document_number']}$")
    assert dated == 1
    await send(stack, refund)  # redelivered: already done, nothing written again
    await stack.wait_for(lambda: _count(stack, refund, 2))
    assert calls(stack, "PUT", rf"^/3/invoices/{row['document_number']}$") == 1
    assert calls(stack, "PUT", r"/credit$") == 1


async def test_a_credit_of_fortnoxs_today_costs_no_call_more(stack: Stack) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    before = len(stack.fortnox.requests)
    fortnox_today = datetime.now(ZoneInfo("Europe/Stockholm")).date().isoformat()
    row = await done(stack, order.reverse("refund-1", credit_date=fortnox_today))
    assert row["outcome"] == "credited"
    assert [(r.method, r.path) for r in stack.fortnox.requests[before:]] == [
        ("PUT", f"/3/invoices/{created['document_number']}/credit")
    ]


async def test_reverse_without_cancel_books_then_credits_an_unbooked_invoice(
    stack: Stack,
) -> None:
    order = Order(stack)
    created = await done(stack, order.create())
    row = await done(stack, order.reverse("refund", allow_cancel=False))
    original = invoice(stack, created["document_number"])
    assert original.booked and not original.cancelled
    assert original.credit_invoice_reference == int(row["document_number"])
    assert row["outcome"] == "credited"


async def test_reverse_cancels_an_order(stack: Stack) -> None:
    order = Order(stack, kind="order")
    created = await done(stack, order.create())
    row = await done(stack, order.reverse())
    fortnox_order = stack.fortnox.tenant(stack.tenant_id).orders[int(created["document_number"])]
    assert fortnox_order.cancelled
    assert row["outcome"] == "cancelled"
    assert (await last_result(stack, order.reverse()))["document_kind"] == "order"


async def test_update_of_an_open_order_changes_it_in_place(stack: Stack) -> None:
    order = Order(stack, kind="order")
    created = await done(stack, order.create())
    update = order.update([("Sockor", "4", "100.00", "25")])
    row = await done(stack, update)
    orders = stack.fortnox.tenant(stack.tenant_id).orders
    assert list(orders) == [int(created["document_number"])]
    assert orders[int(created["document_number"])].total == D("500.00")
    assert row["outcome"] == "updated"
    assert (await last_result(stack, update))["document_kind"] == "order"


async def test_negative_invoice_waits_for_its_original(stack: Stack) -> None:
    order = Order(stack)
    refund = order.refund_invoice("77001", [("Sockor", "-1", "100.00", "25")])
    await send(stack, refund)

    async def set_aside() -> bool:  # the writer tried it and set it aside to retry
        reason = await stack.pool.fetchval(
            "SELECT reason FROM fortnox_writer.deferred_commands WHERE document_key = $1",
            refund.document_key,
        )
        return reason == "retry"

    await stack.wait_for(set_aside, timeout=20)
    assert invoices(stack) == []  # the refund waits (transient) for the original
    original = await done(stack, order.create())
    await stack.wait_for(lambda: _finished(stack, refund.document_key), timeout=20)
    row = await ledger_row(stack.pool, refund.document_key)
    assert row is not None
    negative = invoice(stack, row["document_number"])
    assert negative.total == D("-125.00")
    assert negative.get("Remarks") == f"Avser faktura {original['document_number']}"
    assert negative.get("ExternalInvoiceReference2") == order.reference
    assert negative.get("ExternalInvoiceReference1") == "shopify-refund-77001"
    assert [job for job in await stack.failed_jobs() if job["service"] == "fortnox_writer"] == []


async def test_update_of_an_unbooked_invoice_changes_it_in_place(stack: Stack) -> None:
    order = Order(stack)
    created = await done(stack, order.create())
    update = order.update([("Sockor", "3", "100.00", "25"), ("Mössa", "1", "80.00", "12")])
    row = await done(stack, update)
    assert row["outcome"] == "updated"
    assert row["document_number"] == created["document_number"]
    [changed] = invoices(stack)
    assert changed.total == D("464.60") and len(changed.rows) == 2
    assert changed.get("ExternalInvoiceReference1") == order.reference
    result = await last_result(stack, update)
    assert (result["status"], result["document_kind"]) == ("synced", "invoice")

    stale = order.update([("Sockor", "9", "100.00", "25")], minutes=0)
    row = await done(stack, stale)
    assert row["outcome"] == "skipped"
    assert (await last_result(stack, stale))["status"] == "skipped"
    assert invoice(stack, created["document_number"]).total == D("464.60")


async def test_update_of_a_booked_invoice_credits_and_replaces_it_with_links(
    stack: Stack,
) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    first = await done(stack, order.update([("Sockor", "3", "100.00", "25")], bookkeep=True))
    second = await done(stack, order.update([("Sockor", "4", "100.00", "25")], minutes=2))
    original = invoice(stack, created["document_number"])
    v2 = invoice(stack, first["document_number"])
    v3 = invoice(stack, second["document_number"])
    assert (first["outcome"], second["outcome"]) == ("replaced", "replaced")
    assert v2.get("ExternalInvoiceReference1") == f"{order.reference}-v2"
    assert v3.get("ExternalInvoiceReference1") == f"{order.reference}-v3"
    assert (v2.total, v3.total) == (D("375.00"), D("500.00"))
    assert v2.booked and not v3.booked
    assert original.credit_invoice_reference and v2.credit_invoice_reference
    assert not v3.credit_invoice_reference
    links = await stack.pool.fetch(
        "SELECT * FROM fortnox_writer.document_links WHERE target_key = $1 ORDER BY version",
        order.key,
    )
    assert [
        (link["relation"], link["original_number"], link["replacement_number"], link["version"])
        for link in links
    ] == [
        ("replace", str(original.document_number), str(v2.document_number), 2),
        ("replace", str(v2.document_number), str(v3.document_number), 3),
    ]
    assert links[0]["credit_number"] == str(original.credit_invoice_reference)
    assert len(invoices(stack)) == 5  # original, v2, v3 and two credits

    # Later actions on the order apply to its current invoice, v3.
    row = await done(stack, order.pay("tx-1", "500.00"))
    [payment] = payments(stack)
    assert payment.invoice_number == v3.document_number
    assert row["document_number"] == str(payment.number)


async def test_payment_in_sek_is_registered_and_booked(stack: Stack) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    pay = order.pay("9001", "250.00", bookkeep=True)
    row = await done(stack, pay)
    [payment] = payments(stack)
    assert payment.invoice_number == int(created["document_number"])
    assert (payment.amount, payment.amount_currency) == (D("250.00"), D("250.00"))
    assert payment.booked
    assert payment.fields["ExternalInvoiceReference1"] == "9001"
    assert payment.fields["ModeOfPayment"] == "KORT"
    assert payment.fields["ModeOfPaymentAccount"] == 1580
    assert payment.fields["PaymentDate"] == "2026-03-02"
    assert row["outcome"] == "paid" and row["document_number"] == str(payment.number)
    assert invoice(stack, created["document_number"]).balance == 0
    result = await last_result(stack, pay)
    assert (result["status"], result["document_kind"], result["currency"]) == (
        "synced",
        "payment",
        "SEK",
    )
    await send(stack, pay)  # redelivered
    await stack.wait_for(lambda: _count(stack, pay, 3))
    assert (await last_result(stack, pay))["status"] == "already_synced"
    assert len(payments(stack)) == 1


async def test_payment_in_eur_uses_the_rate(stack: Stack) -> None:
    order = Order(stack, currency="EUR")
    created = await done(stack, order.create([("Socks", "2", "40.00", "25")], CurrencyRate="11.20"))
    await done(stack, order.pay("9002", "100.00", rate="11.2345"))
    [payment] = payments(stack)
    assert payment.invoice_number == int(created["document_number"])
    assert payment.amount == D("1123.45")  # SEK, rounded to öre
    assert payment.amount_currency == D("100.00")
    assert payment.currency == "EUR"
    assert invoice(stack, created["document_number"]).balance == 0


async def _count(stack: Stack, command: object, expected: int) -> bool:
    from libs.common.messages import FortnoxCommand

    assert isinstance(command, FortnoxCommand)
    return len(await results(stack, command)) >= expected


async def _finished(stack: Stack, key: str) -> bool:
    row = await ledger_row(stack.pool, key)
    return row is not None and row["finished_at"] is not None


async def test_update_of_a_credited_invoice_is_refused_and_blocks_nothing(stack: Stack) -> None:
    order = Order(stack)
    created = await done(stack, order.create(bookkeep=True))
    await done(stack, order.reverse("refund"))
    update = order.update([("Sockor", "3", "100.00", "25")])
    await send(stack, update)

    async def failed() -> list[dict[str, object]]:
        return [job for job in await stack.failed_jobs() if job["service"] == "fortnox_writer"]

    await stack.wait_for(lambda: _has(failed))
    [job] = await failed()
    assert job["error_code"] == "target_credited"
    assert len(invoices(stack)) == 2  # the original and its credit: no re-invoice
    # Later commands on the order are not held up by the refused edit.
    row = await done(stack, order.pay("tx-9", "250.00"))
    [payment] = payments(stack)
    assert payment.invoice_number == int(created["document_number"])
    assert row["outcome"] == "paid"


async def _has(check: object) -> bool:
    assert callable(check)
    return bool(await check())
