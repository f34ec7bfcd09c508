"""services.fortnox_writer.fortnox_documents in process, against a scripted Fortnox client: the
whole document body per kind, the calls each operation makes, Fortnox's totals read back, and
the exactly-once look-up (equality, not Fortnox's substring search; cancelled documents skipped;
list rows without the reference read whole). The whole-stack tests (test_actions*.py,
test_exactly_once_lookup.py) prove the same against the simulator, too slowly for mutation runs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import pytest

from libs.common.messages import DocumentDraft, InvoiceRowDraft
from services.fortnox_writer import fortnox_documents
from services.fortnox_writer.fortnox_documents import created, document_body
from services.fortnox_writer.ledger import CreatedDocument


class ScriptedFortnox:
    """Answers each (method, path) from a script and records every call."""

    def __init__(self, answers: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any, Any]] = []

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        self.calls.append((method, path, body, params))
        return self.answers[(method, path)]


def draft(kind: Literal["invoice", "order"] = "invoice", **changes: Any) -> DocumentDraft:
    rows = [
        InvoiceRowDraft(
            article_number="MUG-1",
            description="Mugg",
            quantity=Decimal(2),
            price=Decimal("100.00"),
            vat=Decimal(25),
            discount=Decimal("10.00"),
            discount_type="PERCENT",
            account_number=3001,
        ),
        InvoiceRowDraft(
            article_number=None,
            description="Frakt",
            quantity=Decimal(1),
            price=Decimal(49),
            vat=Decimal(25),
        ),
    ]
    values: dict[str, Any] = {
        "kind": kind,
        "external_reference": "shopify-123",
        "your_order_number": "#1001",
        "currency": "EUR",
        "vat_included": False,
        "document_date": "2026-11-20",
        "rows": rows,
        "fields": {"OurReference": "Webbshop", "ExternalInvoiceReference2": "shopify-9"},
    }
    values.update(changes)
    return DocumentDraft(**values)


def test_an_invoice_body_is_exactly_the_drafts_header_and_rows() -> None:
    assert document_body(draft("invoice"), "42") == {
        "Invoice": {
            "CustomerNumber": "42",
            "Currency": "EUR",
            "VATIncluded": False,
            "ExternalInvoiceReference1": "shopify-123",
            "YourOrderNumber": "#1001",
            "OurReference": "Webbshop",
            "ExternalInvoiceReference2": "shopify-9",
            "InvoiceDate": "2026-11-20",
            "InvoiceRows": [
                {
                    "Description": "Mugg",
                    "DeliveredQuantity": Decimal(2),
                    "Price": Decimal("100.00"),
                    "VAT": Decimal(25),
                    "ArticleNumber": "MUG-1",
                    "Discount": Decimal("10.00"),
                    "DiscountType": "PERCENT",
                    "AccountNumber": 3001,
                },
                {
                    "Description": "Frakt",
                    "DeliveredQuantity": Decimal(1),
                    "Price": Decimal(49),
                    "VAT": Decimal(25),
                },
            ],
        }
    }


def test_an_order_body_orders_and_delivers_each_rows_quantity_on_its_order_date() -> None:
    body = document_body(draft("order", vat_included=True), "7")
    assert set(body) == {"Order"}
    order = body["Order"]
    assert order["OrderDate"] == "2026-11-20" and "InvoiceDate" not in order
    assert order["VATIncluded"] is True and order["CustomerNumber"] == "7"
    mug, shipping = order["OrderRows"]
    assert mug["OrderedQuantity"] == mug["DeliveredQuantity"] == Decimal(2)
    assert shipping["OrderedQuantity"] == shipping["DeliveredQuantity"] == Decimal(1)
    assert "InvoiceRows" not in order


def test_a_draft_without_a_date_leaves_the_date_to_fortnox() -> None:
    assert "InvoiceDate" not in document_body(draft(document_date=""), "42")["Invoice"]


def test_created_reads_fortnox_totals_as_decimals_and_missing_ones_as_none() -> None:
    assert created(
        {"DocumentNumber": 1001, "Total": 186.9, "TotalVAT": "37.38", "RoundOff": 0.1}
    ) == CreatedDocument("1001", Decimal("186.9"), Decimal("37.38"), Decimal("0.1"))
    assert created({"DocumentNumber": "7", "Total": "", "RoundOff": None}) == CreatedDocument(
        "7", None, None, None
    )


@pytest.mark.parametrize(
    ("kind", "path", "single"),
    [("invoice", "/3/invoices", "Invoice"), ("order", "/3/orders", "Order")],
)
async def test_create_and_replace_send_the_body_and_read_the_answer(
    kind: Literal["invoice", "order"], path: str, single: str
) -> None:
    answer = {single: {"DocumentNumber": 5, "Total": "250.00", "TotalVAT": "50.00", "RoundOff": 0}}
    client = ScriptedFortnox({("POST", path): answer, ("PUT", f"{path}/5"): answer})
    made = await fortnox_documents.create(client, draft(kind), "42")  # type: ignore[arg-type]
    assert made == CreatedDocument("5", Decimal("250.00"), Decimal("50.00"), Decimal(0))
    again = await fortnox_documents.replace_content(client, draft(kind), "42", "5")  # type: ignore[arg-type]
    assert again == made
    body = document_body(draft(kind), "42")
    assert client.calls == [("POST", path, body, None), ("PUT", f"{path}/5", body, None)]


async def test_read_returns_the_whole_document() -> None:
    document = {"DocumentNumber": 5, "Booked": True}
    client = ScriptedFortnox({("GET", "/3/orders/5"): {"Order": document}})
    assert await fortnox_documents.read(client, "order", "5") == document  # type: ignore[arg-type]
    assert client.calls == [("GET", "/3/orders/5", None, None)]


async def test_find_takes_only_the_exact_reference_that_is_not_cancelled() -> None:
    listing = {
        "Invoices": [
            {"DocumentNumber": 1, "ExternalInvoiceReference1": "shopify-1234", "Total": 1},
            {"DocumentNumber": 2, "ExternalInvoiceReference1": "shopify-123-v2", "Total": 2},
            {"DocumentNumber": 3, "ExternalInvoiceReference1": "shopify-123", "Cancelled": True},
            {"DocumentNumber": 4, "ExternalInvoiceReference1": "shopify-123", "Total": "99.50"},
        ]
    }
    client = ScriptedFortnox({("GET", "/3/invoices"): listing})
    found = await fortnox_documents.find(client, draft())  # type: ignore[arg-type]
    assert found == CreatedDocument("4", Decimal("99.50"))
    assert client.calls == [
        ("GET", "/3/invoices", None, {"externalinvoicereference1": "shopify-123"})
    ]


async def test_find_reads_a_list_row_without_the_reference_whole() -> None:
    listing = {"Orders": [{"DocumentNumber": 8}, {"DocumentNumber": 9}]}
    client = ScriptedFortnox(
        {
            ("GET", "/3/orders"): listing,
            ("GET", "/3/orders/8"): {
                "Order": {"DocumentNumber": 8, "ExternalInvoiceReference1": "x"}
            },
            ("GET", "/3/orders/9"): {
                "Order": {
                    "DocumentNumber": 9,
                    "ExternalInvoiceReference1": "shopify-123",
                    "Total": 3,
                }
            },
        }
    )
    found = await fortnox_documents.find(client, draft("order"))  # type: ignore[arg-type]
    assert found == CreatedDocument("9", Decimal(3))
    assert [call[1] for call in client.calls] == ["/3/orders", "/3/orders/8", "/3/orders/9"]


async def test_find_without_a_match_is_none() -> None:
    client = ScriptedFortnox({("GET", "/3/invoices"): {"Invoices": []}})
    assert await fortnox_documents.find(client, draft()) is None  # type: ignore[arg-type]
    empty = ScriptedFortnox({("GET", "/3/invoices"): {}})  # no list envelope at all
    assert await fortnox_documents.find(empty, draft()) is None  # type: ignore[arg-type]
