"""``GET /admin/api/inventory/status.json`` (read_integrations): the caller's shop's inventory
sync: its source, when it last synced and checked, how much went each way, the echoes it
ignored, the compare-and-set retries, whether the Fortnox company uses the warehouse module,
the last error, the items it could not sync with the reason (the first 200), and whether the
shop granted the Shopify scopes inventory needs (``shopify_access``: else what to do and the
re-authorisation link)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.service import runtime_of
from libs.common.shopify_scopes import access, granted_scopes
from services.ingest.inventory import store
from services.ingest.inventory.sync import InventorySync

SYNC = web.AppKey("inventory_sync", list[InventorySync])
PATH = "/admin/api/inventory/status.json"


def _time(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


async def inventory_status(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_integrations")
    config = await store.config_of(runtime.pool, shop)
    row = await store.state(runtime.pool, shop)
    total, problems = await store.problems(runtime.pool, shop)
    state: dict[str, Any] = dict(row) if row is not None else {}
    answer = {
        "shop": shop,
        "source": config.source,
        "locations": {str(k): v for k, v in config.locations.items()},
        "enabled": runtime.settings.inventory_interval_seconds > 0,
        "interval_seconds": runtime.settings.inventory_interval_seconds,
        "last_sync_at": _time(state.get("last_sync_at")),
        "last_check_at": _time(state.get("last_check_at")),
        "fortnox_changes_since": _time(state.get("fortnox_since")),
        "counts": {
            "to_fortnox": state.get("to_fortnox", 0),
            "to_shopify": state.get("to_shopify", 0),
            "echoes_ignored": state.get("echoes_ignored", 0),
            "compare_retries": state.get("compare_retries", 0),
            "discrepancies": total,
        },
        "warehouse_module": state.get("warehouse_module"),
        "last_error": state.get("last_error"),
        # Inventory needs scopes SHOPIFY_SCOPES does not ask for: granted, or what to do.
        "shopify_access": access(
            runtime.settings, shop, "inventory", await granted_scopes(runtime.pool, shop)
        ),
        "discrepancies": problems,
    }
    return web.json_response({"inventory": answer})


def add_routes(app: web.Application) -> None:
    app[SYNC] = []
    app.router.add_get(PATH, inventory_status)
