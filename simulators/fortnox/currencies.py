"""/3/currencies: the company's currencies and their rates of the day.

``GET /3/currencies`` lists them (paged, in registers.py, with these rows);
``GET /3/currencies/{Code}`` answers ``{"Currency": {Code, Description, BuyRate, SellRate, Date,
Unit, "@url"}}`` (404 code 2999006 for one the company lacks). The rates are the newest the
company has, dated by ``Date``: today's, or an earlier day's when the tenant's ``rates_dated``
says the newest is older (a weekend, a morning before the day's rates): the tenant's
``rate_on(code, that day)`` (SEK per unit), the same rate a document dated today gets; Fortnox
updates its rates daily from its bank feed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Tenant
from simulators.fortnox.wire import json_response


def currency_json(tenant: Tenant, code: str, base_url: str) -> dict[str, Any]:
    today = min(date.today(), tenant.rates_dated or date.today())  # the newest rate's day
    rate = tenant.rate_on(code, today) or Decimal("1")
    return {
        "@url": f"{base_url}/3/currencies/{code}",
        "BuyRate": rate,
        "Code": code,
        "Date": today.isoformat(),
        "Description": code,
        "SellRate": rate,
        "Unit": 1,
    }


async def get_currency(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    code = request.match_info["code"].upper()
    if code not in tenant.currencies:
        raise errors.not_found(errors.SIM_CURRENCY_NOT_FOUND, code)
    return json_response({"Currency": currency_json(tenant, code, keys.base_url(request))})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/currencies/{code}", get_currency)
