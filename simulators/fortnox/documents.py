"""What invoices and orders share: header defaults, row validation, totals and JSON shapes.

Validation on create/update (all before anything is stored):
CustomerNumber must exist (400, 2000433); Currency must be one of the tenant's currencies;
each row must be an object (2002649), at most 500 rows; a row's ArticleNumber must exist
(400, 2000428); a row's VAT (given, else the article's, else 25) must be one of the tenant's VAT
rates (400, "Kunde inte hitta moms", code 2000728 unconfirmed); a TermsOfPayment the company's
register lacks is refused (400 "Kan inte hitta betalningsvillkoret. (CODE)", simulator-chosen
code 2999020), on customers too.

Output follows recorded real responses, including their quirks: DocumentNumber,
CustomerNumber, references (CreditInvoiceReference, OrderReference, InvoiceReference) and row
quantities are strings, ``Credit`` is the STRING "true"/"false", money is numeric.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulators.fortnox import errors
from simulators.fortnox.schema import Schema, names
from simulators.fortnox.totals import ZERO, DocumentTotals, RowInput, RowTotals, compute_totals
from simulators.fortnox.wire import number_text

if TYPE_CHECKING:
    from simulators.fortnox._state import Customer, Invoice, Order, Tenant

MAX_ROWS = 500
DEFAULT_VAT = Decimal("25")
SALES_ACCOUNT_BY_VAT = {Decimal("25"): 3001, Decimal("12"): 3002, Decimal("6"): 3003}
VAT_CODE_BY_VAT = {Decimal("25"): "MP1", Decimal("12"): "MP2", Decimal("6"): "MP3"}
_CUSTOMER_COPIED = ("Address1", "Address2", "City", "ZipCode", "Country", "Phone1",
                    "OrganisationNumber")  # fmt: skip


def clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop fields set to ``None`` (a null clears a field back to its default)."""
    return {k: v for k, v in fields.items() if v is not None}


def next_number(existing: dict[int, Any]) -> int:
    return max(existing, default=0) + 1


def ocr_for(number: int) -> str:
    """Document number plus a Luhn check digit (Swedish OCR style)."""
    digits = [int(d) for d in str(number)]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        value = digit * 2 if i % 2 == 0 else digit
        total += value - 9 if value > 9 else value
    return f"{number}{(10 - total % 10) % 10}"


def document_date(header: dict[str, Any]) -> date:
    """The date a document's automatic currency rate is taken from: its own date, else today."""
    for name in ("InvoiceDate", "OrderDate"):
        value = header.get(name)
        if value:
            try:
                return date.fromisoformat(str(value))
            except ValueError:
                break
    return date.today()


def check_terms_of_payment(tenant: Tenant, fields: dict[str, Any]) -> None:
    """A ``TermsOfPayment`` the company's register lacks is refused (customers and documents;
    the code is simulator-chosen: docs/simulators.md)."""
    code = fields.get("TermsOfPayment")
    if code not in (None, "") and str(code) not in tenant.terms_of_payment:
        raise errors.bad_request(errors.SIM_TERMS_OF_PAYMENT_NOT_FOUND, str(code))


def resolve_header(tenant: Tenant, header: dict[str, Any]) -> tuple[dict[str, Any], Customer]:
    """Check the customer and currency and fill Fortnox's defaults (mutates ``header``)."""
    number = header.get("CustomerNumber")
    if not number:
        raise errors.bad_request(errors.CUSTOMER_NOT_FOUND, "CustomerNumber saknas")
    customer = tenant.customers.get(number)
    if customer is None:
        raise errors.bad_request(errors.CUSTOMER_NOT_FOUND, number)
    currency = str(header.get("Currency") or customer.currency).upper()
    if currency not in tenant.currencies:
        raise errors.bad_request(errors.SIM_CURRENCY_NOT_FOUND, currency)
    header["Currency"] = currency
    if header.get("CurrencyRate") is None:
        rate = tenant.rate_on(currency, document_date(header))
        header["CurrencyRate"] = rate if rate is not None else Decimal("1")
    header.setdefault("CurrencyUnit", Decimal("1"))
    header.setdefault("VATIncluded", bool(customer.fields.get("ShowPriceVATIncluded", False)))
    header.setdefault("CustomerName", customer.name)
    for name in _CUSTOMER_COPIED:
        if name not in header and customer.fields.get(name) is not None:
            header[name] = customer.fields[name]
    check_terms_of_payment(tenant, header)
    header.setdefault("TermsOfPayment", customer.fields.get("TermsOfPayment") or "30")
    header.setdefault("Freight", ZERO)
    header.setdefault("AdministrationFee", ZERO)
    header.setdefault("Language", "SV")
    return header, customer


