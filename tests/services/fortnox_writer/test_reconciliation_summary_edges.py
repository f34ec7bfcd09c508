"""The reconciliation report in summary mode (pure), what the first version left out: a
summarized order cancelled without a refund is held by the refunds summary of the day it was
cancelled; the payments registered on the summaries are compared with Shopify's; and with a
close time after midnight, the refunds made after the period until its last day's close are
read from Shopify and tied to that day's refunds summary."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.fortnox_writer.reconciliation.compare import build_report, to_csv
from services.fortnox_writer.reconciliation.fortnox_side import FortnoxPeriod
from services.fortnox_writer.reconciliation.shopify_side import period_orders
from services.mapper.accounting.summaries import day_closes_at
from tests.services.fortnox_writer.test_reconciliation_summaries import (
    END,
    LATE_CLOSE,
    START,
    at,
    day_of,
    order,
    summary,
    two_days,
)

D = Decimal
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def kinds(report: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(d["order_id"], d["kind"]) for d in report["differences"]}


def test_a_summarized_order_cancelled_without_a_refund_is_in_its_refunds_summary() -> None:
    orders, documents = two_days()
    cancelled = orders[3]  # 14 Nov, in summary 102; cancelled on 20 Nov, nothing captured
    cancelled.cancelled, cancelled.cancelled_at = True, at(20, 9)
    cancelled.captured = cancelled.paid = D("0.00")
    documents[1].paid = D("0.00")
    reversal = summary(
        "104", "fb-summary-2026-11-20-SEK-incl-SEVAT-refunds", "-250.00", {"25": "-50.00"}
    )
    report = build_report("s", START, END, orders, FortnoxPeriod([*documents, reversal]), day_of)
    assert report["differences"] == []
    row = {r["order_id"]: r for r in report["orders"]}["5004"]
    assert row["summarized"] == {"documents": ["102"], "refunds": {}, "cancelled": ["104"]}
    day = {(r["kind"], r["date"]): r for r in report["summaries"]}[("refunds", "2026-11-20")]
    assert (day["orders"], day["refunds"], day["cancellations"]) == (1, 0, 1)
    assert "summary:102 summary:104" in to_csv(report)
    assert day["shopify"]["total"] == day["fortnox"]["total"] == "250.00"
    assert day["shopify"]["vat_by_rate"] == day["fortnox"]["vat_by_rate"] == {"25": "50.00"}

    # Not in Fortnox (no refunds summary of that day): the cancellation is a credit missing.
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), day_of)
    [missing] = report["differences"]
    assert (missing["order_id"], missing["kind"]) == ("5004", "credit")
    assert (missing["shopify"], missing["fortnox"]) == ("250.00", "0.00")

    # A refunds summary holding more than the cancellation shows as a summary difference.
    reversal.total = D("-300.00")
    report = build_report("s", START, END, orders, FortnoxPeriod([*documents, reversal]), day_of)
    [total] = report["differences"]
    assert total["what"] == "refunds summary 2026-11-20 SEK total"
    assert (total["shopify"], total["fortnox"], total["document"]) == ("250.00", "300.00", "104")


def test_an_earlier_order_cancelled_in_the_period_is_tied_to_its_refunds_summary() -> None:
    earlier = order(7, datetime(2026, 10, 20, 12, tzinfo=UTC), "125.00", "25.00")
    earlier.in_period, earlier.cancel_only = False, True
    earlier.cancelled, earlier.cancelled_at = True, at(2, 10)
    reversal = summary(
        "105", "fb-summary-2026-11-02-SEK-incl-SEVAT-refunds", "-125.00", {"25": "-25.00"}
    )
    report = build_report("s", START, END, [earlier], FortnoxPeriod([reversal]), day_of)
    assert report["differences"] == []
    [row] = report["orders"]
    assert row["in_period"] is False
    assert row["summarized"] == {"documents": [], "refunds": {}, "cancelled": ["105"]}
    assert report["summaries"][0]["cancellations"] == 1
    # No refunds summary holds it: not listed (a per-order cancellation is not dated by it).
    report = build_report("s", START, END, [earlier], FortnoxPeriod([]), day_of)
    assert report["orders"] == [] and report["differences"] == []


def test_payments_on_summaries_are_compared_with_shopifys() -> None:
    orders, documents = two_days()
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), day_of)
    assert report["differences"] == []
    documents[0].paid = D("349.00")  # one order's 125.00 not registered on 3 Nov's summary
    documents[2].paid = D("0.00")  # the money paid back not registered on the refunds summary
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), day_of)
    found = {d["what"]: d for d in report["differences"]}
    assert set(found) == {
        "sales summary 2026-11-03 SEK paid",
        "refunds summary 2026-11-15 SEK paid",
    }
    sales = found["sales summary 2026-11-03 SEK paid"]
    assert (sales["kind"], sales["document"]) == ("summary", "101")
    assert (sales["shopify"], sales["fortnox"], sales["difference"]) == (
        "474.00",
        "349.00",
        "-125.00",
    )
    back = found["refunds summary 2026-11-15 SEK paid"]
    assert (back["shopify"], back["fortnox"], back["document"]) == ("112.00", "0.00", "103")
    row = {(r["kind"], r["date"]): r for r in report["summaries"]}[("sales", "2026-11-03")]
    assert (row["shopify"]["paid"], row["fortnox"]["paid"]) == ("474.00", "349.00")
    # Shopify captured less than was registered (a payment registered twice) shows the same.
    documents[0].paid, documents[2].paid = D("599.00"), D("-112.00")
    orders[0].captured = D("125.00")
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), day_of)
    [twice] = report["differences"]
    assert twice["difference"] == "125.00"


def test_a_refund_or_cancellation_after_the_period_is_a_later_reports() -> None:
    orders, documents = two_days()
    refund = orders[1].refunds[0]
    refund.created, refund.created_at = date(2026, 12, 3), datetime(2026, 12, 3, 10, tzinfo=UTC)
    cancelled = orders[3]
    cancelled.cancelled, cancelled.cancelled_at = True, datetime(2026, 12, 4, 9, tzinfo=UTC)
    # The refunds summary of 3 December is a later period's: this report does not read it.
    report = build_report("s", START, END, orders, FortnoxPeriod(documents[:2]), day_of)
    assert report["differences"] == []
    rows = {r["order_id"]: r for r in report["orders"]}
    assert rows["5002"]["shopify"]["refunds"][0]["later"] is True
    assert rows["5002"]["shopify"]["refunded"] == "0.00"
    assert report["totals"]["shopify"]["refunded"] == report["totals"]["fortnox"]["credited"]
    assert all(day["shopify_refunds"] == "0.00" for day in report["by_day"])
    # The same refund and cancellation in the period are expected in Fortnox (controls).
    orders, documents = two_days()
    orders[3].cancelled, orders[3].cancelled_at = True, at(20, 9)
    report = build_report("s", START, END, orders, FortnoxPeriod(documents[:2]), day_of)
    assert kinds(report) == {("5002", "credit"), ("5004", "credit")}


def _money(amount: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": "SEK"}}


def earlier_order_node(refunded_at: str) -> dict[str, Any]:
    """An order of October refunded (112.00 paid back) at ``refunded_at``, as Shopify lists it."""
    return {
        "id": "gid://shopify/Order/5050",
        "name": "#1050",
        "createdAt": "2026-10-28T10:00:00Z",
        "cancelledAt": None,
        "taxesIncluded": True,
        "totalPriceSet": _money("237.00"),
        "totalTaxSet": _money("37.00"),
        "taxLines": [
            {"rate": 0.25, "priceSet": _money("25.00")},
            {"rate": 0.12, "priceSet": _money("12.00")},
        ],
        "transactions": [],
        "refunds": [
            {
                "id": "gid://shopify/Refund/88",
                "createdAt": refunded_at,
                "totalRefundedSet": _money("112.00"),
                "refundLineItems": {
                    "nodes": [
                        {
                            "totalTaxSet": _money("12.00"),
                            "lineItem": {"taxLines": [{"rate": 0.12}]},
                        }
                    ]
                },
                "refundShippingLines": {"nodes": []},
                "transactions": {
                    "nodes": [
                        {
                            "id": "gid://shopify/OrderTransaction/881",
                            "kind": "REFUND",
                            "status": "SUCCESS",
                            "processedAt": refunded_at,
                            "amountSet": _money("112.00"),
                        }
                    ]
                },
            }
        ],
    }


class Admin:
    """Shopify's orders listing: one page."""

    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self.nodes = nodes

    async def graphql(self, *_: Any, **__: Any) -> dict[str, Any]:
        return {"orders": {"nodes": self.nodes, "pageInfo": {"hasNextPage": False}}}


