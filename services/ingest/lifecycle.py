"""What ingest itself does with app lifecycle and privacy webhooks, once they are stored.

The webhook route stores (and publishes) every verified delivery, these included; then it calls
:func:`apply`. app/uninstalled marks the shop uninstalled (its token is dropped), the privacy
topics act on ingest's tables (privacy.py). Every step is idempotent and runs again for a
redelivered duplicate, so a crash between storing and acting is finished by Shopify's retry.
:func:`ensure_installed` is the check admin endpoints make for an uninstalled shop.
"""

from __future__ import annotations

import json

from aiohttp import web

from libs.common.crypto import TokenCipher
from libs.common.logs import get_logger
from libs.common.service import Runtime
from libs.common.shops import ShopRegistry
from services.ingest import privacy
from services.ingest.webhook import WebhookDelivery

log = get_logger(__name__)

LIFECYCLE_TOPICS = frozenset(
    {"app/uninstalled", "customers/redact", "customers/data_request", "shop/redact"}
)


def registry_of(runtime: Runtime) -> ShopRegistry:
    keys = runtime.settings.token_encryption_keys.get_secret_value()
    return ShopRegistry(runtime.pool, TokenCipher(keys))


async def apply(runtime: Runtime, delivery: WebhookDelivery) -> None:
    """Ingest's own reaction to a stored delivery (nothing for most topics)."""
    if delivery.topic not in LIFECYCLE_TOPICS:
        return
    shop, payload = delivery.shop, delivery.payload
    if delivery.topic == "app/uninstalled":
        changed = await registry_of(runtime).uninstall(shop)
        log.info("shop uninstalled the app", shop=shop, changed=changed)
    elif delivery.topic == "customers/redact":
        await privacy.redact_customer(runtime.pool, shop, payload)
    elif delivery.topic == "customers/data_request":
        await privacy.report_customer(runtime.pool, shop, payload)
    else:
        await privacy.redact_shop(runtime.pool, registry_of(runtime), shop)


async def ensure_installed(runtime: Runtime, shop: str) -> None:
    """409 for a shop that uninstalled the app (shops never installed through the app, such as
    ones connected with the CLI before the install flow existed, are not refused)."""
    row = await runtime.pool.fetchrow(
        "SELECT status, uninstalled_at FROM shops.installations WHERE shop = $1", shop
    )
    if row is None or row["status"] == "installed":
        return
    when = row["uninstalled_at"]
    since = f" on {when:%Y-%m-%d %H:%M} UTC" if when is not None else ""
    raise web.HTTPConflict(
        text=json.dumps(
            {
                "error": f"{shop} uninstalled Fortbridge{since}: nothing is synced for it any"
                " more. Reinstall the app from the Shopify App Store to sync again.",
                "shop_status": "uninstalled",
            }
        ),
        content_type="application/json",
    )
