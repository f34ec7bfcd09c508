"""The reconciliation report with an invoice cancelled in Fortnox (``Cancelled``: voided instead
of credited): read as the order's invoice and its reversal, so a Shopify order cancelled and
booked that way ties out rather than showing as ``missing``; a cancelled refund's negative
invoice stays void. Fortnox is a fake client answering as its API documents (no network)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from services.fortnox_writer.reconciliation.compare import build_report, to_csv
from services.fortnox_writer.reconciliation.fortnox_side import (
    FortnoxPeriod,
    LiveFirst,
    period_documents,
)
from services.fortnox_writer.reconciliation.shopify_side import ShopifyRefund
from tests.services.fortnox_writer.test_reconciliation_summaries import END, START, at, order

D = Decimal


def invoice(number: int, reference: str, total: str, cancelled: bool, **more: Any) -> Any:
    return {
        "DocumentNumber": str(number),
        "ExternalInvoiceReference1": reference,
        "InvoiceDate": "2026-11-03",
        "Cancelled": cancelled,
        "Currency": "SEK",
        "Total": total,
        "TotalVAT": str(D(total) / 5),
        "VATIncluded": True,
        "InvoiceRows": [{"VAT": 25, "Total": total}],
        **more,
    }


class FakeFortnox:
    """GET /3/invoices (one page), /3/invoices/<n>, and empty orders and payments."""

    def __init__(self, invoices: list[dict[str, Any]]) -> None:
        self.invoices = {i["DocumentNumber"]: i for i in invoices}
        self.calls = 0

    async def request(self, method: str, path: str, params: Any = None) -> Any:
        self.calls += 1
        assert method == "GET"
        meta = {"MetaInformation": {"@TotalPages": 1}}
        if path == "/3/invoices":
            return {"Invoices": list(self.invoices.values()), **meta}
        if path.startswith("/3/invoices/"):
            return {"Invoice": self.invoices[path.rsplit("/", 1)[1]]}
        if path == "/3/orders":
            return {"Orders": [], **meta}
        assert path == "/3/invoicepayments", path
        return {"InvoicePayments": [], **meta}


class NoBacklog:
    async def facts(self, shop: str) -> Any:
        return type("Facts", (), {"backlog": 0})()


async def read(invoices: list[dict[str, Any]], order_ids: set[str]) -> FortnoxPeriod:
    client: Any = FakeFortnox(invoices)
    live = LiveFirst(NoBacklog(), "s")  # type: ignore[arg-type]
    return await period_documents(client, live, START, END, order_ids)


async def test_a_cancelled_invoice_reverses_a_cancelled_order_and_is_not_missing() -> None:
    cancelled = order(1, at(3, 10), "250.00", "50.00")
    cancelled.cancelled, cancelled.paid = True, D("0.00")
    kept = order(2, at(3, 11), "125.00", "25.00")
    kept.paid = D("0.00")
    fortnox = await read(
        [
            invoice(11, "shopify-5001", "250.00", cancelled=True),
            invoice(12, "shopify-5002", "125.00", cancelled=False),
            # A refund's negative invoice cancelled in Fortnox books nothing: still left out.
            invoice(
                13,
                "shopify-refund-9",
                "-125.00",
                cancelled=True,
                ExternalInvoiceReference2="shopify-5002",
            ),
        ],
        {"5001", "5002"},
    )
    kinds = sorted((d.number, d.kind, d.total) for d in fortnox.documents)
    assert kinds == [
        ("11", "cancellation", D("-250.00")),
        ("11", "invoice", D("250.00")),
        ("12", "invoice", D("125.00")),
    ]
    report = build_report("s", START, END, [cancelled, kept], fortnox)
    assert report["differences"] == []
    row = {r["order_id"]: r for r in report["orders"]}["5001"]
    assert (row["fortnox"]["total"], row["fortnox"]["credited"]) == ("250.00", "250.00")
    assert [d["kind"] for d in row["fortnox"]["documents"]] == ["invoice", "cancellation"]
    [day] = report["by_day"]
    assert (day["fortnox_invoices"], day["fortnox_credits"]) == ("375.00", "-250.00")
    assert day["fortnox_vat"] == "25.00"  # the cancelled invoice's VAT undone
    assert "invoice:11 cancellation:11" in to_csv(report)


async def test_a_cancelled_invoice_of_an_order_shopify_did_not_cancel_is_a_credit_difference() -> (
    None
):
    live = order(1, at(3, 10), "250.00", "50.00")
    live.paid = D("0.00")
    fortnox = await read([invoice(11, "shopify-5001", "250.00", cancelled=True)], {"5001"})
    report = build_report("s", START, END, [live], fortnox)
    [difference] = report["differences"]
    assert (difference["kind"], difference["what"]) == ("credit", "credited")
    assert (difference["shopify"], difference["fortnox"]) == ("0.00", "250.00")
    assert difference["document"] == "11"


async def test_an_order_cancelled_after_a_partial_refund_ties_out_with_the_rest_credited() -> None:
    # Shopify: 250.00 ordered, 50.00 refunded, then cancelled. Fortbridge credited the refund
    # (shopify-refund-<id>) and what was left (shopify-cancel-<order id>, planner.py).
    cancelled = order(1, at(3, 10), "250.00", "50.00")
    cancelled.cancelled, cancelled.paid = True, D("0.00")
    cancelled.refunds = [
        ShopifyRefund("77", START, at(3, 12), D("50.00"), D("10.00"), {"25": D("10.00")})
    ]
    # A neighbour whose id ends like the cancelled one's must keep its own documents.
    neighbour = order(11, at(3, 11), "125.00", "25.00")
    neighbour.paid = D("0.00")
    rest = dict(ExternalInvoiceReference2="shopify-5001")
    documents = [
        invoice(11, "shopify-5001", "250.00", cancelled=False),
        invoice(12, "shopify-refund-77", "-50.00", cancelled=False, **rest),
        invoice(13, "shopify-cancel-5001", "-200.00", cancelled=False, **rest),
        invoice(14, "shopify-5011", "125.00", cancelled=False),
    ]
    fortnox = await read(documents, {"5001", "5011"})
    mine = sorted((d.number, d.kind, d.order_id) for d in fortnox.documents)
    assert mine == [
        ("11", "invoice", "5001"),
        ("12", "credit", "5001"),
        ("13", "credit", "5001"),
        ("14", "invoice", "5011"),
    ]
    report = build_report("s", START, END, [cancelled, neighbour], fortnox)
    assert report["differences"] == []
    row = {r["order_id"]: r for r in report["orders"]}["5001"]
    assert row["fortnox"]["credited"] == "250.00"
    # Without the rest's credit in Fortnox, the report says what is missing.
    fortnox = await read([d for d in documents if d["DocumentNumber"] != "13"], {"5001", "5011"})
    [difference] = build_report("s", START, END, [cancelled, neighbour], fortnox)["differences"]
    assert (difference["order_id"], difference["kind"]) == ("5001", "credit")
    assert (difference["shopify"], difference["fortnox"]) == ("250.00", "50.00")


def earlier_cancelled() -> Any:
    """An order of October cancelled on 5 November without a refund (Shopify's side as
    shopify_side.period_orders lists it: not of the period, here for its cancellation)."""
    earlier = order(1, datetime(2026, 10, 20, 10, tzinfo=UTC), "250.00", "50.00")
    earlier.cancelled, earlier.paid = True, D("0.00")
    earlier.in_period, earlier.cancel_only = False, True
    earlier.cancelled_at = at(5, 9)
    return earlier


async def read_late(invoices: list[dict[str, Any]]) -> FortnoxPeriod:
    client: Any = FakeFortnox(invoices)
    live = LiveFirst(NoBacklog(), "s")  # type: ignore[arg-type]
    return await period_documents(
        client, live, START, END, {"5001"}, frozenset({"5001"}), date(2026, 10, 20)
    )


async def test_an_earlier_order_cancelled_in_the_period_is_compared_with_its_credit() -> None:
    # Its booked October invoice credited with Fortnox's credit action on 5 November.
    fortnox = await read_late(
        [
            invoice(11, "shopify-5001", "250.00", cancelled=False, InvoiceDate="2026-10-20"),
            invoice(
                12,
                "shopify-5001",
                "-250.00",
                cancelled=False,
                InvoiceDate="2026-11-05",
                Credit="true",
            ),
        ]
    )
    report = build_report("s", START, END, [earlier_cancelled()], fortnox)
    assert report["differences"] == []
    [row] = report["orders"]
    assert row["in_period"] is False and row["fortnox"]["credited"] == "250.00"
    [day] = report["by_day"]
    assert (day["date"], day["fortnox_credits"]) == ("2026-11-05", "-250.00")
    assert report["totals"]["fortnox"]["credited"] == "250.00"


async def test_an_earlier_invoice_voided_in_the_period_is_compared_not_summed() -> None:
    fortnox = await read_late(
        [invoice(11, "shopify-5001", "250.00", cancelled=True, InvoiceDate="2026-10-20")]
    )
    report = build_report("s", START, END, [earlier_cancelled()], fortnox)
    assert report["differences"] == []
    [row] = report["orders"]
    assert [d["kind"] for d in row["fortnox"]["documents"]] == ["cancellation"]
    assert row["fortnox"]["credited"] == "250.00"
    # October's books changed, not November's: nothing in this period's sums.
    assert report["by_day"] == []
    assert report["totals"]["fortnox"]["credited"] == "0.00"


async def test_an_earlier_order_cancelled_in_the_period_without_anything_in_fortnox_shows() -> None:
    fortnox = await read_late(
        [invoice(11, "shopify-5001", "250.00", cancelled=False, InvoiceDate="2026-10-20")]
    )
    report = build_report("s", START, END, [earlier_cancelled()], fortnox)
    [difference] = report["differences"]
    assert (difference["kind"], difference["shopify"], difference["fortnox"]) == (
        "credit",
        "250.00",
        "0.00",
    )
