"""/3/invoicepayments and /3/companyinformation.

Invoice payments:

- ``POST /3/invoicepayments`` ``{"InvoicePayment": {InvoiceNumber, Amount, AmountCurrency,
  CurrencyRate, PaymentDate, ModeOfPayment, ModeOfPaymentAccount, ...}}`` -> 201. The invoice
  must exist (400 code 2000434) and not be cancelled. Amount (SEK) is required; AmountCurrency
  is required when the invoice is not in SEK. The invoice's Balance drops by the amount in the
  invoice currency (AmountCurrency, or Amount for SEK); FinalPayDate is set when it reaches 0
  (and ``?filter=fullypaid`` lists it). Payments start unbooked.
  A credit invoice or negative invoice (negative Total) is settled by a NEGATIVE payment (money
  paid back to the customer). A payment whose sign is opposite to the invoice's open balance
  (to its Total once the balance is 0) is refused, 400 code 2999013 (simulator-chosen: the
  real code is unknown). Paying beyond the balance in the same direction is allowed.
- ``GET /3/invoicepayments`` (substring search ``invoicenumber``), ``GET /{Number}``,
  ``PUT /{Number}/bookkeep``, ``DELETE /{Number}`` (unbooked only; restores the balance).

``GET /3/companyinformation`` answers ``{"CompanyInformation": {CompanyName, DatabaseNumber (the
tenant id as int), OrganizationNumber, ...}}``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Payment, Tenant
from simulators.fortnox.documents import clean, next_number
from simulators.fortnox.listing import ListSpec, modified_now, page, select
from simulators.fortnox.schema import PAYMENT, names
from simulators.fortnox.wire import json_response, read_envelope

PAYMENT_LIST = ListSpec[Payment](
    searches={"invoicenumber": lambda p: str(p.invoice_number)},
    filters={},
    modified=lambda p: p.updated_at,
    default_sort=lambda p: p.number,
    dated=lambda p: str(p.fields.get("PaymentDate") or ""),
)
LIST_FIELDS = names(
    "@url Amount Booked Currency CurrencyRate CurrencyUnit InvoiceNumber Number PaymentDate Source"
)


def payment_json(tenant: Tenant, payment: Payment, base_url: str) -> dict[str, Any]:
    invoice = tenant.invoices.get(payment.invoice_number)
    out: dict[str, Any] = {
        "ExternalInvoiceReference1": "",
        "ExternalInvoiceReference2": "",
        "ModeOfPayment": "",
        "ModeOfPaymentAccount": None,
        "Source": "manual",
        "WriteOffs": [],
        **clean(payment.fields),
        "@url": f"{base_url}/3/invoicepayments/{payment.number}",
        "Amount": payment.amount,
        "AmountCurrency": payment.amount_currency,
        "Booked": payment.booked,
        "Currency": payment.currency,
        "CurrencyRate": payment.currency_rate,
        "CurrencyUnit": payment.currency_unit,
        "InvoiceCustomerName": invoice.get("CustomerName") if invoice else "",
        "InvoiceCustomerNumber": invoice.customer_number if invoice else "",
        "InvoiceDueDate": invoice.get("DueDate") if invoice else None,
        "InvoiceNumber": payment.invoice_number,
        "InvoiceOCR": invoice.get("OCR") if invoice else "",
        "InvoiceTotal": invoice.total if invoice else None,
        "Number": payment.number,
        "VoucherNumber": None,
        "VoucherSeries": None,
        "VoucherYear": None,
    }
    return dict(sorted(out.items()))


def create_payment(tenant: Tenant, body: dict[str, Any]) -> Payment:
    fields = clean(PAYMENT.parse(body))
    invoice_number = fields.pop("InvoiceNumber", None)
    if invoice_number is None:
        raise errors.bad_request(errors.INVOICE_NOT_FOUND, "InvoiceNumber saknas")
    invoice = tenant.invoices.get(invoice_number)
    if invoice is None:
        raise errors.bad_request(errors.INVOICE_NOT_FOUND, str(invoice_number))
    if invoice.cancelled:
        raise errors.bad_request(errors.SIM_INVALID_STATE, "fakturan är makulerad")
    amount = fields.pop("Amount", None)
    if amount is None:
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Amount")
    mode = fields.get("ModeOfPayment")
    if mode and mode not in tenant.modes_of_payment:
        raise errors.bad_request(errors.SIM_MODE_OF_PAYMENT_NOT_FOUND, str(mode))
    mode_account = fields.get("ModeOfPaymentAccount")
    if mode_account is not None and not tenant.has_account(mode_account):
        raise errors.bad_request(errors.ACCOUNT_NOT_FOUND, str(mode_account))
    amount_currency = fields.pop("AmountCurrency", None)
    if amount_currency is None:
        if invoice.currency != "SEK":
            raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "AmountCurrency")
        amount_currency = amount
    direction = invoice.balance or invoice.total
    if amount_currency * direction < 0 or amount * amount_currency < 0:
        raise errors.bad_request(
            errors.SIM_PAYMENT_SIGN, f"belopp {amount_currency}, saldo {invoice.balance}"
        )
    payment = Payment(
        number=next_number(tenant.payments),
        invoice_number=invoice_number,
        amount=amount,
        amount_currency=amount_currency,
        currency=invoice.currency,
        currency_rate=fields.pop("CurrencyRate", None) or invoice.get("CurrencyRate"),
        currency_unit=fields.pop("CurrencyUnit", None) or invoice.get("CurrencyUnit"),
        fields={"PaymentDate": date.today().isoformat(), **fields},
    )
    tenant.payments[payment.number] = payment
    invoice.paid += amount_currency
    invoice.final_pay_date = payment.fields["PaymentDate"] if invoice.balance == 0 else None
    invoice.updated_at = modified_now()
    return payment


def _find(request: web.Request) -> Payment:
    raw = request.match_info["number"]
    payment = keys.tenant(request).payments.get(int(raw)) if raw.isdigit() else None
    if payment is None:
        raise errors.not_found(errors.SIM_PAYMENT_NOT_FOUND)
    return payment


def _one(request: web.Request, payment: Payment, status: int = 200) -> web.Response:
    body = payment_json(keys.tenant(request), payment, keys.base_url(request))
    return json_response({"InvoicePayment": body}, status)


async def list_payments(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    chosen = select(list(tenant.payments.values()), request.query, PAYMENT_LIST)
    base = keys.base_url(request)

    def render(payment: Payment) -> dict[str, Any]:
        full = payment_json(tenant, payment, base)
        return {name: full.get(name) for name in LIST_FIELDS}

    return json_response(page(chosen, request.query, "InvoicePayments", render))


async def post_payment(request: web.Request) -> web.Response:
    body = await read_envelope(request, "InvoicePayment")
    return _one(request, create_payment(keys.tenant(request), body), status=201)


async def get_payment(request: web.Request) -> web.Response:
    return _one(request, _find(request))


async def bookkeep_payment(request: web.Request) -> web.Response:
    payment = _find(request)
    if payment.booked:
        raise errors.bad_request(errors.SIM_INVALID_STATE, "redan bokförd")
    payment.booked = True
    payment.updated_at = modified_now()
    return _one(request, payment)


async def delete_payment(request: web.Request) -> web.Response:
    payment = _find(request)
    if payment.booked:
        raise errors.bad_request(errors.SIM_INVALID_STATE, "bokförd inbetalning")
    tenant = keys.tenant(request)
    del tenant.payments[payment.number]
    invoice = tenant.invoices.get(payment.invoice_number)
    if invoice is not None:
        invoice.paid -= payment.amount_currency
        invoice.final_pay_date = None
        invoice.updated_at = modified_now()
    return web.Response(status=204)


async def company_information(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    info = {
        "Address": "Storgatan 1",
        "City": "Stockholm",
        "CountryCode": "SE",
        "DatabaseNumber": tenant.database_number,
        "CompanyName": tenant.company_name,
        "OrganizationNumber": tenant.organization_number,
        "VisitAddress": "",
        "VisitCity": "",
        "VisitCountryCode": "",
        "VisitZipCode": "",
        "ZipCode": "111 22",
    }
    return json_response({"CompanyInformation": info})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/invoicepayments", list_payments)
    app.router.add_post("/3/invoicepayments", post_payment)
    app.router.add_get("/3/invoicepayments/{number}", get_payment)
    app.router.add_delete("/3/invoicepayments/{number}", delete_payment)
    app.router.add_put("/3/invoicepayments/{number}/bookkeep", bookkeep_payment)
    app.router.add_get("/3/companyinformation", company_information)
