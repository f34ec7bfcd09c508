"""The reconciliation report in summary mode (pure): orders with no invoice of their own, held
by the daily summary document of their day and currency, are ``summarized`` with its number and
tie out as a whole; a summary that disagrees with its orders is listed as a difference."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from services.fortnox_writer.reconciliation.compare import build_report, to_csv
from services.fortnox_writer.reconciliation.fortnox_side import FortnoxDocument, FortnoxPeriod
from services.fortnox_writer.reconciliation.shopify_side import ShopifyOrder, ShopifyRefund
from services.mapper.accounting import ShopSettings
from services.mapper.accounting.summaries import business_day, parse_summary_reference

D = Decimal
START, END = date(2026, 11, 1), date(2026, 11, 30)
LATE_CLOSE = ShopSettings(booking="daily_summary", summary_close_time="02:00")


def day_of(moment: datetime) -> date:
    return business_day(moment, LATE_CLOSE)[0]


def order(n: int, at: datetime, total: str, vat25: str, vat12: str = "0") -> ShopifyOrder:
    rates = {k: D(v) for k, v in (("25", vat25), ("12", vat12)) if D(v)}
    return ShopifyOrder(
        order_id=str(5_000 + n),
        name=f"#{1000 + n}",
        created=at.date(),
        currency="SEK",
        total=D(total),
        vat=sum(rates.values(), D(0)),
        vat_by_rate=rates,
        cancelled=False,
        paid=D(total),
        created_at=at,
        taxes_included=True,
        captured=D(total),
    )


def summary(
    number: str, reference: str, total: str, vat: dict[str, str], paid: str = "0"
) -> FortnoxDocument:
    parsed = parse_summary_reference(reference)
    assert parsed is not None
    rates = {k: D(v) for k, v in vat.items()}
    return FortnoxDocument(
        number=number,
        kind="summary",
        order_id="",
        refund_id=None,
        day=parsed[0][0],
        currency="SEK",
        total=D(total),
        vat=sum(rates.values(), D(0)),
        vat_by_rate=rates,
        summary=parsed,
        paid=D(paid),
    )


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def two_days() -> tuple[list[ShopifyOrder], list[FortnoxDocument]]:
    orders = [
        order(1, at(3, 9), "125.00", "25.00"),
        order(2, at(3, 15), "237.00", "25.00", "12.00"),
        # 00:30 UTC on 4 Nov is 01:30 in Stockholm: before the 02:00 close, still 3 Nov.
        order(3, at(4, 0, 30), "112.00", "0", "12.00"),
        order(4, at(14, 12), "250.00", "50.00"),
    ]
    orders[1].refunds = [
        ShopifyRefund(
            "77",
            date(2026, 11, 15),
            at(15, 10),
            D("112.00"),
            D("12.00"),
            {"12": D("12.00")},
            paid_back=D("112.00"),
        )
    ]
    # The payments the mapper registers on each summary (the refunds summary's: money back).
    documents = [
        summary("101", "fb-summary-2026-11-03-SEK-incl-SEVAT-sales", "474.00",
                {"25": "50.00", "12": "24.00"}, paid="474.00"),
        summary("102", "fb-summary-2026-11-14-SEK-incl-SEVAT-sales", "250.00", {"25": "50.00"},
                paid="250.00"),
        summary("103", "fb-summary-2026-11-15-SEK-incl-SEVAT-refunds", "-112.00",
                {"12": "-12.00"}, paid="-112.00"),
    ]  # fmt: skip
    return orders, documents


def test_summarized_orders_of_two_days_tie_out_to_the_ore() -> None:
    orders, documents = two_days()
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), day_of)
    assert report["differences"] == []
    held = {row["order_id"]: row["summarized"] for row in report["orders"]}
    assert held["5001"] == held["5003"] == {"documents": ["101"], "refunds": {}, "cancelled": []}
    assert held["5002"] == {"documents": ["101"], "refunds": {"77": ["103"]}, "cancelled": []}
    assert held["5004"]["documents"] == ["102"]
    rows = {(r["kind"], r["date"]): r for r in report["summaries"]}
    sales = rows[("sales", "2026-11-03")]
    assert sales["orders"] == 3 and sales["documents"] == ["101"]
    assert sales["shopify"] == {
        "total": "474.00",
        "vat": "74.00",
        "vat_by_rate": {"25": "50.00", "12": "24.00"},
        "paid": "474.00",
    }
    assert sales["fortnox"]["paid"] == "474.00"
    assert sales["fortnox"]["total"] == "474.00"
    assert sales["fortnox"]["vat_by_rate"] == sales["shopify"]["vat_by_rate"]
    refunds = rows[("refunds", "2026-11-15")]
    assert refunds["refunds"] == 1 and refunds["shopify"]["total"] == refunds["fortnox"]["total"]
    assert refunds["fortnox"]["total"] == "112.00"
    assert refunds["shopify"]["paid"] == refunds["fortnox"]["paid"] == "112.00"
    fortnox = report["totals"]["fortnox"]
    assert fortnox["summaries"] == 3 and fortnox["summarized_orders"] == 4
    assert fortnox["total"] == report["totals"]["shopify"]["total"] == "724.00"
    assert fortnox["credited"] == report["totals"]["shopify"]["refunded"] == "112.00"
    assert "summary:101" in to_csv(report)


def test_without_the_summary_days_rule_the_orders_are_missing() -> None:
    orders, documents = two_days()
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), None)
    missing = {d["order_id"] for d in report["differences"] if d["kind"] == "missing"}
    assert missing == {"5001", "5002", "5003", "5004"}


def test_an_order_removed_from_its_summary_shows_as_a_difference() -> None:
    orders, documents = two_days()
    # The first order's 125.00 (25.00 VAT) taken out in Fortnox.
    reference = "fb-summary-2026-11-03-SEK-incl-SEVAT-sales"
    documents[0] = summary(
        "101", reference, "349.00", {"25": "25.00", "12": "24.00"}, paid="474.00"
    )
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), day_of)
    found = {d["what"]: d for d in report["differences"]}
    assert set(found) == {
        "sales summary 2026-11-03 SEK total",
        "sales summary 2026-11-03 SEK VAT",
        "sales summary 2026-11-03 SEK VAT 25 %",
    }
    total = found["sales summary 2026-11-03 SEK total"]
    assert (total["kind"], total["document"], total["difference"]) == ("summary", "101", "-125.00")
    assert found["sales summary 2026-11-03 SEK VAT 25 %"]["difference"] == "-25.00"
    assert "summary:101" in to_csv(report).splitlines()[-1]


def test_an_order_after_the_close_time_is_in_the_next_days_summary() -> None:
    orders, documents = two_days()
    orders[2].created_at = at(4, 1, 30)  # 02:30 in Stockholm: 4 Nov, which has no summary
    report = build_report("s", START, END, orders, FortnoxPeriod(documents), day_of)
    kinds = {(d["order_id"], d["kind"]) for d in report["differences"]}
    assert ("5003", "missing") in kinds
    assert (None, "summary") in kinds  # 3 Nov's summary holds 112.00 more than its orders


def test_an_order_of_the_morning_after_the_period_counts_in_its_last_summary() -> None:
    last = order(9, datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "125.00", "25.00")  # 00:30 CET
    last.in_period, last.edge = False, True
    on_the_day = order(8, at(30, 12), "250.00", "50.00")
    document = summary(
        "120", "fb-summary-2026-11-30-SEK-incl-SEVAT-sales", "375.00", {"25": "75.00"}, "375.00"
    )
    report = build_report("s", START, END, [on_the_day, last], FortnoxPeriod([document]), day_of)
    assert report["differences"] == []
    assert [r["order_id"] for r in report["orders"]] == ["5008"]  # the edge order is not listed
    assert report["summaries"][0]["orders"] == 2


def test_a_refund_of_an_order_booked_on_its_own_is_not_taken_for_a_summarys() -> None:
    orders, documents = two_days()
    own = FortnoxDocument(
        number="90",
        kind="invoice",
        order_id="5002",
        refund_id=None,
        day=date(2026, 11, 3),
        currency="SEK",
        total=D("237.00"),
        vat=D("37.00"),
        vat_by_rate={"25": D("25.00"), "12": D("12.00")},
        paid=D("237.00"),
    )
    sales = summary(
        "101",
        "fb-summary-2026-11-03-SEK-incl-SEVAT-sales",
        "237.00",
        {"25": "25.00", "12": "12.00"},
    )  # orders 1 and 3 only
    report = build_report(
        "s", START, END, orders, FortnoxPeriod([own, sales, *documents[1:]]), day_of
    )
    row = {r["order_id"]: r for r in report["orders"]}["5002"]
    assert row["summarized"] is None  # its own invoice; its refund has no credit
    kinds = {(d["order_id"], d["kind"]) for d in report["differences"]}
    assert ("5002", "credit") in kinds
    assert (None, "summary") in kinds  # the refunds summary holds 112.00 no Shopify refund has
