"""Whether Fortbridge is installed on the caller's shop: the app's first checklist item.

``GET /admin/api/integrations/shopify/installation.json`` (``read_integrations``) answers the
installation's state (``installed``, ``uninstalled`` or ``not_installed``: no offline token was
ever stored), the scopes Shopify granted, those asked for but not granted, and in plain English
what the merchant should do when something is missing; and for each optional feature
(libs/common/shopify_scopes.py: inventory, payouts, all_orders) whether the shop's settings turn
it on, the scopes it needs, those not granted and, if any, what to do and the re-authorisation
link that asks for them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.service import runtime_of
from libs.common.shopify_scopes import FEATURES, access, features_on, missing_scopes
from services.ingest.lifecycle import registry_of

MEANING = {
    "installed": "Installed: Fortbridge receives the shop's orders, products and customers.",
    "uninstalled": "Uninstalled: nothing is synced for the shop any more.",
    "not_installed": "Not installed: Fortbridge holds no access to the shop yet.",
}


async def installation_status(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_integrations")
    found = await registry_of(runtime).installation(shop)
    status = "not_installed" if found is None else found.status
    body: dict[str, Any] = {"shop": shop, "status": status, "meaning": MEANING[status]}
    if found is not None:
        granted = [scope for scope in found.scopes.split(",") if scope.strip()]
        # An install that recorded no scopes (a token stored with the CLI) is not second-guessed.
        missing = missing_scopes(runtime.settings.shopify_scopes, found.scopes) if granted else []
        body.update(
            scopes=granted,
            missing_scopes=missing,
            installed_at=found.installed_at.isoformat(),
            uninstalled_at=found.uninstalled_at.isoformat() if found.uninstalled_at else None,
        )
        on = await features_on(runtime.pool, shop)
        body["features"] = {
            name: {**access(runtime.settings, shop, name, found.scopes), "on": name in on}
            for name in FEATURES
        }
        if missing and status == "installed":
            body["what_to_do"] = (
                f"Shopify granted fewer permissions than Fortbridge needs ({', '.join(missing)})."
                " Open the app from Shopify admin and approve the update it asks for."
            )
    if status != "installed":
        body["what_to_do"] = (
            "Install Fortbridge on the shop: open it from the Shopify App Store, or from Shopify"
            " admin (Apps), and approve the permissions it asks for."
        )
    return web.json_response({"installation": body})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/api/integrations/shopify/installation.json", installation_status)
