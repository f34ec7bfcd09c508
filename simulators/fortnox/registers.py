"""The company's registers the pre-flight check reads: accounts, modes and terms of payment,
currencies and VAT rates.

- ``GET /3/accounts`` (scope bookkeeping): ``{"Accounts": [{"Number", "Description", "Active",
  "VATCode", "Year", "@url"}], "MetaInformation"}``; paging as every list (``limit`` up to 500).
  ``GET /3/accounts/{Number}``; unknown -> 404 code 2000423 ("Kan inte hitta kontot.").
- ``GET /3/modesofpayments`` (scope settings): ``{"ModesOfPayments": [{"Code", "Description",
  "AccountNumber", "@url"}]}``. ``POST /3/modesofpayments`` ``{"ModeOfPayment": {"Code",
  "Description", "AccountNumber"}}`` -> 201; Code and Description are required (2999007), a code
  in use answers 400 (2999019, simulator-chosen), an AccountNumber the chart lacks 400 code
  2000423.
- ``GET /3/termsofpayments`` (scope settings): ``{"TermsOfPayments": [{"Code", "Description",
  "@url"}]}``.
- ``GET /3/currencies`` (scope currency): ``{"Currencies": [{"Code", "Description",
  "BuyRate", "SellRate", "Date", "Unit", "@url"}]}`` (rows as ``/3/currencies/{Code}``,
  simulators/fortnox/currencies.py).
- ``GET /3/vatcodes`` (scope bookkeeping): ``{"VATCodes": [{"Code", "Description", "VAT"}]}``,
  one row per VAT rate the company can put on a document row. UNCONFIRMED: no public source
  shows a Fortnox endpoint that lists a company's VAT rates (OSS rates are set up in Fortnox's
  settings); the simulator offers this read so the pre-flight check can be tested, and the
  check treats a 404 from a real Fortnox as "cannot read the rates" (docs/simulators.md).

Controls: ``POST /_sim/tenants/{id}/vat_rates`` (exists) adds or removes rates;
``POST /_sim/tenants/{id}/accounts`` ``{"number", "description"?, "active"?, "vat_code"?}`` adds
or changes an account.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Tenant
from simulators.fortnox.currencies import currency_json
from simulators.fortnox.listing import page
from simulators.fortnox.wire import json_response, number_text, read_envelope

SWEDISH_VAT_CODES = {Decimal("25"): "MP1", Decimal("12"): "MP2", Decimal("6"): "MP3"}
CURRENCY_NAMES = {
    "SEK": "Svenska kronor",
    "EUR": "Euro",
    "USD": "Amerikanska dollar",
    "NOK": "Norska kronor",
    "DKK": "Danska kronor",
    "GBP": "Brittiska pund",
}


def vat_code(rate: Decimal) -> str:
    if rate == 0:
        return "MF"
    return SWEDISH_VAT_CODES.get(rate, f"OSS{number_text(rate)}")


def _url(request: web.Request, path: str) -> str:
    return f"{keys.base_url(request)}{path}"


async def list_accounts(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)

    def row(number: int) -> dict[str, Any]:
        description, active, code = tenant.accounts[number]
        return {
            "@url": _url(request, f"/3/accounts/{number}"),
            "Number": number,
            "Description": description,
            "Active": active,
            "VATCode": code,
            "Year": 1,
        }

    chart = sorted(n for n in tenant.accounts if tenant.has_account(n))
    return json_response(page(chart, request.query, "Accounts", row))


async def get_account(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    raw = request.match_info["number"]
    if not raw.isdigit() or not tenant.has_account(raw):
        raise errors.not_found(errors.ACCOUNT_NOT_FOUND)
    number = int(raw)
    description, active, code = tenant.accounts[number]
    account = {"Number": number, "Description": description, "Active": active, "VATCode": code}
    return json_response({"Account": account})


async def list_modes(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)

    def row(code: str) -> dict[str, Any]:
        description, account = tenant.modes_of_payment[code]
        return {
            "@url": _url(request, f"/3/modesofpayments/{code}"),
            "Code": code,
            "Description": description,
            "AccountNumber": account,
        }

    return json_response(
        page(sorted(tenant.modes_of_payment), request.query, "ModesOfPayments", row)
    )


async def post_mode(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    body = await read_envelope(request, "ModeOfPayment")
    code, description = body.get("Code"), body.get("Description")
    if not isinstance(code, str) or not code.strip():
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Code")
    if not isinstance(description, str) or not description.strip():
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Description")
    if code in tenant.modes_of_payment:
        raise errors.bad_request(errors.SIM_CODE_USED, "Code")
    account = body.get("AccountNumber", 1930)
    try:
        account = int(account)
    except (TypeError, ValueError):
        raise errors.bad_request(errors.NOT_NUMERIC, "AccountNumber") from None
    if not tenant.has_account(account):
        raise errors.bad_request(errors.ACCOUNT_NOT_FOUND, "AccountNumber")
    tenant.modes_of_payment[code] = (description, account)
    mode = {"Code": code, "Description": description, "AccountNumber": account}
    return json_response({"ModeOfPayment": mode}, status=201)


async def list_terms(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)

    def row(code: str) -> dict[str, Any]:
        return {
            "@url": _url(request, f"/3/termsofpayments/{code}"),
            "Code": code,
            "Description": tenant.terms_of_payment[code],
        }

    return json_response(
        page(sorted(tenant.terms_of_payment), request.query, "TermsOfPayments", row)
    )


async def list_currencies(request: web.Request) -> web.Response:
    """The company's currencies, paged like every list, each as ``/3/currencies/{Code}``."""
    tenant, base = keys.tenant(request), keys.base_url(request)

    def row(code: str) -> dict[str, Any]:
        return currency_json(tenant, code, base)

    return json_response(page(sorted(tenant.currencies), request.query, "Currencies", row))


async def list_vat_codes(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)

    def row(rate: Decimal) -> dict[str, Any]:
        return {"Code": vat_code(rate), "Description": f"Moms {number_text(rate)} %", "VAT": rate}

    return json_response(page(sorted(tenant.vat_rates), request.query, "VATCodes", row))


def set_account(tenant: Tenant, body: dict[str, Any]) -> None:
    """The control: add or change an account (``number``, ``description``, ``active``)."""
    number = int(body["number"])
    if not 1000 <= number <= 9999:
        raise ValueError("an account number is 1000..9999")
    old = tenant.accounts.get(number, (f"Konto {number}", True, ""))
    tenant.accounts[number] = (
        str(body.get("description", old[0])),
        bool(body.get("active", old[1])),
        str(body.get("vat_code", old[2])),
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/accounts", list_accounts)
    app.router.add_get("/3/accounts/{number}", get_account)
    app.router.add_get("/3/modesofpayments", list_modes)
    app.router.add_post("/3/modesofpayments", post_mode)
    app.router.add_get("/3/termsofpayments", list_terms)
    app.router.add_get("/3/currencies", list_currencies)
    app.router.add_get("/3/vatcodes", list_vat_codes)
