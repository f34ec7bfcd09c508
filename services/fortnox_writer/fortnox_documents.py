"""Invoices and orders in Fortnox: the JSON of a draft, create, update in place, find by reference.

Every answer is read whole: the document number and the totals Fortnox computed itself
(``Total``, ``TotalVAT``, ``RoundOff``), so checking them costs no extra call.

``find`` is the exactly-once look-up. Fortnox's search is a SUBSTRING match
(``?externalinvoicereference1=shopify-123`` also returns ``shopify-1234`` and a replacement's
``shopify-123-v2``), so every row's ExternalInvoiceReference1 is compared for equality here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from libs.common.messages import DocumentDraft
from services.fortnox_writer.client import FortnoxClient
from services.fortnox_writer.ledger import CreatedDocument

# kind -> (collection path, single envelope, list envelope, rows field)
RESOURCES = {
    "invoice": ("/3/invoices", "Invoice", "Invoices", "InvoiceRows"),
    "order": ("/3/orders", "Order", "Orders", "OrderRows"),
}


def document_body(draft: DocumentDraft, customer_number: str) -> dict[str, Any]:
    """The Fortnox document JSON for a draft."""
    _, single, _, rows_field = RESOURCES[draft.kind]
    date_field = "InvoiceDate" if draft.kind == "invoice" else "OrderDate"
    quantity_field = "DeliveredQuantity" if draft.kind == "invoice" else "OrderedQuantity"
    rows: list[dict[str, Any]] = []
    for row in draft.rows:
        # Other row fields (Project, CostCenter, Unit, a rule's Description) go before what
        # Fortbridge computes, so they never replace the quantity, price, VAT or account.
        entry: dict[str, Any] = {
            "Description": row.description,
            **row.fields,
            quantity_field: row.quantity,
            "Price": row.price,
            "VAT": row.vat,
        }
        if draft.kind == "order":
            entry["DeliveredQuantity"] = row.quantity
        if row.article_number:
            entry["ArticleNumber"] = row.article_number
        if row.discount:
            entry["Discount"] = row.discount
            entry["DiscountType"] = row.discount_type
        if row.account_number is not None:
            entry["AccountNumber"] = row.account_number
        rows.append(entry)
    body: dict[str, Any] = {
        "CustomerNumber": customer_number,
        "Currency": draft.currency,
        "VATIncluded": draft.vat_included,
        "ExternalInvoiceReference1": draft.external_reference,
        "YourOrderNumber": draft.your_order_number,
        rows_field: rows,
        **draft.fields,
    }
    if draft.document_date:
        body[date_field] = draft.document_date
    return {single: body}


async def create(
    client: FortnoxClient, draft: DocumentDraft, customer_number: str
) -> CreatedDocument:
    path, single, _, _ = RESOURCES[draft.kind]
    answer = await client.request("POST", path, body=document_body(draft, customer_number))
    return created(answer[single])


async def replace_content(
    client: FortnoxClient, draft: DocumentDraft, customer_number: str, number: str
) -> CreatedDocument:
    """PUT the draft's header and rows over document ``number`` (unbooked only)."""
    path, single, _, _ = RESOURCES[draft.kind]
    answer = await client.request(
        "PUT", f"{path}/{number}", body=document_body(draft, customer_number)
    )
    return created(answer[single])


async def read(client: FortnoxClient, kind: str, number: str) -> dict[str, Any]:
    path, single, _, _ = RESOURCES[kind]
    answer = await client.request("GET", f"{path}/{number}")
    document: dict[str, Any] = answer[single]
    return document


async def find(client: FortnoxClient, draft: DocumentDraft) -> CreatedDocument | None:
    """The document with exactly this ExternalInvoiceReference1, if Fortnox has one."""
    return await find_reference(client, draft.kind, draft.external_reference)


async def find_reference(
    client: FortnoxClient, kind: str, reference: str
) -> CreatedDocument | None:
    """The ``kind`` document (invoice, order) whose ExternalInvoiceReference1 is exactly
    ``reference`` (not cancelled), if Fortnox has one."""
    path, single, plural, _ = RESOURCES[kind]
    listing = await client.request("GET", path, params={"externalinvoicereference1": reference})
    for row in listing.get(plural, []):
        row_reference = row.get("ExternalInvoiceReference1")
        if row_reference is None:  # list rows may omit it: read the whole document
            full = await client.request("GET", f"{path}/{row['DocumentNumber']}")
            row = full[single]
            row_reference = row.get("ExternalInvoiceReference1")
        if row_reference == reference and not row.get("Cancelled"):
            return created(row)
    return None


def created(document: dict[str, Any]) -> CreatedDocument:
    """The number and Fortnox's own totals from a document's JSON (a list row has no
    TotalVAT or RoundOff: those stay None)."""
    return CreatedDocument(
        number=str(document["DocumentNumber"]),
        total=_money(document.get("Total")),
        total_vat=_money(document.get("TotalVAT")),
        round_off=_money(document.get("RoundOff")),
    )


def _money(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))
