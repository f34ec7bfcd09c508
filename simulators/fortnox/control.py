"""``/_sim/...`` control endpoints: drive a simulator running in another process.

No authentication, no rate limit, never faulted, not recorded. JSON in, JSON out; bad input
answers 400 ``{"error": "..."}``, an unknown tenant 404.

=======  ====================================  ==================================================
POST     /_sim/clients                         {client_id, client_secret, scopes?, redirect_uris?}
POST     /_sim/tenants                         {tenant_id, company_name?, vat_rates?, currencies?,
                                               scopes?, organization_number?, round_to_whole_sek?,
                                               vat_rounding? (per_rate | per_row)}
POST     /_sim/tokens                          {client_id, tenant_id, scopes?} -> token response
POST     /_sim/authorization_codes             {client_id, tenant_id, redirect_uri, scopes?}
GET      /_sim/faults                          -> {"faults": [...]}
POST     /_sim/faults                          {kind, path_regex, method?, times?, delay?,
                                               status?, tenant_id?} -> 201 {id, ...}
DELETE   /_sim/faults                          remove all faults
DELETE   /_sim/faults/{id}                     remove one fault
GET      /_sim/tenants/{id}/{collection}       full documents; collection = invoices | orders |
                                               customers | articles | payments
GET      /_sim/requests?tenant_id=&since=      -> {"now": clock, "requests": [...]}
POST     /_sim/tenants/{id}/vat_rates          {vat_rates: [25, 12, 6, 0]}
POST     /_sim/tenants/{id}/accounts           {number, description?, active?, vat_code?}
POST     /_sim/tenants/{id}/currency_rates     {currency, date, rate} the day's automatic rate
POST     /_sim/tenants/{id}/licences           {scope, enabled}
POST     /_sim/tenants/{id}/expire_tokens      expire current access tokens
POST     /_sim/tenants/{id}/revoke             revoke all tokens of the tenant
POST     /_sim/consent_tenant                  {tenant_id, deny?} tenant for /oauth-v1/auth
POST     /_sim/rate_limit                      {rate_limit (null = off), rate_window?}
POST     /_sim/jitter                          {jitter: seconds} random delay on every request
POST     /_sim/tenants/{id}/vat_rounding       {vat_rounding: per_rate | per_row}
POST     /_sim/tenants/{id}/warehouse          {active, stock_points?} the warehouse module on/off
POST     /_sim/tenants/{id}/articles/{n}/stock {quantity} the merchant edits stock in Fortnox
GET      /_sim/stats                           counters (refresh_count, refresh_reuse_count, ...)
=======  ====================================  ==================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox import keys, registers
from simulators.fortnox._state import Tenant
from simulators.fortnox.articles import article_json, set_stock
from simulators.fortnox.customers import customer_json
from simulators.fortnox.payments import payment_json
from simulators.fortnox.simulator import FortnoxSimulator, check_vat_rounding
from simulators.fortnox.wire import json_response, loads

ControlHandler = Callable[[web.Request, FortnoxSimulator, dict[str, Any]], Any]


class _BadInput(Exception):
    pass


def _endpoint(fn: ControlHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = loads(raw.decode("utf-8")) if raw.strip() else {}
            if not isinstance(body, dict):
                raise _BadInput("body must be a JSON object")
            result = fn(request, keys.simulator(request), body)
        except web.HTTPException:
            raise
        except (_BadInput, ValueError, KeyError, TypeError) as exc:
            return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)
        if isinstance(result, web.Response):
            return result
        return json_response(result if result is not None else {"ok": True})

    return handler


def _tenant(request: web.Request, sim: FortnoxSimulator) -> Tenant:
    tenant = sim.tenants.get(request.match_info["tenant_id"])
    if tenant is None:
        raise web.HTTPNotFound(text='{"error": "unknown tenant"}', content_type="application/json")
    return tenant


def _float(value: Any, default: float) -> float:
    return default if value is None else float(value)


def add_client(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    client = sim.add_client(
        str(body["client_id"]), str(body["client_secret"]), body.get("scopes"),
        body.get("redirect_uris"),
    )  # fmt: skip
    return json_response({"client_id": client.client_id}, 201)


def add_tenant(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    tenant = sim.add_tenant(
        str(body["tenant_id"]),
        str(body.get("company_name", "Demo AB")),
        vat_rates=body.get("vat_rates"),
        currencies=body.get("currencies"),
        scopes=body.get("scopes"),
        organization_number=body.get("organization_number"),
        round_to_whole_sek=bool(body.get("round_to_whole_sek", False)),
        vat_rounding=body.get("vat_rounding"),
    )
    return json_response({"tenant_id": tenant.tenant_id}, 201)


def issue_tokens(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    return sim.issue_tokens(str(body["client_id"]), str(body["tenant_id"]), body.get("scopes"))


def issue_code(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    code = sim.issue_authorization_code(
        str(body["client_id"]), str(body["tenant_id"]), str(body["redirect_uri"]),
        body.get("scopes"),
    )  # fmt: skip
    return {"code": code}


def list_faults(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    return {"faults": [fault.describe() for fault in sim.faults]}


def add_fault(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    fault = sim.faults.add(
        method=body.get("method"),
        path_regex=str(body.get("path_regex", ".*")),
        kind=str(body["kind"]),
        times=None if body.get("times", 1) is None else int(body.get("times", 1)),
        delay=_float(body.get("delay"), 0.0),
        status=int(body.get("status", 503)),
        tenant_id=body.get("tenant_id"),
    )
    return json_response(fault.describe(), 201)


def clear_faults(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    sim.faults.clear()


def remove_fault(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    if not sim.faults.remove(int(request.match_info["fault_id"])):
        raise web.HTTPNotFound(text='{"error": "unknown fault"}', content_type="application/json")


def tenant_collection(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    tenant = _tenant(request, sim)
    base = keys.base_url(request)
    collection = request.match_info["collection"]
    if collection == "invoices":
        return {"Invoices": [i.to_json(base) for i in tenant.invoices.values()]}
    if collection == "orders":
        return {"Orders": [o.to_json(base) for o in tenant.orders.values()]}
    if collection == "customers":
        return {"Customers": [customer_json(c, base) for c in tenant.customers.values()]}
    if collection == "articles":
        return {"Articles": [article_json(a, base) for a in tenant.articles.values()]}
    if collection == "payments":
        return {
            "InvoicePayments": [payment_json(tenant, p, base) for p in tenant.payments.values()]
        }
    raise web.HTTPNotFound(text='{"error": "unknown collection"}', content_type="application/json")


def list_requests(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    since = request.query.get("since")
    records = sim.requests_for(request.query.get("tenant_id"), float(since) if since else None)
    return {"now": sim.clock(), "requests": [dataclasses.asdict(r) for r in records]}


def set_vat_rates(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    sim.set_vat_rates(_tenant(request, sim).tenant_id, body["vat_rates"])


def set_account(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    try:
        registers.set_account(_tenant(request, sim), body)
    except (KeyError, TypeError, ValueError) as exc:
        raise _BadInput(f"an account needs a number 1000..9999: {exc}") from None


def set_currency_rate(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    sim.set_daily_rate(
        _tenant(request, sim).tenant_id,
        str(body["currency"]),
        str(body["date"]),
        Decimal(str(body["rate"])),
    )


def set_licence(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    sim.set_licence(_tenant(request, sim).tenant_id, str(body["scope"]), bool(body["enabled"]))


def expire_tokens(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    return {"expired": sim.expire_access_tokens(_tenant(request, sim).tenant_id)}


def revoke_tenant(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    return {"revoked": sim.revoke(_tenant(request, sim).tenant_id)}


def consent_tenant(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    tenant_id = body.get("tenant_id")
    if tenant_id is not None and str(tenant_id) not in sim.tenants:
        raise _BadInput(f"unknown tenant {tenant_id}")
    sim.default_tenant_for_consent = None if tenant_id is None else str(tenant_id)
    sim.deny_consent = bool(body.get("deny", False))


def set_rate_limit(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    limit = body.get("rate_limit")
    sim.limiter.limit = None if limit is None else int(limit)
    sim.limiter.window = _float(body.get("rate_window"), sim.limiter.window)
    sim.limiter.reset()


def set_jitter(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    jitter = float(body["jitter"])
    if jitter < 0:
        raise _BadInput("jitter must be >= 0")
    sim.jitter = jitter


def set_vat_rounding(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    _tenant(request, sim).vat_rounding = check_vat_rounding(str(body["vat_rounding"]))


def set_warehouse(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    """Turn the company's warehouse module on or off (and name its stock points)."""
    tenant = _tenant(request, sim)
    tenant.warehouse_module = bool(body["active"])
    points = body.get("stock_points")
    if points is not None:
        tenant.stock_points = {str(code): str(name) for code, name in dict(points).items()}
    return {"active": tenant.warehouse_module, "stock_points": tenant.stock_points}


