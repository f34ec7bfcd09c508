"""The aiohttp application: Admin GraphQL endpoint plus the /_sim control endpoints."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._state import CALLER_TOKEN, RequestRecord
from .billing_routes import merchant_routes
from .control import control_routes
from .graphql import describe, execute
from .oauth import oauth_routes

if TYPE_CHECKING:
    from .simulator import ShopifySimulator

SIM_KEY: web.AppKey[ShopifySimulator] = web.AppKey("shopify_simulator")
GRAPHQL_PATH = "/shops/{shop}/admin/api/{version}/graphql.json"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_VERSION_RE = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")


def _json(body: Any, status: int = 200, **headers: str) -> web.Response:
    return web.json_response(body, status=status, headers=headers or None)


async def graphql_handler(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM_KEY]
    domain = request.match_info["shop"].lower()
    version = request.match_info["version"]
    raw = await request.read()
    body: Any
    if request.content_type == "application/graphql":
        body = {"query": raw.decode("utf-8", "replace")}
    else:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
    label, names = describe(body)

    def record(status: int, fault: str | None = None, **costs: Any) -> None:
        sim.requests.append(
            RequestRecord(
                time=time.time(),
                shop=domain,
                operation=label,
                root_fields=names,
                cost=costs.get("cost", 0),
                requested_cost=costs.get("requested_cost", 0),
                throttled=costs.get("throttled", False),
                status=status,
                fault=fault,
            )
        )

    fault = sim.faults.take(domain, {n for n in (label, *names) if n})
    if fault is not None and fault.kind == "drop":
        record(0, "drop")
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing more to answer on an aborted connection
    if fault is not None and fault.kind == "status":
        record(fault.status, "status")
        return _json({"errors": f"Simulated fault: HTTP {fault.status}"}, fault.status)
    if fault is not None and fault.kind == "delay":
        await asyncio.sleep(fault.delay)
    shop = sim.shops.get(domain)
    if shop is None or not _VERSION_RE.match(version):
        record(404, fault.kind if fault else None)
        return _json({"errors": "Not Found"}, 404)
    token = request.headers.get("X-Shopify-Access-Token", "")
    if not shop.accepts(token):
        record(401, fault.kind if fault else None)
        return _json({"errors": INVALID_TOKEN}, 401)
    CALLER_TOKEN.set(token)  # what the token was granted decides what it reads (read_all_orders)
    result = execute(shop, body, sim.now, sim.billing)
    sim.send_billing_webhooks()
    record(
        result.status,
        fault.kind if fault else None,
        cost=result.actual_cost,
        requested_cost=result.requested_cost,
        throttled=result.throttled,
    )
    if fault is not None and fault.kind == "late":
        await asyncio.sleep(fault.delay)  # done (and recorded) already; the answer comes late
    return _json(
        result.body,
        result.status,
        **{"X-Shopify-API-Version": version, "X-Request-Id": str(uuid.uuid4())},
    )


def create_app(sim: ShopifySimulator) -> web.Application:
    app = web.Application()
    app[SIM_KEY] = sim
    app.router.add_post(GRAPHQL_PATH, graphql_handler)
    app.router.add_routes(control_routes(sim))
    app.router.add_routes(oauth_routes(sim))
    app.router.add_routes(merchant_routes(sim))
    return app
