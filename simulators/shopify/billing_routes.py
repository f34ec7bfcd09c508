"""The merchant's side of the Billing API: the confirmation page, and /_sim control endpoints.

GET  /shops/{shop}/admin/charges/{app}/{id}/RecurringApplicationCharge/confirm?kind=&signature=
     the page a confirmationUrl opens: the terms and cap, with Approve and Decline
POST (same path) decision=approve|decline: as the merchant; 302 to the app's returnUrl with
     ``charge_id`` (Shopify's redirect after approval)
GET  /_sim/shops/{shop}/app_subscriptions             every subscription with its line items
POST /_sim/shops/{shop}/app_subscriptions/{id}/{action}
     approve | decline | freeze | unfreeze | cancel | approve_capped_amount | new_cycle
GET  /_sim/shops/{shop}/usage_records                 every usage record
GET  /_sim/billing_webhooks                           the billing webhooks sent (topic, shop,
                                                      payload, delivery statuses)

Each change of status or cap sends ``app_subscriptions/update`` to the shop's webhook
subscriptions of that topic, signed with the app's secret (``ShopifySimulator.webhook_secret``).
"""

from __future__ import annotations

import hmac
import html
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from ._money import gql_decimal
from ._state import Payload, ShopState, gid

if TYPE_CHECKING:
    from .simulator import ShopifySimulator

CONFIRM_PATH = "/shops/{shop}/admin/charges/{app}/{id}/RecurringApplicationCharge/confirm"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def subscription_json(sub: Payload) -> dict[str, Any]:
    items = []
    for item in sub["line_items"]:
        shown = {k: v for k, v in item.items() if k != "kind"}
        for key, value in list(shown.items()):
            if key in ("capped_amount", "balance_used", "price", "pending_capped_amount"):
                shown[key] = None if value is None else gql_decimal(value)
        items.append({"kind": item["kind"], **shown})
    return {
        "id": gid("AppSubscription", sub["id"]),
        "name": sub["name"],
        "status": sub["status"],
        "test": sub["test"],
        "return_url": sub["return_url"],
        "current_period_end": sub["current_period_end"],
        "line_items": items,
    }


def merchant_routes(sim: ShopifySimulator) -> list[web.RouteDef]:
    def shop_of(request: web.Request) -> ShopState:
        try:
            return sim.shop(request.match_info["shop"])
        except KeyError:
            raise web.HTTPNotFound(text="unknown shop") from None

    def subscription_of(request: web.Request, shop: ShopState) -> Payload:
        raw = request.match_info["id"].rsplit("/", 1)[-1]
        sub = shop.app_subscriptions.get(int(raw)) if raw.isdigit() else None
        if sub is None:
            raise web.HTTPNotFound(
                text='{"error": "unknown subscription"}', content_type="application/json"
            )
        return sub

    def signed(request: web.Request, sub: Payload) -> bool:
        given = request.query.get("signature", "")
        return hmac.compare_digest(given.encode(), str(sub["signature"]).encode())

    async def confirm_page(request: web.Request) -> web.Response:
        shop = shop_of(request)
        sub = subscription_of(request, shop)
        if not signed(request, sub):
            return web.Response(status=404, text="Not Found")
        usage = next((i for i in sub["line_items"] if i["kind"] == "usage"), None)
        cap = "" if usage is None else f"{gql_decimal(usage['capped_amount'])} {usage['currency']}"
        if request.query.get("kind") == "capped_amount" and usage is not None:
            cap = f"{gql_decimal(usage['pending_capped_amount'] or 0)} {usage['currency']}"
        terms = "" if usage is None else usage["terms"]
        test = " (test charge: nothing is billed)" if sub["test"] else ""
        body = (
            f"<!doctype html><title>Approve charges</title><h1>{html.escape(sub['name'])}</h1>"
            f"<p>Terms: {html.escape(terms)}</p><p>Capped amount per 30 days: "
            f"{html.escape(cap)}{test}</p><p>Status: {sub['status']}</p>"
            '<form method="post"><button name="decision" value="approve">Approve</button>'
            '<button name="decision" value="decline">Decline</button></form>'
        )
        return web.Response(text=body, content_type="text/html")

    async def confirm(request: web.Request) -> web.Response:
        shop = shop_of(request)
        sub = subscription_of(request, shop)
        if not signed(request, sub):
            return web.Response(status=404, text="Not Found")
        form = await request.post()
        decision = str(form.get("decision", ""))
        if request.query.get("kind") == "capped_amount":
            problem = sim.billing.approve_cap(shop, sub) if decision == "approve" else None
        elif decision in ("approve", "decline"):
            problem = sim.billing.transition(shop, sub, decision)
        else:
            problem = "decision must be approve or decline"
        if problem is not None:
            return web.Response(status=422, text=problem)
        sim.send_billing_webhooks()
        query = urlencode({"charge_id": sub["id"], "shop": shop.domain})
        joiner = "&" if "?" in sub["return_url"] else "?"
        raise web.HTTPFound(f"{sub['return_url']}{joiner}{query}")

    async def list_subscriptions(request: web.Request) -> web.Response:
        shop = shop_of(request)
        subs = [subscription_json(sub) for _, sub in sorted(shop.app_subscriptions.items())]
        return web.json_response(subs)

    async def act(request: web.Request) -> web.Response:
        shop = shop_of(request)
        sub = subscription_of(request, shop)
        action = request.match_info["action"]
        if action == "new_cycle":
            sim.billing.new_cycle(sub)
            problem = None
        elif action == "approve_capped_amount":
            problem = sim.billing.approve_cap(shop, sub)
        else:
            problem = sim.billing.transition(shop, sub, action)
        if problem is not None:
            return _error(409, problem)
        sim.send_billing_webhooks()
        return web.json_response(subscription_json(sub))

    async def usage_records(request: web.Request) -> web.Response:
        shop = shop_of(request)
        records = [
            {
                "id": gid("AppUsageRecord", r["id"]),
                "subscription_id": gid("AppSubscription", r["subscription_id"]),
                "description": r["description"],
                "idempotency_key": r["idempotency_key"],
                "price": gql_decimal(r["price"]),
                "currency": r["currency"],
                "test": r["test"],
                "created_at": r["created_at"],
            }
            for _, r in sorted(shop.usage_records.items())
        ]
        return web.json_response(records)

    async def sent(_request: web.Request) -> web.Response:
        return web.json_response(sim.billing_webhooks_sent)

    base = "/_sim/shops/{shop}"
    return [
        web.get(CONFIRM_PATH, confirm_page),
        web.post(CONFIRM_PATH, confirm),
        web.get(f"{base}/app_subscriptions", list_subscriptions),
        web.post(f"{base}/app_subscriptions/{{id}}/{{action}}", act),
        web.get(f"{base}/usage_records", usage_records),
        web.get("/_sim/billing_webhooks", sent),
    ]