def set_article_stock(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    """The merchant edits an article's stock in Fortnox (lastmodified moves)."""
    tenant = _tenant(request, sim)
    quantity = Decimal(str(body["quantity"]))
    article = set_stock(tenant, request.match_info["number"], quantity)
    return {"Article": article_json(article, keys.base_url(request))}


def stats(request: web.Request, sim: FortnoxSimulator, body: dict[str, Any]) -> Any:
    return {
        "refresh_count": sim.refresh_count,
        "refresh_reuse_count": sim.refresh_reuse_count,
        "count_429": sim.count_429,
        "requests": len(sim.requests),
        "rate_limit": sim.limiter.limit,
        "rate_window": sim.limiter.window,
        "jitter": sim.jitter,
        "tenants": sorted(sim.tenants),
        "clients": sorted(sim.clients),
    }


def add_routes(app: web.Application) -> None:
    routes: list[tuple[str, str, ControlHandler]] = [
        ("POST", "/_sim/clients", add_client),
        ("POST", "/_sim/tenants", add_tenant),
        ("POST", "/_sim/tokens", issue_tokens),
        ("POST", "/_sim/authorization_codes", issue_code),
        ("GET", "/_sim/faults", list_faults),
        ("POST", "/_sim/faults", add_fault),
        ("DELETE", "/_sim/faults", clear_faults),
        ("DELETE", "/_sim/faults/{fault_id}", remove_fault),
        ("GET", "/_sim/tenants/{tenant_id}/{collection}", tenant_collection),
        ("GET", "/_sim/requests", list_requests),
        ("POST", "/_sim/tenants/{tenant_id}/vat_rates", set_vat_rates),
        ("POST", "/_sim/tenants/{tenant_id}/currency_rates", set_currency_rate),
        ("POST", "/_sim/tenants/{tenant_id}/licences", set_licence),
        ("POST", "/_sim/tenants/{tenant_id}/accounts", set_account),
        ("POST", "/_sim/tenants/{tenant_id}/expire_tokens", expire_tokens),
        ("POST", "/_sim/tenants/{tenant_id}/revoke", revoke_tenant),
        ("POST", "/_sim/consent_tenant", consent_tenant),
        ("POST", "/_sim/rate_limit", set_rate_limit),
        ("GET", "/_sim/stats", stats),
        ("POST", "/_sim/jitter", set_jitter),
        ("POST", "/_sim/tenants/{tenant_id}/vat_rounding", set_vat_rounding),
        ("POST", "/_sim/tenants/{tenant_id}/warehouse", set_warehouse),
        ("POST", "/_sim/tenants/{tenant_id}/articles/{number}/stock", set_article_stock),
    ]
    for method, path, fn in routes:
        app.router.add_route(method, path, _endpoint(fn))
