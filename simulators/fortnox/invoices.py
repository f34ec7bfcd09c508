"""/3/invoices: list, create, read, update and the bookkeep/cancel/credit actions.

- ``GET /3/invoices``: substring search on externalinvoicereference1/2, yourordernumber,
  customernumber, customername, documentnumber, ocr; ``filter`` = cancelled | fullypaid | unpaid
  | unpaidoverdue | unbooked. Rows carry the list subset of fields (no YourOrderNumber, no rows).
- ``POST /3/invoices`` -> 201. DocumentNumber is the next number of the tenant's series unless
  given (a number in use answers 400).
- ``PUT /3/invoices/{n}`` replaces the given fields (and all rows if InvoiceRows is given);
  refused once the invoice is booked or cancelled.
- ``PUT /{n}/bookkeep``: unbooked, uncancelled invoices only.
- ``PUT /{n}/cancel``: unbooked, uncancelled invoices without payments only (code 2999014:
  a paid invoice is credited instead).
- ``PUT /{n}/credit``: booked, non-credit invoices, ONCE: creates a credit invoice (Credit
  "true", negated quantities/freight/fee, InvoiceReference -> original, header incl.
  ExternalInvoiceReference1 copied) and answers the ORIGINAL with CreditInvoiceReference set.
- ``GET /{n}/email`` (Fortnox's method for this action is GET): e-mails the invoice to
  EmailInformation.EmailAddressTo, else the customer's EmailInvoice, else Email (none: 400);
  not for a cancelled invoice. Sets ``Sent``; every call sends again (``Invoice.emails``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Invoice, Tenant
from simulators.fortnox.documents import (
    build_rows,
    clean,
    compute,
    due_date,
    invoice_json,
    invoice_list_row,
    next_number,
    ocr_for,
    resolve_header,
)
from simulators.fortnox.listing import ListSpec, modified_now, page, select
from simulators.fortnox.schema import INVOICE, INVOICE_ROW
from simulators.fortnox.wire import json_response, read_envelope

INVOICE_LIST = ListSpec[Invoice](
    searches={
        "externalinvoicereference1": lambda i: str(i.get("ExternalInvoiceReference1") or ""),
        "externalinvoicereference2": lambda i: str(i.get("ExternalInvoiceReference2") or ""),
        "yourordernumber": lambda i: str(i.get("YourOrderNumber") or ""),
        "customernumber": lambda i: i.customer_number,
        "customername": lambda i: str(i.get("CustomerName") or ""),
        "documentnumber": lambda i: str(i.document_number),
        "ocr": lambda i: str(i.get("OCR") or ""),
    },
    filters={
        "cancelled": lambda i: i.cancelled,
        "fullypaid": lambda i: not i.cancelled and i.total != 0 and i.balance == 0,
        "unpaid": lambda i: not i.cancelled and i.balance != 0,
        "unpaidoverdue": lambda i: (
            not i.cancelled
            and i.balance != 0
            and str(i.get("DueDate") or "9999-12-31") < date.today().isoformat()
        ),
        "unbooked": lambda i: not i.booked and not i.cancelled,
    },
    modified=lambda i: i.updated_at,
    default_sort=lambda i: i.document_number,
    dated=lambda i: str(i.fields.get("InvoiceDate") or ""),
)


def store_invoice(
    tenant: Tenant,
    header: dict[str, Any],
    rows: list[dict[str, Any]],
    number: int | None = None,
    **state: Any,
) -> Invoice:
    """Fill dates/OCR, compute totals and store (no validation beyond what callers did)."""
    if number is None:
        number = next_number(tenant.invoices)
    elif number < 1 or number in tenant.invoices:
        raise errors.bad_request(errors.SIM_DOCUMENT_NUMBER_USED, str(number))
    header.setdefault("InvoiceDate", date.today().isoformat())
    header.setdefault("DueDate", due_date(header["InvoiceDate"], str(header["TermsOfPayment"])))
    header.setdefault("OCR", ocr_for(number))
    invoice = Invoice(number, header, rows, compute(tenant, header, rows), **state)
    tenant.invoices[number] = invoice
    return invoice


def create_invoice(tenant: Tenant, body: dict[str, Any]) -> Invoice:
    parsed = clean(INVOICE.parse(body))
    raw_rows = parsed.pop("InvoiceRows", None)
    number = parsed.pop("DocumentNumber", None)
    header, _ = resolve_header(tenant, parsed)
    rows = build_rows(tenant, raw_rows, INVOICE_ROW, ordered=False)
    return store_invoice(tenant, header, rows, number)


def update_invoice(tenant: Tenant, invoice: Invoice, body: dict[str, Any]) -> None:
    if invoice.booked or invoice.cancelled:
        raise errors.bad_request(errors.SIM_DOCUMENT_LOCKED, f"faktura {invoice.document_number}")
    parsed = INVOICE.parse(body)
    raw_rows = parsed.pop("InvoiceRows", None)
    parsed.pop("DocumentNumber", None)
    merged = clean({**invoice.fields, **parsed})
    header, _ = resolve_header(tenant, merged)
    rows = invoice.rows
    if raw_rows is not None:
        rows = build_rows(tenant, raw_rows, INVOICE_ROW, ordered=False)
    totals = compute(tenant, header, rows)
    invoice.fields, invoice.rows, invoice.totals = header, rows, totals
    invoice.updated_at = modified_now()


def _negate_row(tenant: Tenant, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["DeliveredQuantity"] = -row["DeliveredQuantity"]
    if row["DiscountType"] == "AMOUNT":
        out["Discount"] = -row["Discount"]
    out["RowId"] = tenant.allocate_row_id()
    return out


def credit_invoice(tenant: Tenant, invoice: Invoice) -> Invoice:
    if invoice.credit:
        raise errors.bad_request(errors.SIM_INVALID_STATE, "en kreditfaktura kan inte krediteras")
    if invoice.credit_invoice_reference:
        raise errors.bad_request(
            errors.SIM_ALREADY_CREDITED, f"kreditfaktura {invoice.credit_invoice_reference}"
        )
    if not invoice.booked or invoice.cancelled:
        raise errors.bad_request(errors.SIM_INVALID_STATE, "fakturan måste vara bokförd")
    header = {k: v for k, v in invoice.fields.items() if k not in ("OCR", "InvoiceDate", "DueDate")}
    for name in ("Freight", "AdministrationFee"):
        header[name] = -(header.get(name) or Decimal("0"))
    rows = [_negate_row(tenant, row) for row in invoice.rows]
    credit = store_invoice(
        tenant, header, rows, credit=True, invoice_reference=invoice.document_number
    )
    invoice.credit_invoice_reference = credit.document_number
    invoice.updated_at = modified_now()
    return invoice


def email_invoice(tenant: Tenant, invoice: Invoice) -> None:
    if invoice.cancelled:
        raise errors.bad_request(errors.SIM_INVALID_STATE, "fakturan är makulerad")
    info = invoice.get("EmailInformation")
    address = info.get("EmailAddressTo") if isinstance(info, dict) else None
    customer = tenant.customers.get(invoice.customer_number)
    if not address and customer is not None:
        address = customer.fields.get("EmailInvoice") or customer.fields.get("Email")
    if not address:
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "EmailAddressTo")
    invoice.emails.append(str(address))
    invoice.sent = True
    invoice.updated_at = modified_now()


def _find(request: web.Request) -> Invoice:
    raw = request.match_info["number"]
    invoice = keys.tenant(request).invoices.get(int(raw)) if raw.isdigit() else None
    if invoice is None:
        raise errors.not_found(errors.INVOICE_NOT_FOUND)
    return invoice


def _one(request: web.Request, invoice: Invoice, status: int = 200) -> web.Response:
    return json_response({"Invoice": invoice_json(invoice, keys.base_url(request))}, status)


async def list_invoices(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    chosen = select(list(tenant.invoices.values()), request.query, INVOICE_LIST)
    base = keys.base_url(request)
    return json_response(
        page(chosen, request.query, "Invoices", lambda i: invoice_list_row(i, base))
    )


async def post_invoice(request: web.Request) -> web.Response:
    body = await read_envelope(request, "Invoice")
    return _one(request, create_invoice(keys.tenant(request), body), status=201)


async def get_invoice(request: web.Request) -> web.Response:
    return _one(request, _find(request))


async def put_invoice(request: web.Request) -> web.Response:
    invoice = _find(request)
    body = await read_envelope(request, "Invoice")
    update_invoice(keys.tenant(request), invoice, body)
    return _one(request, invoice)


async def email_action(request: web.Request) -> web.Response:
    invoice = _find(request)
    email_invoice(keys.tenant(request), invoice)
    return _one(request, invoice)


async def invoice_action(request: web.Request) -> web.Response:
    invoice = _find(request)
    action = request.match_info["action"]
    if action == "bookkeep":
        if invoice.booked or invoice.cancelled:
            raise errors.bad_request(errors.SIM_INVALID_STATE, "bokförd eller makulerad")
        invoice.booked = True
    elif action == "cancel":
        if invoice.booked or invoice.cancelled:
            raise errors.bad_request(errors.SIM_INVALID_STATE, "bokförd eller makulerad")
        if invoice.paid:
            raise errors.bad_request(errors.SIM_INVOICE_HAS_PAYMENTS)
        invoice.cancelled = True
    elif action == "credit":
        credit_invoice(keys.tenant(request), invoice)
    else:
        raise errors.not_found(errors.SIM_NOT_FOUND, action)
    invoice.updated_at = modified_now()
    return _one(request, invoice)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/invoices", list_invoices)
    app.router.add_post("/3/invoices", post_invoice)
    app.router.add_get("/3/invoices/{number}", get_invoice)
    app.router.add_put("/3/invoices/{number}", put_invoice)
    app.router.add_get("/3/invoices/{number}/email", email_action)
    app.router.add_put("/3/invoices/{number}/{action}", invoice_action)
