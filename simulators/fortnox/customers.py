"""/3/customers: list, create, read, update.

- ``GET /3/customers``: substring, case-insensitive search on email, name, organisationnumber,
  customernumber, city, zipcode, phone; ``filter`` = active | inactive. List rows carry a subset
  (CustomerNumber, Name, Email, OrganisationNumber, address, Phone, Currency, Active).
- ``POST /3/customers`` -> 201. CustomerNumber is auto-assigned ("1", "2", ... after the highest
  numeric number) when omitted; a number in use answers 400 code 2000637; characters outside
  ``[A-Za-z0-9_-+./]`` answer 400 code 2000359. Name is required.
- ``GET/PUT /3/customers/{CustomerNumber}``; unknown -> 404 code 2000433.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Customer, Tenant
from simulators.fortnox.documents import check_terms_of_payment, clean
from simulators.fortnox.listing import ListSpec, modified_now, page, select
from simulators.fortnox.schema import CUSTOMER, names
from simulators.fortnox.wire import json_response, read_envelope

VALID_NUMBER = re.compile(r"^[A-Za-z0-9_\-+./]+$")

CUSTOMER_LIST = ListSpec[Customer](
    searches={
        "customernumber": lambda c: c.customer_number,
        "name": lambda c: c.name,
        "email": lambda c: str(c.fields.get("Email") or ""),
        "organisationnumber": lambda c: str(c.fields.get("OrganisationNumber") or ""),
        "city": lambda c: str(c.fields.get("City") or ""),
        "zipcode": lambda c: str(c.fields.get("ZipCode") or ""),
        "phone": lambda c: str(c.fields.get("Phone1") or ""),
    },
    filters={
        "active": lambda c: c.fields.get("Active", True) is not False,
        "inactive": lambda c: c.fields.get("Active", True) is False,
    },
    modified=lambda c: c.updated_at,
    default_sort=lambda c: (
        (0, int(c.customer_number), "")
        if c.customer_number.isdigit()
        else (1, 0, c.customer_number)
    ),
)

_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(
        names(
            "Email EmailInvoice EmailInvoiceBCC EmailInvoiceCC EmailOffer EmailOfferBCC "
            "EmailOfferCC EmailOrder EmailOrderBCC EmailOrderCC ExternalReference GLN "
            "GLNDelivery InvoiceRemark OrganisationNumber OurReference Project "
            "TermsOfDelivery TermsOfPayment VATNumber WayOfDelivery WWW YourReference "
            "CostCenter"
        ),
        "",
    ),
    **dict.fromkeys(
        names(
            "Address1 Address2 City Comments Country CountryCode DeliveryAddress1 "
            "DeliveryAddress2 DeliveryCity DeliveryCountry DeliveryCountryCode DeliveryFax "
            "DeliveryName DeliveryPhone1 DeliveryPhone2 DeliveryZipCode Fax "
            "InvoiceAdministrationFee InvoiceDiscount InvoiceFreight Phone1 Phone2 "
            "SalesAccount VisitingAddress VisitingCity VisitingCountry VisitingCountryCode "
            "VisitingZipCode ZipCode"
        ),
        None,
    ),
    "Active": True,
    "Currency": "SEK",
    "PriceList": "A",
    "ShowPriceVATIncluded": False,
    "Type": "COMPANY",
    "VATType": "SEVAT",
}
LIST_FIELDS = names(
    "@url Active Address1 Address2 City Currency CustomerNumber Email GLN GLNDelivery Name "
    "OrganisationNumber Phone ZipCode"
)


def next_code(existing: dict[str, Any]) -> str:
    numbers = [int(k) for k in existing if k.isdigit()]
    return str(max(numbers, default=0) + 1)


def check_number(number: str) -> None:
    if not VALID_NUMBER.match(number):
        raise errors.bad_request(errors.INVALID_CHARACTERS, number)


def customer_json(customer: Customer, base_url: str) -> dict[str, Any]:
    out = {
        **_DEFAULTS,
        **clean(customer.fields),
        "@url": f"{base_url}/3/customers/{customer.customer_number}",
        "CustomerNumber": customer.customer_number,
    }
    return dict(sorted(out.items()))


def customer_list_row(customer: Customer, base_url: str) -> dict[str, Any]:
    full = customer_json(customer, base_url)
    row = {name: full.get(name) for name in LIST_FIELDS}
    row["Phone"] = full.get("Phone1") or ""
    return row


def create_customer(tenant: Tenant, body: dict[str, Any]) -> Customer:
    fields = clean(CUSTOMER.parse(body))
    number = fields.pop("CustomerNumber", None) or next_code(tenant.customers)
    check_number(number)
    if number in tenant.customers:
        raise errors.bad_request(errors.CUSTOMER_NUMBER_USED, number)
    if not fields.get("Name"):
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Name")
    check_terms_of_payment(tenant, fields)
    customer = Customer(number, fields)
    tenant.customers[number] = customer
    return customer


def _find(request: web.Request) -> Customer:
    customer = keys.tenant(request).customers.get(request.match_info["number"])
    if customer is None:
        raise errors.not_found(errors.CUSTOMER_NOT_FOUND)
    return customer


def _one(request: web.Request, customer: Customer, status: int = 200) -> web.Response:
    return json_response({"Customer": customer_json(customer, keys.base_url(request))}, status)


async def list_customers(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    chosen = select(list(tenant.customers.values()), request.query, CUSTOMER_LIST)
    base = keys.base_url(request)
    return json_response(
        page(chosen, request.query, "Customers", lambda c: customer_list_row(c, base))
    )


async def post_customer(request: web.Request) -> web.Response:
    body = await read_envelope(request, "Customer")
    return _one(request, create_customer(keys.tenant(request), body), status=201)


async def get_customer(request: web.Request) -> web.Response:
    return _one(request, _find(request))


async def put_customer(request: web.Request) -> web.Response:
    customer = _find(request)
    fields = CUSTOMER.parse(await read_envelope(request, "Customer"))
    fields.pop("CustomerNumber", None)
    merged = clean({**customer.fields, **fields})
    if not merged.get("Name"):
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Name")
    check_terms_of_payment(keys.tenant(request), fields)
    customer.fields = merged
    customer.updated_at = modified_now()
    return _one(request, customer)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/customers", list_customers)
    app.router.add_post("/3/customers", post_customer)
    app.router.add_get("/3/customers/{number}", get_customer)
    app.router.add_put("/3/customers/{number}", put_customer)