async def read(refunded_at: str, until: datetime | None) -> list[Any]:
    admin: Any = Admin([earlier_order_node(refunded_at)])
    return await period_orders(
        admin, "s", "t", START, END, STOCKHOLM, edge_days=1, refunds_until=until
    )


async def test_refunds_until_the_last_days_close_time_are_read() -> None:
    closes = day_closes_at(END, LATE_CLOSE)
    assert closes == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 02:00 in Stockholm
    # 01:30 in Stockholm on 1 December: 30 November's summary day, its refunds summary.
    early = "2026-12-01T00:30:00Z"
    assert await read(early, None) == []  # the period's calendar days only
    [earlier] = await read(early, closes)
    assert earlier.in_period is False and [r.edge for r in earlier.refunds] == [True]
    assert earlier.refunds[0].paid_back == D("112.00")
    refunds = summary(
        "130", "fb-summary-2026-11-30-SEK-incl-SEVAT-refunds", "-112.00", {"12": "-12.00"},
        paid="-112.00",
    )  # fmt: skip
    report = build_report("s", START, END, [earlier], FortnoxPeriod([refunds]), day_of)
    assert report["differences"] == []
    [row] = report["orders"]
    assert row["summarized"] == {"documents": [], "refunds": {"88": ["130"]}, "cancelled": []}
    assert report["totals"]["shopify"]["refunded"] == report["totals"]["fortnox"]["credited"]
    assert report["summaries"][0]["refunds"] == 1

    # Made after the close time: the next day's, not read.
    assert await read("2026-12-01T01:30:00Z", closes) == []
    # Read but held by no refunds summary of the period (its order booked on its own): not
    # listed, the next period counts it.
    [again] = await read(early, closes)
    report = build_report("s", START, END, [again], FortnoxPeriod([]), day_of)
    assert report["orders"] == [] and report["differences"] == []


def test_the_last_days_close_time_in_the_shops_zone() -> None:
    assert day_closes_at(date(2026, 6, 30), LATE_CLOSE) == datetime(2026, 7, 1, 0, tzinfo=UTC)
