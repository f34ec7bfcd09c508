"""The reconciliation admin endpoints: the caller's shop's checkpoint and last run; run it now.

``GET /admin/api/integrations/fortnox/reconciliation.json`` (read_integrations) answers the
figures; ``POST`` (write_integrations) runs a round for the shop at once and answers them when
it finished within a few seconds (200), else 202 while it goes on; 409 when a run is already
going (on any replica), when the shop uninstalled the app or Fortbridge holds no token for it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.service import Runtime, runtime_of
from services.ingest import lifecycle
from services.ingest.reconcile import checkpoints
from services.ingest.reconcile.runner import BUSY, NOT_INSTALLED, Reconciler

RECONCILER = web.AppKey("reconciler", list[Reconciler])
PATH = "/admin/api/integrations/fortnox/reconciliation.json"
# How long POST waits for the run before answering 202.
RUN_NOW_WAIT_SECONDS = 10.0


async def _figures(runtime: Runtime, shop: str) -> dict[str, Any]:
    settings = runtime.settings
    status = await checkpoints.status(runtime.pool, shop)
    return {
        "shop": shop,
        "enabled": settings.reconcile_interval_seconds > 0,
        "interval_seconds": settings.reconcile_interval_seconds,
        "lookback_seconds": settings.reconcile_lookback_seconds,
        "checkpoint": None,
        "last_run": None,
        "orders_recovered_total": 0,
        "last_error": None,
        "last_error_at": None,
        **(status or {}),
    }


async def reconciliation_status(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(
        request, runtime.settings, runtime.pool, "read_integrations", "manage_apps"
    )
    return web.json_response({"reconciliation": await _figures(runtime, shop)})


async def reconcile_now(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(
        request, runtime.settings, runtime.pool, "write_integrations", "manage_apps"
    )
    await lifecycle.ensure_installed(runtime, shop)
    if await lifecycle.registry_of(runtime).access_token(shop) is None:
        return json_error(
            409,
            f"Fortbridge holds no Shopify access token for {shop}, so it cannot read its orders."
            " Install the app on the shop (again).",
        )
    outcome = await request.app[RECONCILER][0].run_now(shop, RUN_NOW_WAIT_SECONDS)
    if outcome == BUSY:
        return json_error(
            409,
            f"a reconciliation of {shop} is running already; follow it with GET {PATH}",
            reconciliation=await _figures(runtime, shop),
        )
    if outcome == NOT_INSTALLED:
        return json_error(409, f"{shop} has not installed Fortbridge: nothing is reconciled")
    figures = await _figures(runtime, shop)
    return web.json_response({"reconciliation": figures}, status=202 if outcome is None else 200)


def add_routes(app: web.Application) -> None:
    app[RECONCILER] = []
    app.router.add_get(PATH, reconciliation_status)
    app.router.add_post(PATH, reconcile_now)
