"""The request pipeline every non-``/_sim`` request goes through (one aiohttp middleware).

Order, per request:

0. Network jitter (``sim.jitter``, seconds): the request first waits a random 0..jitter s, as on
   its way over a real network; only then does it arrive (timestamp, rate limit). Requests can
   arrive in another order than they were sent.
1. Record it (``sim.requests``; the record is written when the request finishes, with the arrival
   time, the resolved client/tenant, the status produced and the fault applied).
2. ``/3/...`` and ``/api/warehouse/...`` only: authenticate ``Authorization: Bearer <access
   token>``; a missing, unknown, expired or revoked token answers 401
   ``{"message": "unauthorized"}``.
3. The same paths: rate limit per (client id, tenant); over the limit answers 429 (counted in
   ``sim.count_429``) without consuming budget.
4. Faults (see faults.py) wrap the rest.
5. ``/3/...`` only: scope of the token (403, code 2000663) and the tenant's licence for that
   scope (400, code 2001101).
6. The handler. ``ApiError``/``OAuthError`` become their JSON envelopes; the router's 404/405
   become ErrorInformation envelopes too.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from simulators.fortnox import errors
from simulators.fortnox._state import RequestRecord
from simulators.fortnox.faults import Fault
from simulators.fortnox.keys import CALLER_KEY, SIM_KEY, Caller
from simulators.fortnox.wire import error_response, json_response

if TYPE_CHECKING:
    from simulators.fortnox.simulator import FortnoxSimulator

SCOPE_BY_RESOURCE = {
    "companyinformation": "companyinformation",
    "customers": "customer",
    "articles": "article",
    "invoices": "invoice",
    "orders": "order",
    "invoicepayments": "payment",
    "vouchers": "bookkeeping",
    "accounts": "bookkeeping",
    "vatcodes": "bookkeeping",
    "modesofpayments": "settings",
    "termsofpayments": "settings",
    "currencies": "currency",
}


# Paths that need a Bearer token and count against the rate limit.
API_PREFIXES = ("/3/", "/api/warehouse/")


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/_sim"):
        return await handler(request)
    sim = request.app[SIM_KEY]
    delay = sim.jitter_delay()
    if delay > 0:
        await asyncio.sleep(delay)
    arrived = sim.clock()
    who = Caller()
    request[CALLER_KEY] = who
    status = 500
    try:
        response = await _admit(sim, request, handler, who)
        status = response.status
        return response
    finally:
        sim.requests.append(
            RequestRecord(
                time=arrived,
                tenant_id=who.tenant_id,
                client_id=who.client_id,
                method=request.method,
                path=request.path,
                status=status,
                fault=who.fault,
                query=request.query_string,
            )
        )


async def _admit(
    sim: FortnoxSimulator, request: web.Request, handler: Handler, who: Caller
) -> web.StreamResponse:
    if request.path.startswith(API_PREFIXES):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        access = sim.tokens.lookup_access(token.strip()) if scheme.lower() == "bearer" else None
        if access is None or access.tenant_id not in sim.tenants:
            return json_response(errors.UNAUTHORIZED_BODY, 401)
        who.client_id, who.tenant_id, who.scopes = access.client_id, access.tenant_id, access.scopes
        if not sim.limiter.try_acquire((access.client_id, access.tenant_id)):
            sim.count_429 += 1
            return json_response(errors.RATE_LIMITED_BODY, 429)
    fault = sim.faults.take(request.method, request.path, who.tenant_id)
    if fault is None:
        return await _handle(sim, request, handler, who)
    who.fault = fault.kind
    return await _faulted(sim, request, handler, who, fault)


async def _faulted(
    sim: FortnoxSimulator, request: web.Request, handler: Handler, who: Caller, fault: Fault
) -> web.StreamResponse:
    if fault.kind == "status":
        if fault.status == 429:
            return json_response(errors.RATE_LIMITED_BODY, 429)
        return error_response(errors.ApiError(fault.status, errors.SYSTEM_ERROR))
    if fault.kind in ("delay", "timeout"):
        await request.read()  # the request arrived whole; it is the answer that is late
        if not await sim.pause(fault.sleep_seconds):
            _abort(request)  # simulator stopping: give up without handling
            return web.Response(status=503)
    response = await _handle(sim, request, handler, who)
    if fault.kind == "delay_after_commit" and not await sim.pause(fault.delay):
        _abort(request)
    if fault.kind == "drop_after_commit":
        _abort(request)
    return response


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _handle(
    sim: FortnoxSimulator, request: web.Request, handler: Handler, who: Caller
) -> web.StreamResponse:
    try:
        if request.path.startswith("/3/"):
            _check_scope(sim, request.path, who)
        return await handler(request)
    except errors.ApiError as exc:
        return error_response(exc)
    except errors.OAuthError as exc:
        return json_response(exc.body(), exc.status)
    except web.HTTPNotFound:
        return error_response(errors.not_found(errors.SIM_NOT_FOUND, request.path))
    except web.HTTPMethodNotAllowed:
        return error_response(errors.ApiError(405, errors.SIM_METHOD_NOT_ALLOWED, request.method))


def _check_scope(sim: FortnoxSimulator, path: str, who: Caller) -> None:
    resource = path.split("/")[2]
    scope = SCOPE_BY_RESOURCE.get(resource)
    if scope is None:
        return
    if scope not in who.scopes:
        raise errors.ApiError(403, errors.NO_SCOPE_ACCESS, scope)
    assert who.tenant_id is not None
    if scope not in sim.tenant(who.tenant_id).licences:
        raise errors.bad_request(errors.NO_LICENCE, scope)
