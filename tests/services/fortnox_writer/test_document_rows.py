"""A row's other fields (a rule's Project, CostCenter, Unit, Description) reach the Fortnox
document body, and the Fortnox simulator's row schema takes them; they never replace what
Fortbridge computes (quantity, price, VAT, account)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import pytest

from libs.common.messages import DocumentDraft, InvoiceRowDraft
from services.fortnox_writer.fortnox_documents import document_body
from simulators.fortnox.schema import INVOICE_ROW, ORDER_ROW


def draft(kind: Literal["invoice", "order"], fields: dict[str, Any]) -> DocumentDraft:
    rows = [
        InvoiceRowDraft(
            article_number="MUG-1",
            description="Mugg",
            quantity=Decimal(2),
            price=Decimal("100.00"),
            vat=Decimal(25),
            account_number=3001,
            fields=fields,
        ),
        InvoiceRowDraft(
            article_number=None,
            description="Frakt",
            quantity=Decimal(1),
            price=Decimal(49),
            vat=Decimal(25),
        ),
    ]
    return DocumentDraft(
        kind=kind,
        external_reference="shopify-1",
        your_order_number="#1001",
        currency="SEK",
        vat_included=True,
        document_date="2026-11-20",
        rows=rows,
    )


@pytest.mark.parametrize(
    ("kind", "single", "rows_field", "schema"),
    [
        ("invoice", "Invoice", "InvoiceRows", INVOICE_ROW),
        ("order", "Order", "OrderRows", ORDER_ROW),
    ],
)
def test_row_fields_reach_the_body(kind: Any, single: str, rows_field: str, schema: Any) -> None:
    fields = {"Project": "P7", "CostCenter": "WEB", "Unit": "st", "Description": "MUG-1: Mugg"}
    body = document_body(draft(kind, fields), "42")[single]
    mug, shipping = body[rows_field]
    assert mug.items() >= fields.items()
    assert mug["ArticleNumber"] == "MUG-1" and mug["AccountNumber"] == 3001
    assert "Project" not in shipping and shipping["Description"] == "Frakt"
    parsed = schema.parse(mug)  # the simulator (Fortnox's field list) takes every field
    assert parsed["Project"] == "P7" and parsed["Unit"] == "st"


def test_row_fields_never_replace_computed_values() -> None:
    fields = {"Price": "0", "VAT": "0", "DeliveredQuantity": "99", "AccountNumber": 1}
    mug = document_body(draft("invoice", fields), "42")["Invoice"]["InvoiceRows"][0]
    assert mug["Price"] == Decimal("100.00") and mug["VAT"] == Decimal(25)
    assert mug["DeliveredQuantity"] == Decimal(2) and mug["AccountNumber"] == 3001


def test_rows_without_fields_are_as_before() -> None:
    mug = document_body(draft("invoice", {}), "42")["Invoice"]["InvoiceRows"][0]
    assert set(mug) == {
        "Description",
        "DeliveredQuantity",
        "Price",
        "VAT",
        "ArticleNumber",
        "AccountNumber",
    }