def due_date(invoice_date: str, terms: str) -> str:
    days = int(terms) if terms.isdigit() else 30
    return (date.fromisoformat(invoice_date) + timedelta(days=days)).isoformat()


def build_rows(tenant: Tenant, raw: Any, schema: Schema, *, ordered: bool) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise errors.bad_request(errors.BAD_DATA_STRUCTURE, schema.entity)
    if len(raw) > MAX_ROWS:
        raise errors.bad_request(errors.SIM_TOO_MANY_ROWS, f"{len(raw)} rader")
    rows: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise errors.bad_request(errors.BAD_DATA_STRUCTURE, schema.entity)
        row = clean(schema.parse(item))
        article = None
        if row.get("ArticleNumber"):
            article = tenant.articles.get(row["ArticleNumber"])
            if article is None:
                raise errors.bad_request(errors.ARTICLE_NOT_FOUND, row["ArticleNumber"])
            row.setdefault("Description", article.fields.get("Description", ""))
            if article.fields.get("Unit"):
                row.setdefault("Unit", article.fields["Unit"])
        text_only = article is None and "Price" not in row and "VAT" not in row
        vat = row.get("VAT")
        if vat is None:
            vat = article.vat if article is not None and article.vat is not None else DEFAULT_VAT
        if vat not in tenant.vat_rates and not text_only:
            raise errors.bad_request(errors.VAT_NOT_FOUND, f"{number_text(vat)} %")
        row["VAT"] = vat
        row.setdefault("Price", ZERO)
        row.setdefault("Discount", ZERO)
        row.setdefault("DiscountType", "PERCENT")
        if ordered:
            row.setdefault("OrderedQuantity", ZERO)
            row.setdefault("DeliveredQuantity", row["OrderedQuantity"])
        else:
            row.setdefault("DeliveredQuantity", ZERO)
        account = article.fields.get("SalesAccount") if article is not None else None
        row.setdefault("AccountNumber", account or SALES_ACCOUNT_BY_VAT.get(vat, 3004))
        if not text_only and not tenant.has_account(row["AccountNumber"]):
            raise errors.bad_request(errors.ACCOUNT_NOT_FOUND, str(row["AccountNumber"]))
        row.setdefault("VATCode", VAT_CODE_BY_VAT.get(vat, "MF"))
        row["RowId"] = tenant.allocate_row_id()
        rows.append(row)
    return rows


def compute(tenant: Tenant, header: dict[str, Any], rows: list[dict[str, Any]]) -> DocumentTotals:
    inputs = [
        RowInput(
            price=row["Price"],
            quantity=row["DeliveredQuantity"],
            vat=row["VAT"],
            discount=row["Discount"],
            discount_type=row["DiscountType"],
        )
        for row in rows
    ]
    return compute_totals(
        inputs,
        vat_included=bool(header.get("VATIncluded")),
        freight=header.get("Freight") or ZERO,
        administration_fee=header.get("AdministrationFee") or ZERO,
        round_to_whole=tenant.round_to_whole_sek and header.get("Currency") == "SEK",
        vat_rounding=tenant.vat_rounding,
    )


# --- JSON shapes -------------------------------------------------------------------------------
_HEADER_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(
        names(
            "Address1 Address2 City Comments CostCenter Country CustomerName DeliveryAddress1 "
            "DeliveryAddress2 DeliveryCity DeliveryCountry DeliveryName DeliveryZipCode "
            "ExternalInvoiceReference1 ExternalInvoiceReference2 OrganisationNumber OurReference "
            "Phone1 Phone2 Project Remarks TermsOfDelivery WayOfDelivery YourOrderNumber "
            "YourReference ZipCode"
        ),
        "",
    ),
    "DeliveryDate": None,
    "EUQuarterlyReport": False,
    "Labels": [],
    "Language": "SV",
    "NotCompleted": False,
    "PriceList": "A",
    "PrintTemplate": "st",
    "VATIncluded": False,
}


