"""GraphQL-shaped nodes derived from the stored REST payloads (the webhook shape).

Timestamps come out in UTC ("2025-01-15T09:30:00Z") and money amounts as GraphQL Decimal
strings ("186.9"), as the Admin GraphQL API returns them - unlike the REST payloads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

from ._money import dec, gql_decimal
from ._state import Payload, ShopState, gid, split_tags
from .execution import Connection, Node
from .inventory import item_node
from .metafields import metafield_fields
from .search import parse_time


def utc(value: object) -> str | None:
    moment = parse_time(value)
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money_v2(amount: object, currency: str) -> Node:
    return {"__typename": "MoneyV2", "amount": gql_decimal(str(amount)), "currencyCode": currency}


def money_bag(rest_set: Mapping[str, Any] | None, amount: object, currency: str) -> Node:
    """From a REST *_set object, or from a plain amount in shop currency."""
    if rest_set:
        shop, pres = rest_set["shop_money"], rest_set["presentment_money"]
        return {
            "__typename": "MoneyBag",
            "shopMoney": money_v2(shop["amount"], shop["currency_code"]),
            "presentmentMoney": money_v2(pres["amount"], pres["currency_code"]),
        }
    value = "0" if amount is None else amount
    return {
        "__typename": "MoneyBag",
        "shopMoney": money_v2(value, currency),
        "presentmentMoney": money_v2(value, currency),
    }


def _scaled_bag(rest_set: Mapping[str, Any] | None, price: object, qty: int, cur: str) -> Node:
    scaled = None
    if rest_set:
        scaled = {
            side: {**rest_set[side], "amount": str(dec(rest_set[side]["amount"]) * qty)}
            for side in ("shop_money", "presentment_money")
        }
    return money_bag(scaled, dec(str(price or "0")) * qty, cur)


def sum_bags(sets: Sequence[Mapping[str, Any]], cur: str, pcur: str) -> Node:
    shop = sum((dec(s["shop_money"]["amount"]) for s in sets), Decimal(0))
    pres = sum((dec(s["presentment_money"]["amount"]) for s in sets), Decimal(0))
    return {
        "__typename": "MoneyBag",
        "shopMoney": money_v2(shop, cur),
        "presentmentMoney": money_v2(pres, pcur),
    }


def tax_line_node(rest: Mapping[str, Any], cur: str) -> Node:
    rate = float(rest.get("rate") or 0)
    return {
        "__typename": "TaxLine",
        "title": rest.get("title"),
        "rate": rate,
        "ratePercentage": round(rate * 100, 4),
        "channelLiable": bool(rest.get("channel_liable")),
        "priceSet": money_bag(rest.get("price_set"), rest.get("price"), cur),
    }


def address_node(rest: Mapping[str, Any] | None) -> Node | None:
    if not rest:
        return None
    return {
        "__typename": "MailingAddress",
        "id": gid("MailingAddress", rest["id"]) if rest.get("id") else None,
        "firstName": rest.get("first_name"),
        "lastName": rest.get("last_name"),
        "name": rest.get("name"),
        "company": rest.get("company"),
        "address1": rest.get("address1"),
        "address2": rest.get("address2"),
        "city": rest.get("city"),
        "zip": rest.get("zip"),
        "province": rest.get("province"),
        "provinceCode": rest.get("province_code"),
        "country": rest.get("country"),
        "countryCodeV2": rest.get("country_code"),
        "phone": rest.get("phone"),
    }


def customer_node(shop: ShopState, rest: Payload) -> Node:
    customer_gid = rest.get("admin_graphql_api_id") or gid("Customer", rest["id"])
    first, last, email = rest.get("first_name"), rest.get("last_name"), rest.get("email")
    tags = shop.customer_tags.get(customer_gid) or split_tags(rest.get("tags"))
    return {
        "__typename": "Customer",
        "id": customer_gid,
        "legacyResourceId": str(rest["id"]),
        "email": email,
        "firstName": first,
        "lastName": last,
        "displayName": " ".join(p for p in (first, last) if p) or email or "",
        "phone": rest.get("phone"),
        "createdAt": utc(rest.get("created_at")),
        "updatedAt": utc(rest.get("updated_at")),
        "tags": list(tags),
        "note": rest.get("note"),
        "state": str(rest.get("state") or "disabled").upper(),
        "taxExempt": bool(rest.get("tax_exempt")),
        "locale": rest.get("locale") or "sv",
        "verifiedEmail": bool(rest.get("verified_email")),
        "numberOfOrders": str(rest.get("orders_count") or 0),
        "defaultAddress": address_node(rest.get("default_address")),
        **metafield_fields(shop, customer_gid),
    }


def variant_node(shop: ShopState, product: Payload, rest: Payload) -> Node:
    variant_gid = rest.get("admin_graphql_api_id") or gid("ProductVariant", rest["id"])
    return {
        "__typename": "ProductVariant",
        "id": variant_gid,
        "legacyResourceId": str(rest["id"]),
        "title": rest.get("title"),
        "sku": rest.get("sku"),
        "price": rest.get("price"),
        "compareAtPrice": rest.get("compare_at_price"),
        "barcode": rest.get("barcode"),
        "inventoryQuantity": rest.get("inventory_quantity"),
        "taxable": rest.get("taxable", True),
        "position": rest.get("position", 1),
        "createdAt": utc(rest.get("created_at")),
        "updatedAt": utc(rest.get("updated_at")),
        "product": lambda _args: product_node(shop, product),
        "inventoryItem": lambda _args: (
            None
            if rest.get("inventory_item_id") is None
            else item_node(shop, int(rest["inventory_item_id"]))
        ),
        **metafield_fields(shop, variant_gid),
    }


def product_node(shop: ShopState, rest: Payload) -> Node:
    product_gid = rest.get("admin_graphql_api_id") or gid("Product", rest["id"])
    variants = list(rest.get("variants") or [])
    tags = shop.product_tags.get(product_gid) or split_tags(rest.get("tags"))
    return {
        "__typename": "Product",
        "id": product_gid,
        "legacyResourceId": str(rest["id"]),
        "title": rest.get("title"),
        "handle": rest.get("handle"),
        "vendor": rest.get("vendor"),
        "productType": rest.get("product_type"),
        "status": str(rest.get("status") or "active").upper(),
        "tags": list(tags),
        "createdAt": utc(rest.get("created_at")),
        "updatedAt": utc(rest.get("updated_at")),
        "publishedAt": utc(rest.get("published_at")),
        "descriptionHtml": rest.get("body_html") or "",
        "totalInventory": sum(int(v.get("inventory_quantity") or 0) for v in variants),
        "variants": lambda _args: Connection.of(
            "ProductVariant",
            [variant_node(shop, rest, v) for v in variants],
            [int(v["id"]) for v in variants],
        ),
        **metafield_fields(shop, product_gid),
    }


def _line_variant(shop: ShopState, line: Payload) -> tuple[Node | None, Node | None]:
    """The line's variant and product: from the shop's catalog, else built from the line."""
    if line.get("variant_id") is None:
        return None, None
    found = shop.find_variant(int(line["variant_id"]))
    if found is not None:
        product, variant = found
        return variant_node(shop, product, variant), product_node(shop, product)
    product = {
        "id": line.get("product_id") or 0,
        "title": line.get("title"),
        "vendor": line.get("vendor"),
        "variants": [],
    }
    variant = {
        "id": line["variant_id"],
        "title": line.get("variant_title") or "Default Title",
        "sku": line.get("sku"),
        "price": line.get("price"),
        "taxable": line.get("taxable", True),
    }
    product["variants"] = [variant]
    return variant_node(shop, product, variant), product_node(shop, product)


def _allocations(allocations: list[Payload], cur: str) -> list[Node]:
    return [
        {
            "__typename": "DiscountAllocation",
            "allocatedAmountSet": money_bag(a["amount_set"], a.get("amount"), cur),
        }
        for a in allocations
    ]


def duty_node(rest: Payload, cur: str) -> Node:
    """LineItem.duties: Duty {id, harmonizedSystemCode, countryCodeOfOrigin, price, taxLines}."""
    return {
        "__typename": "Duty",
        "id": gid("Duty", rest["id"]) if rest.get("id") else rest.get("admin_graphql_api_id"),
        "harmonizedSystemCode": rest.get("harmonized_system_code"),
        "countryCodeOfOrigin": rest.get("country_code_of_origin"),
        "price": money_bag(rest.get("price_set"), rest.get("price"), cur),
        "taxLines": [tax_line_node(t, cur) for t in rest.get("tax_lines") or []],
    }


def line_item_node(shop: ShopState, line: Payload, cur: str) -> Node:
    qty = int(line.get("quantity") or 0)
    allocations = [a for a in line.get("discount_allocations") or [] if a.get("amount_set")]
    pcur = (line.get("price_set") or {}).get("presentment_money", {}).get("currency_code", cur)
    variant, product = _line_variant(shop, line)
    return {
        "__typename": "LineItem",
        # The REST id is the line's identity (a payload's admin_graphql_api_id may be stale).
        "id": gid("LineItem", line["id"]) if line.get("id") else line["admin_graphql_api_id"],
        "name": line.get("name") or line.get("title"),
        "title": line.get("title"),
        "variantTitle": line.get("variant_title"),
        "sku": line.get("sku"),
        "quantity": qty,
        "currentQuantity": line.get("current_quantity", qty),
        "taxable": bool(line.get("taxable", True)),
        "requiresShipping": bool(line.get("requires_shipping", True)),
        "isGiftCard": bool(line.get("gift_card")),
        "vendor": line.get("vendor"),
        "originalUnitPriceSet": money_bag(line.get("price_set"), line.get("price"), cur),
        "originalTotalSet": _scaled_bag(line.get("price_set"), line.get("price"), qty, cur),
        "totalDiscountSet": sum_bags([a["amount_set"] for a in allocations], cur, pcur),
        "taxLines": lambda args: [tax_line_node(t, cur) for t in line.get("tax_lines") or []][
            : args.get("first") or None
        ],
        "discountAllocations": _allocations(allocations, cur),
        "duties": [duty_node(d, cur) for d in line.get("duties") or []],
        "customAttributes": [
            {"__typename": "Attribute", "key": p.get("name"), "value": p.get("value")}
            for p in line.get("properties") or []
        ],
        "variant": variant,
        "product": product,
    }


def shipping_line_node(rest: Payload, cur: str) -> Node:
    return {
        "__typename": "ShippingLine",
        "id": gid("ShippingLine", rest.get("id") or 0),
        "title": rest.get("title"),
        "code": rest.get("code"),
        "source": rest.get("source"),
        "isRemoved": bool(rest.get("is_removed")),
        "originalPriceSet": money_bag(rest.get("price_set"), rest.get("price"), cur),
        "discountedPriceSet": money_bag(
            rest.get("discounted_price_set"), rest.get("discounted_price"), cur
        ),
        "taxLines": [tax_line_node(t, cur) for t in rest.get("tax_lines") or []],
        "discountAllocations": _allocations(
            [a for a in rest.get("discount_allocations") or [] if a.get("amount_set")], cur
        ),
    }


def shop_node(shop: ShopState) -> Node:
    return {
        "__typename": "Shop",
        "id": shop.gid,
        "name": shop.name,
        "email": f"owner@{shop.domain}",
        "contactEmail": f"support@{shop.domain}",
        "myshopifyDomain": shop.domain,
        "currencyCode": shop.currency,
        "enabledPresentmentCurrencies": [shop.currency],
        "ianaTimezone": shop.timezone,
        "taxesIncluded": True,
        **metafield_fields(shop, shop.gid),
    }
