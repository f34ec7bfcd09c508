"""/_sim control endpoints (no auth; loopback test use only).

POST   /_sim/shops                         {"domain", "access_token"?, "name"?, "currency"?}
GET    /_sim/shops
POST   /_sim/shops/{shop}/orders           a REST payload, {"order": {...}} or a list of them
POST   /_sim/shops/{shop}/products         (same, "product")
POST   /_sim/shops/{shop}/customers        (same, "customer")
GET    /_sim/shops/{shop}/orders/{id}      the stored REST payload (id: legacy id or gid)
POST   /_sim/shops/{shop}/orders/{id}/refunds  a REST refund joins the order (no webhook sent)
GET    /_sim/shops/{shop}/orders/{id}/tags {"id", "tags"}
GET    /_sim/shops/{shop}/metafields       [{"ownerId","namespace","key","value","type",...}]
POST   /_sim/shops/{shop}/bucket           {"available": n}: set the cost bucket level now
POST   /_sim/faults                        {"kind", "status"?, "delay"?, "times"?, "shop"?,
                                            "operation"?}
GET    /_sim/faults, DELETE /_sim/faults
GET    /_sim/requests, DELETE /_sim/requests
GET    /_sim/health
GET    /_sim/shops/{shop}/inventory        {"locations", "levels": [{item, location, available}]}
POST   /_sim/shops/{shop}/inventory/sale   {"inventory_item_id", "quantity", "location_id"?}
POST   /_sim/shops/{shop}/inventory/set    {"inventory_item_id", "available", "location_id"?}
POST   /_sim/shops/{shop}/inventory/race   {"inventory_item_id", "delta", "location_id"?}: applied
                                           just before the next inventorySetQuantities of it
POST   /_sim/shops/{shop}/inventory/webhooks  the queued inventory_levels/update payloads
                                           (handed out once)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._state import ShopState, parse_gid
from .payouts import parse_adjustments

if TYPE_CHECKING:
    from .simulator import ShopifySimulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text='{"error": "body must be JSON"}', content_type="application/json"
        ) from exc


def _order_id(raw: str) -> int | None:
    parsed = parse_gid(raw)
    if parsed is not None:
        return parsed[1] if parsed[0] == "Order" else None
    return int(raw) if raw.isdigit() else None


def control_routes(sim: ShopifySimulator) -> list[web.RouteDef]:
    def shop_of(request: web.Request) -> ShopState:
        domain = request.match_info["shop"]
        try:
            return sim.shop(domain)
        except KeyError:
            raise web.HTTPNotFound(
                text=f'{{"error": "unknown shop {domain}"}}', content_type="application/json"
            ) from None

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "shops": len(sim.shops)})

    async def add_shop(request: web.Request) -> web.Response:
        body = await _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("domain"), str):
            return _error(400, "expected {'domain': ..., 'access_token'?: ...}")
        if body["domain"].lower() in sim.shops:
            return _error(409, f"shop {body['domain']} exists")
        try:
            shop = sim.add_shop(
                body["domain"],
                body.get("access_token"),
                name=body.get("name"),
                currency=body.get("currency", "SEK"),
            )
        except ValueError as exc:
            return _error(400, str(exc))
        return web.json_response(
            {"domain": shop.domain, "access_token": shop.access_token, "id": shop.gid}, status=201
        )

    async def list_shops(_request: web.Request) -> web.Response:
        return web.json_response(
            [{"domain": s.domain, "id": s.gid, "orders": len(s.orders)} for s in sim.shops.values()]
        )

    def adder(kind: str, add: Callable[[str, dict[str, Any]], str]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            shop = shop_of(request)
            body = await _body(request)
            items = body if isinstance(body, list) else [body]
            try:
                ids = [add(shop.domain, item) for item in items]
            except (ValueError, TypeError) as exc:
                return _error(400, f"bad {kind} payload: {exc}")
            return web.json_response({"ids": ids}, status=201)

        return handler

    async def get_order(request: web.Request) -> web.Response:
        shop = shop_of(request)
        order_id = _order_id(request.match_info["id"])
        if order_id is None or order_id not in shop.orders:
            return _error(404, "unknown order")
        return web.json_response(shop.orders[order_id])

    async def add_refund(request: web.Request) -> web.Response:
        shop = shop_of(request)
        order_id = _order_id(request.match_info["id"])
        if order_id is None or order_id not in shop.orders:
            return _error(404, "unknown order")
        try:
            refund_gid = sim.add_refund(shop.domain, order_id, await _body(request))
        except (ValueError, TypeError) as exc:
            return _error(400, f"bad refund payload: {exc}")
        return web.json_response({"id": refund_gid}, status=201)

    async def make_payout(request: web.Request) -> web.Response:
        shop = shop_of(request)
        body = (await _body(request) if request.can_read_body else None) or {}
        if not isinstance(body, dict):
            return _error(400, "body must be a JSON object")
        try:
            options: dict[str, Any] = {"adjustments": parse_adjustments(body.get("adjustments"))}
            for name in ("fee_percent", "fee_fixed", "reserve"):
                if body.get(name) is not None:
                    options[name] = Decimal(str(body[name]))
            if body.get("status") is not None:
                options["status"] = str(body["status"])
            payout = sim.make_payout(shop.domain, **options)
        except (ValueError, TypeError, ArithmeticError) as exc:
            return _error(400, f"bad payout request: {exc}")
        return web.json_response({"payout": payout}, status=201)

    async def order_tags(request: web.Request) -> web.Response:
        shop = shop_of(request)
        order_id = _order_id(request.match_info["id"])
        if order_id is None or order_id not in shop.orders:
            return _error(404, "unknown order")
        owner = (
            shop.orders[order_id].get("admin_graphql_api_id") or f"gid://shopify/Order/{order_id}"
        )
        return web.json_response({"id": owner, "tags": list(shop.tag_list(owner) or [])})

    async def metafields(request: web.Request) -> web.Response:
        shop = shop_of(request)
        owner = request.query.get("owner")
        rows = [
            {"ownerId": key[0], "namespace": key[1], "key": key[2], **value}
            for key, value in shop.metafields.items()
            if owner is None or key[0] == owner
        ]
        return web.json_response(rows)

    async def set_bucket(request: web.Request) -> web.Response:
        shop = shop_of(request)
        body = await _body(request)
        if not isinstance(body, dict) or not isinstance(body.get("available"), int | float):
            return _error(400, "expected {'available': number}")
        shop.bucket.drain(float(body["available"]))
        return web.json_response(shop.bucket.status())

    async def add_fault(request: web.Request) -> web.Response:
        body = await _body(request)
        if not isinstance(body, dict):
            return _error(400, "expected a JSON object")
        allowed = {"kind", "status", "delay", "times", "shop", "operation"}
        unknown = set(body) - allowed
        if unknown:
            return _error(400, f"unknown fields {sorted(unknown)}")
        try:
            fault = sim.faults.add(**body)
        except (TypeError, ValueError) as exc:
            return _error(400, str(exc))
        return web.json_response(fault.to_json(), status=201)

    async def list_faults(_request: web.Request) -> web.Response:
        return web.json_response([f.to_json() for f in sim.faults.active])

    async def clear_faults(_request: web.Request) -> web.Response:
        sim.faults.clear()
        return web.json_response({"ok": True})

    async def list_requests(_request: web.Request) -> web.Response:
        return web.json_response([r.to_json() for r in sim.requests])

    async def clear_requests(_request: web.Request) -> web.Response:
        sim.requests.clear()
        return web.json_response({"ok": True})

    async def inventory_levels(request: web.Request) -> web.Response:
        shop = shop_of(request)
        levels = [
            {"inventory_item_id": item, "location_id": location, "available": available}
            for (item, location), available in sorted(shop.inventory.items())
        ]
        locations = [{"id": i, "name": name} for i, name in sorted(shop.locations.items())]
        return web.json_response({"locations": locations, "levels": levels})

    def inventory_change(field: str) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            shop = shop_of(request)
            body = await _body(request)
            if not isinstance(body, dict) or not all(
                isinstance(body.get(k), int) for k in ("inventory_item_id", field)
            ):
                return _error(400, f"expected {{'inventory_item_id': int, '{field}': int}}")
            item, value = body["inventory_item_id"], body[field]
            location = body.get("location_id")
            if field == "quantity":
                sim.sell(shop.domain, item, value, location)
            elif field == "available":
                sim.set_available(shop.domain, item, value, location)
            else:
                sim.race_next_write(shop.domain, item, value, location)
            return web.json_response({"available": sim.available(shop.domain, item, location)})

        return handler

    async def inventory_webhooks(request: web.Request) -> web.Response:
        return web.json_response(sim.take_inventory_webhooks(shop_of(request).domain))

    base = "/_sim/shops/{shop}"
    return [
        web.get("/_sim/health", health),
        web.post("/_sim/shops", add_shop),
        web.get("/_sim/shops", list_shops),
        web.post(f"{base}/orders", adder("order", sim.add_order)),
        web.post(f"{base}/products", adder("product", sim.add_product)),
        web.post(f"{base}/customers", adder("customer", sim.add_customer)),
        web.get(f"{base}/orders/{{id}}", get_order),
        web.get(f"{base}/orders/{{id}}/tags", order_tags),
        web.post(f"{base}/orders/{{id}}/refunds", add_refund),
        web.get(f"{base}/metafields", metafields),
        web.post(f"{base}/payouts", make_payout),
        web.post(f"{base}/bucket", set_bucket),
        web.get(f"{base}/inventory", inventory_levels),
        web.post(f"{base}/inventory/sale", inventory_change("quantity")),
        web.post(f"{base}/inventory/set", inventory_change("available")),
        web.post(f"{base}/inventory/race", inventory_change("delta")),
        web.post(f"{base}/inventory/webhooks", inventory_webhooks),
        web.post("/_sim/faults", add_fault),
        web.get("/_sim/faults", list_faults),
        web.delete("/_sim/faults", clear_faults),
        web.get("/_sim/requests", list_requests),
        web.delete("/_sim/requests", clear_requests),
    ]
