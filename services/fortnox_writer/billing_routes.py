"""The billing admin endpoints (docs/billing.md, docs/api.md):

- ``GET /admin/api/billing/usage.json`` (``read_integrations``): the plan, trial credits used and
  left, syncs billed this cycle, the amount used against the cap, and the work waiting on
  billing with why and how to continue.
- ``POST /admin/api/billing/subscription.json`` (``write_integrations``): start the usage
  charges; answers the confirmation URL the merchant approves them at (the pending one if a
  subscription already waits for approval; none when it is active).
- ``POST /admin/api/billing/capped_amount.json`` (``write_integrations``): ask the merchant to
  approve a higher cap (``{"capped_amount": "300.00"}``); answers the confirmation URL.

Callers: the merchant's app (Shopify session token), an API token of the shop with the scope,
or the operator (ADMIN_API_TOKEN with ``?shop=``). The return URL Shopify sends the merchant to
after approving is always the app's own page (never one a caller names).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.crypto import TokenCipher
from libs.common.errors import HandlerError
from libs.common.http import json_error
from libs.common.service import Runtime, runtime_of
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shops import ShopRegistry
from services.fortnox_writer import oauth
from services.fortnox_writer.billing_ledger import BillingLedger
from services.fortnox_writer.subscriptions import NOT_INSTALLED, Subscriptions

BASE = "/admin/api/billing"
MAX_WAITING_LISTED = 50
MAX_CAP = Decimal("100000")

RAISE_CAP = """
mutation FortbridgeRaiseCap($id: ID!, $cap: MoneyInput!) {
  appSubscriptionLineItemUpdate(id: $id, cappedAmount: $cap) {
    confirmationUrl userErrors { field message }
  }
}
"""


def _billing(runtime: Runtime) -> tuple[BillingLedger, Subscriptions]:
    settings = runtime.settings
    ledger = BillingLedger(runtime.pool, settings)
    cipher = TokenCipher(settings.token_encryption_keys.get_secret_value())
    subscriptions = Subscriptions(
        runtime.pool,
        settings,
        ledger,
        ShopifyAdmin(runtime.http, settings.shopify_admin_url, settings.shopify_api_version),
        ShopRegistry(runtime.pool, cipher),
    )
    return ledger, subscriptions


async def _shop(request: web.Request, scope: str) -> str:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, scope)
    if not oauth.valid_shop(shop):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "shop must be a shop domain like example.myshopify.com"}),
            content_type="application/json",
        )
    return shop


def _return_url(runtime: Runtime, shop: str) -> str:
    return f"{runtime.settings.shopify_app_url.rstrip('/')}/app/billing?shop={shop}"


async def usage(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    shop = await _shop(request, "read_integrations")
    ledger, _ = _billing(runtime)
    body: dict[str, Any] = await ledger.usage(shop)
    rows = await ledger.waiting_rows(shop)
    listed: list[dict[str, Any]] = []
    for row in rows[:MAX_WAITING_LISTED]:
        command = json.loads(bytes(row["body"]))
        source = command.get("source") or {}
        listed.append(
            {
                "order_id": source.get("order_id") or source.get("id"),
                "order_name": source.get("name"),
                "action": command.get("action"),
                "document_key": row["document_key"],
                "waiting_since": row["created_at"].isoformat(),
            }
        )
    body["waiting"]["commands"] = listed
    body["start_subscription"] = {"method": "POST", "url": f"{BASE}/subscription.json"}
    return web.json_response({"usage": body})


async def start_subscription(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    shop = await _shop(request, "write_integrations")
    raw = (await request.read()).strip()
    if raw and raw != b"{}":  # the app's client sends {}; nothing else is taken
        return json_error(422, "this endpoint takes no fields (an empty body or {})", field="body")
    ledger, subscriptions = _billing(runtime)
    if not ledger.enabled:
        return json_error(409, "usage billing is off in this deployment (BILLING_ENABLED)")
    try:
        account = await subscriptions.start(shop, return_url=_return_url(runtime, shop))
    except (HandlerError, TimeoutError) as exc:
        if isinstance(exc, HandlerError) and exc.code == NOT_INSTALLED:
            return json_error(409, f"could not start the usage charges: {exc.message}")
        message = exc.message if isinstance(exc, HandlerError) else "Shopify did not answer"
        return json_error(502, f"could not start the usage charges: {message}")
    return web.json_response(
        {
            "subscription": {
                "id": account.subscription_id,
                "status": account.status,
                "confirmation_url": account.confirmation_url
                if account.status == "PENDING"
                else None,
            }
        },
        status=201 if account.status == "PENDING" else 200,
    )


async def raise_cap(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    shop = await _shop(request, "write_integrations")
    try:
        body = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError):
        return json_error(422, "not valid JSON", field="body")
    if not isinstance(body, dict) or set(body) != {"capped_amount"}:
        return json_error(422, 'a JSON object {"capped_amount": "300.00"}', field="body")
    try:
        cap = Decimal(str(body["capped_amount"]))
    except InvalidOperation:
        cap = Decimal(-1)
    if (
        isinstance(body["capped_amount"], float | bool)
        or not cap.is_finite()
        or not (0 < cap <= MAX_CAP)
    ):
        return json_error(
            422, f"a decimal string above 0, at most {MAX_CAP}", field="capped_amount"
        )
    ledger, subscriptions = _billing(runtime)
    account = await ledger.account(shop)
    if account.status != "ACTIVE" or account.line_item_id is None:
        return json_error(409, "the shop has no active usage charges to raise the cap of")
    if account.capped_amount is not None and cap <= account.capped_amount:
        return json_error(422, "the new cap must be above the current one", field="capped_amount")
    try:
        data = await subscriptions.graphql(
            shop,
            "FortbridgeRaiseCap",
            RAISE_CAP,
            id=account.line_item_id,
            cap={"amount": f"{cap:.2f}", "currencyCode": account.currency or "USD"},
        )
    except (HandlerError, TimeoutError) as exc:
        if isinstance(exc, HandlerError) and exc.code == NOT_INSTALLED:
            return json_error(409, f"could not ask for a higher cap: {exc.message}")
        message = exc.message if isinstance(exc, HandlerError) else "Shopify did not answer"
        return json_error(502, f"could not ask for a higher cap: {message}")
    answer = data["appSubscriptionLineItemUpdate"]
    if answer["userErrors"]:
        return json_error(422, "; ".join(e["message"] for e in answer["userErrors"]))
    return web.json_response(
        {
            "capped_amount": {
                "requested": f"{cap:.2f}",
                "confirmation_url": answer["confirmationUrl"],
            }
        }
    )


def add_billing_routes(app: web.Application) -> None:
    app.router.add_get(f"{BASE}/usage.json", usage)
    app.router.add_post(f"{BASE}/subscription.json", start_subscription)
    app.router.add_post(f"{BASE}/capped_amount.json", raise_cap)
