"""The reconciliation report of a summary-mode shop through the stack: orders of two days are
booked in their days' summary documents (and a refund in its day's refunds summary); the report
shows each order summarized with its document's number, every summary tied to the öre with its
orders per VAT rate, and a summary edited by hand in Fortnox (an order taken out) as a
difference (ingest, mapper, writer; both simulators)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from libs.common.service import STATE
from services.mapper.summary import close_due
from simulators.fortnox.invoices import update_invoice
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.services.fortnox_writer.writer_support import settled
from tests.services.mapper.builders import refund_payload
from tests.support.stack import Stack
from tests.test_reconciliation_report import report_of, with_money_back, with_payment

pytestmark = pytest.mark.slow
# Prices whose VAT is whole öre at each rate, so each order's VAT sums to the summary's.
LINES = [
    LineSpec("Mugg", "125.00", 1, "0.25", "MUG-BLUE"),
    LineSpec("Kokbok", "106.00", 1, "0.06", "BOOK-COOK-1"),
    LineSpec("Biobiljett", "112.00", 1, "0.12", "CINEMA-1"),
]
MOMENTS = ("2026-11-03T10:15:00+01:00", "2026-11-03T16:40:00+01:00", "2026-11-14T12:00:00+01:00")


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    stack = await stack_factory(
        services=("ingest", "mapper", "fortnox_writer"),
        reconcile_interval_seconds=0,
        summary_close_interval_seconds=0,  # days closed by the test (close_days)
    )
    await summary_mode(stack)
    return stack


async def summary_mode(stack: Stack) -> None:
    """The shop books its orders in daily summaries (its first settings version)."""
    async with stack.http.put(
        stack.url("mapper", "/admin/api/integrations/fortnox/settings.json"),
        params={"shop": stack.shop},
        json={"settings": {"booking": "daily_summary"}, "version": 0},
    ) as response:
        assert response.status == 200, await response.text()


def summaries(stack: Stack) -> dict[str, Any]:
    return {
        str(i.fields.get("ExternalInvoiceReference1")): i
        for i in stack.invoices()
        if str(i.fields.get("ExternalInvoiceReference1") or "").startswith("fb-summary-")
    }


async def close_days(stack: Stack, entries: int) -> None:
    """Once every order and refund is an entry, close their days at once (the closing loop
    would close a past day as soon as its first order came, and put the rest in a batch 2)."""

    async def absorbed() -> bool:
        count = await stack.pool.fetchval(
            "SELECT count(*) FROM mapper.summary_entries WHERE shop = $1", stack.shop
        )
        return int(count) == entries

    await stack.wait_for(absorbed, timeout=30)
    runtime = stack.apps["mapper"][STATE].require_runtime()
    closed = await close_due(runtime, {})
    assert len([c for c in closed if c.document]) == 3  # two days' sales, a day's refunds


async def summarized_month(stack: Stack) -> list[dict[str, Any]]:
    orders = [
        with_payment(
            order_payload(5_310_000_000_000 + n, lines=LINES, created_at=at, updated_at=at)
        )
        for n, at in enumerate(MOMENTS)
    ]
    for order in orders:
        stack.shopify.add_order(stack.shop, order)
        assert await stack.send_order(order) == [200]
        assert await stack.send_webhook("orders/paid", order) == [200]
    refund = with_money_back(
        refund_payload(
            orders[0], 7_810_000_000_001, lines=[(2, 1)], created_at="2026-11-05T09:00:00+01:00"
        ),
        orders[0],
    )
    stack.shopify.add_refund(stack.shop, orders[0]["id"], refund)
    assert await stack.send_webhook("refunds/create", refund) == [200]
    await close_days(stack, entries=len(orders) + 1)
    expected = {
        "fb-summary-2026-11-03-SEK-incl-SEVAT-sales",
        "fb-summary-2026-11-14-SEK-incl-SEVAT-sales",
        "fb-summary-2026-11-05-SEK-incl-SEVAT-refunds",
    }
    await stack.wait_for(lambda: set(summaries(stack)) >= expected, timeout=60)
    await stack.wait_for(lambda: settled(stack.pool, stack.shop), timeout=30)
    assert len(stack.invoices()) == 3  # the summaries only: no invoice per order
    return orders


async def test_summarized_orders_of_two_days_tie_out_to_the_ore(stack: Stack) -> None:
    orders = await summarized_month(stack)
    made = summaries(stack)
    report = await report_of(stack, "2026-11-01", "2026-11-30")
    assert report["differences"] == [], report["differences"]
    first = str(made["fb-summary-2026-11-03-SEK-incl-SEVAT-sales"].document_number)
    second = str(made["fb-summary-2026-11-14-SEK-incl-SEVAT-sales"].document_number)
    refunds = str(made["fb-summary-2026-11-05-SEK-incl-SEVAT-refunds"].document_number)
    held = {row["order_id"]: row["summarized"] for row in report["orders"]}
    assert held[str(orders[0]["id"])] == {
        "documents": [first],
        "refunds": {"7810000000001": [refunds]},
        "cancelled": [],
    }
    assert held[str(orders[1]["id"])]["documents"] == [first]
    assert held[str(orders[2]["id"])]["documents"] == [second]
    rows = {(r["kind"], r["date"]): r for r in report["summaries"]}
    day = rows[("sales", "2026-11-03")]
    total = sum((Decimal(o["total_price"]) for o in orders[:2]), Decimal(0))
    assert Decimal(day["shopify"]["total"]) == Decimal(day["fortnox"]["total"]) == total
    assert day["shopify"]["vat_by_rate"] == day["fortnox"]["vat_by_rate"]
    assert set(day["fortnox"]["vat_by_rate"]) == {"25", "12", "6"}
    # The card payments registered on the summary, the money paid back on the refunds one.
    assert Decimal(day["shopify"]["paid"]) == Decimal(day["fortnox"]["paid"]) == total
    back = rows[("refunds", "2026-11-05")]
    assert Decimal(back["fortnox"]["total"]) == Decimal(LINES[2].price)
    assert (
        Decimal(back["shopify"]["paid"])
        == Decimal(back["fortnox"]["paid"])
        == Decimal(LINES[2].price)
    )
    fortnox = report["totals"]["fortnox"]
    assert fortnox["summaries"] == 3 and fortnox["summarized_orders"] == 3
    assert fortnox["total"] == report["totals"]["shopify"]["total"]
    assert fortnox["credited"] == report["totals"]["shopify"]["refunded"]


async def test_an_order_taken_out_of_a_summary_in_fortnox_shows(stack: Stack) -> None:
    orders = await summarized_month(stack)
    tenant = stack.fortnox.tenant(stack.tenant_id)
    edited = summaries(stack)["fb-summary-2026-11-03-SEK-incl-SEVAT-sales"]
    rows = [dict(row) for row in edited.rows]
    [mugs] = [row for row in rows if Decimal(str(row["VAT"])) == 25]
    mugs["Price"] = Decimal(str(mugs["Price"])) - Decimal("125.00")  # one order's mug less
    update_invoice(tenant, edited, {"InvoiceRows": rows})
    report = await report_of(stack, "2026-11-01", "2026-11-30")
    found = {d["what"]: d for d in report["differences"]}
    assert set(found) == {
        "sales summary 2026-11-03 SEK total",
        "sales summary 2026-11-03 SEK VAT",
        "sales summary 2026-11-03 SEK VAT 25 %",
    }, report["differences"]
    total = found["sales summary 2026-11-03 SEK total"]
    assert total["kind"] == "summary" and total["document"] == str(edited.document_number)
    assert Decimal(total["difference"]) == Decimal("-125.00")
    assert Decimal(found["sales summary 2026-11-03 SEK VAT 25 %"]["difference"]) == Decimal(
        "-25.00"
    )
    # The orders are still summarized (not missing): the summary as a whole disagrees.
    assert all(row["summarized"] for row in report["orders"] if row["order_id"] in {
        str(o["id"]) for o in orders
    })  # fmt: skip


async def test_each_order_shows_its_summary_documents_number(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        services=("ingest", "mapper", "fortnox_writer", "timeline"),
        reconcile_interval_seconds=0,
        summary_close_interval_seconds=0,  # days closed by the test (close_days)
    )
    await summary_mode(stack)
    orders = await summarized_month(stack)
    made = summaries(stack)
    first = str(made["fb-summary-2026-11-03-SEK-incl-SEVAT-sales"].document_number)
    refunds = str(made["fb-summary-2026-11-05-SEK-incl-SEVAT-refunds"].document_number)
    order_id = str(orders[0]["id"])
    answer: dict[str, Any] = {}

    async def numbered() -> bool:
        async with stack.http.get(
            stack.url("timeline", f"/admin/api/orders/{order_id}/timeline_events.json"),
            params={"shop": stack.shop},
        ) as response:
            answer.update(await response.json())
        return (answer.get("status") or {}).get("document_number") == first

    await stack.wait_for(numbered, timeout=30)
    assert answer["status"]["status"] == "summarized"
    messages = [e["message"] for e in answer["timeline_events"]]
    assert any(
        m.startswith(f"Daily sales summary made in Fortnox: invoice {first}") for m in messages
    )
    assert any(f"refunds summary made in Fortnox: invoice {refunds}" in m for m in messages)

    # The order list (ingest's projection) shows the number too.
    async def listed() -> bool:
        number = await stack.pool.fetchval(
            "SELECT document_number FROM ingest.order_documents WHERE shop = $1 AND order_id = $2",
            stack.shop,
            str(orders[2]["id"]),
        )
        return number == str(made["fb-summary-2026-11-14-SEK-incl-SEVAT-sales"].document_number)

    await stack.wait_for(listed, timeout=30)

    # Each order's Shopify status names its own day's summary document once it is made.
    second = str(made["fb-summary-2026-11-14-SEK-incl-SEVAT-sales"].document_number)
    expected = {
        str(orders[0]["id"]): first,
        str(orders[1]["id"]): first,
        str(orders[2]["id"]): second,
    }

    def shopify_statuses() -> dict[str, dict[str, Any]]:
        found = {}
        for order_id in expected:
            key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
            value = stack.shopify.shop(stack.shop).metafields.get(key)
            if value is not None:
                found[order_id] = json.loads(value["value"])
        return found

    await stack.wait_for(
        lambda: {o: s.get("document_number") for o, s in shopify_statuses().items()} == expected,
        timeout=30,
    )
    for order in orders:
        written = shopify_statuses()[str(order["id"])]
        assert written["status"] == "summarized"
        assert Decimal(str(written["order_total"])) == Decimal(order["total_price"])
        assert written["message"].startswith("Daily sales summary made in Fortnox: invoice ")
