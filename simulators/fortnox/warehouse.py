"""The warehouse module (Fortnox Lager): ``GET /api/warehouse/stockpoints-v1``.

A company with the module active keeps stock per stock point and changes it only through
warehouse documents (deliveries, stock taking, custom inbound/outbound); an article's
QuantityInStock is then not writable through ``/3/articles`` (articles.py answers 400). Whether a
company has the module is what an integration can learn from this endpoint: the list of stock
points when active, an error when not (the simulator answers 400 code 2999008; the
real code is not documented). The token needs the ``warehouse`` scope (403 code 2000663).
"""

from __future__ import annotations

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox.wire import json_response

WAREHOUSE_SCOPE = "warehouse"


async def list_stock_points(request: web.Request) -> web.Response:
    if WAREHOUSE_SCOPE not in keys.caller(request).scopes:
        raise errors.ApiError(403, errors.NO_SCOPE_ACCESS, WAREHOUSE_SCOPE)
    tenant = keys.tenant(request)
    if not tenant.warehouse_module:
        raise errors.bad_request(errors.SIM_WAREHOUSE_INACTIVE)
    points = [
        {"id": index, "code": code, "name": name, "active": True}
        for index, (code, name) in enumerate(sorted(tenant.stock_points.items()), start=1)
    ]
    return json_response(points)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/warehouse/stockpoints-v1", list_stock_points)