def _row_json(row: dict[str, Any], totals: RowTotals, ordered: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ArticleNumber": "",
        "CostCenter": "",
        "Description": "",
        "HouseWork": False,
        "Project": "",
        "Unit": "",
        **row,
        "DeliveredQuantity": number_text(row["DeliveredQuantity"]),
        "PriceExcludingVAT": totals.price_excluding_vat,
        "Total": totals.total,
        "TotalExcludingVAT": totals.total_excluding_vat,
    }
    if ordered:
        out["OrderedQuantity"] = number_text(row["OrderedQuantity"])
        out["ReservedQuantity"] = number_text(row.get("ReservedQuantity", ZERO))
    return dict(sorted(out.items()))


def _totals_json(totals: DocumentTotals) -> dict[str, Any]:
    return {
        "AdministrationFeeVAT": totals.administration_fee_vat,
        "FreightVAT": totals.freight_vat,
        "Gross": totals.gross,
        "Net": totals.net,
        "RoundOff": totals.round_off,
        "Total": totals.total,
        "TotalVAT": totals.total_vat,
    }


def invoice_json(inv: Invoice, base_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        **_HEADER_DEFAULTS,
        "InvoiceType": "INVOICE",
        "OCR": "",
        "PaymentWay": "",
        **clean(inv.fields),
        **_totals_json(inv.totals),
        "@url": f"{base_url}/3/invoices/{inv.document_number}",
        "Balance": inv.balance,
        "Booked": inv.booked,
        "Cancelled": inv.cancelled,
        "ContractReference": "0",
        "Credit": "true" if inv.credit else "false",
        "CreditInvoiceReference": str(inv.credit_invoice_reference),
        "DocumentNumber": str(inv.document_number),
        "FinalPayDate": inv.final_pay_date,
        "InvoiceReference": str(inv.invoice_reference),
        "InvoiceRows": [
            _row_json(row, totals, ordered=False)
            for row, totals in zip(inv.rows, inv.totals.rows, strict=True)
        ],
        "NoxFinans": False,
        "OfferReference": "0",
        "OrderReference": str(inv.order_reference),
        "Sent": inv.sent,
        "TotalToPay": inv.totals.total,
        "VoucherNumber": None,
        "VoucherSeries": None,
        "VoucherYear": None,
    }
    return dict(sorted(out.items()))


INVOICE_LIST_FIELDS = names(
    "@url Balance Booked Cancelled CostCenter Currency CurrencyRate CurrencyUnit CustomerName "
    "CustomerNumber DocumentNumber DueDate ExternalInvoiceReference1 ExternalInvoiceReference2 "
    "InvoiceDate InvoiceType NoxFinans OCR VoucherNumber VoucherSeries VoucherYear WayOfDelivery "
    "TermsOfPayment Project Sent Total FinalPayDate"
)


def invoice_list_row(inv: Invoice, base_url: str) -> dict[str, Any]:
    full = invoice_json(inv, base_url)
    row = {name: full.get(name) for name in INVOICE_LIST_FIELDS}
    row["CurrencyRate"] = number_text(inv.fields.get("CurrencyRate") or Decimal("1"))
    return row


def order_json(order: Order, base_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        **_HEADER_DEFAULTS,
        "CopyRemarks": False,
        "DeliveryState": "DELIVERY",
        "OrderType": "ORDER",
        **clean(order.fields),
        **_totals_json(order.totals),
        "@url": f"{base_url}/3/orders/{order.document_number}",
        "Cancelled": order.cancelled,
        "DocumentNumber": str(order.document_number),
        "InvoiceReference": str(order.invoice_reference),
        "OfferReference": "0",
        "OrderIsClosed": order.cancelled or order.invoice_reference != 0,
        "OrderRows": [
            _row_json(row, totals, ordered=True)
            for row, totals in zip(order.rows, order.totals.rows, strict=True)
        ],
        "Sent": False,
        "TotalToPay": order.totals.total,
    }
    return dict(sorted(out.items()))


ORDER_LIST_FIELDS = names(
    "@url Cancelled Currency CustomerName CustomerNumber DeliveryDate DocumentNumber "
    "ExternalInvoiceReference1 ExternalInvoiceReference2 OrderDate OrderType Project Sent Total"
)


def order_list_row(order: Order, base_url: str) -> dict[str, Any]:
    full = order_json(order, base_url)
    return {name: full.get(name) for name in ORDER_LIST_FIELDS}
