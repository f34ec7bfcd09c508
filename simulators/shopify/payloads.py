"""Builders for REST-shaped webhook payloads (orders/*, products/*, customers/*).

Shapes follow Shopify's order webhook: integer ids of 13-14 digits, money as decimal strings
with two decimals, *_set objects with shop and presentment money, ISO 8601 timestamps with the
shop's offset (+01:00 by default). Amounts are computed with Decimal and always add up:

- line total = price * quantity; order discount codes are allocated over the lines
  (`discount_allocations`, proportionally, rounding absorbed by the last line); the legacy
  line `total_discount` stays "0.00" as in real discount-code orders;
- tax per line = net * rate / (1 + rate) when taxes_included, else net * rate (rounded per
  line, like Shopify), where net = line total - allocations; shipping is taxed the same way;
- subtotal_price = total_line_items_price - total_discounts;
  total_price = subtotal_price + shipping + (0 if taxes_included else total_tax).
With a presentment currency, every amount is computed again from prices * exchange_rate.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import zlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from ._catalog import (
    PRODUCT_ID_BASE,
    VARIANT_ID_BASE,
    VariantSpec,
    address_payload,
    customer_payload,
    product_payload,
    stable_id,
    timestamp,
)
from ._money import Amount, dec, money, money_set
from ._pricing import DiscountSpec, LineSpec, ShippingSpec, compute

__all__ = [
    "DEFAULT",
    "DiscountSpec",
    "LineSpec",
    "ShippingSpec",
    "VariantSpec",
    "address_payload",
    "customer_payload",
    "order_payload",
    "product_payload",
    "sample_order_id",
]

Payload = dict[str, Any]
SHOP_TZ = timezone(timedelta(hours=1))
ORDER_ID_BASE = 5_000_000_000_000
LINE_ID_BASE = 13_000_000_000_000
_order_seq = itertools.count(1)


class _Default(enum.Enum):
    TOKEN = 0


DEFAULT = _Default.TOKEN  # "build a realistic default" (None means "null in the payload")


DEFAULT_LINES = (
    LineSpec("Ullsockor", "199.00", 2, "0.25", "SOCK-WOOL-001", "Grå / 39-42"),
    LineSpec("Kaffe mellanrost 500 g", "89.00", 1, "0.12", "COFFEE-500", grams=500),
)
DEFAULT_SHIPPING = ShippingSpec()


def sample_order_id(n: int) -> int:
    """The n-th sample order id: 5_000_000_000_000 + n (13 digits, like real order ids)."""
    return ORDER_ID_BASE + n


def _tax_title(title: str | None, rate: Amount) -> str:
    return title or f"Moms {format((dec(rate) * 100).normalize(), 'f')}%"


def order_payload(
    order_id: int | None = None,
    *,
    order_number: int | None = None,
    name: str | None = None,
    email: str | None = "anna@example.com",
    currency: str = "SEK",
    presentment_currency: str | None = None,
    exchange_rate: Amount = "1",
    taxes_included: bool = True,
    lines: Sequence[LineSpec] | None = None,
    shipping: ShippingSpec | None = DEFAULT_SHIPPING,
    discount_codes: Sequence[DiscountSpec] = (),
    customer: Payload | _Default | None = DEFAULT,
    billing_address: Payload | _Default | None = DEFAULT,
    shipping_address: Payload | _Default | None = DEFAULT,
    financial_status: str = "paid",
    created_at: datetime | str | None = None,
    updated_at: datetime | str | None = None,
    tags: str = "",
    note: str | None = None,
    gateway: str = "shopify_payments",
    shop_domain: str = "fortbridge-demo.myshopify.com",
    test: bool = False,
) -> Payload:
    """A realistic orders/create payload. `order_id` is the full id (default: the next
    sample_order_id); `exchange_rate` is presentment units per shop unit."""
    seq = next(_order_seq)
    order_id = sample_order_id(seq) if order_id is None else order_id
    order_number = 1000 + seq if order_number is None else order_number
    lines = DEFAULT_LINES if lines is None else lines
    ships = [] if shipping is None else [shipping]
    pcur = presentment_currency or currency
    shop = compute(lines, ships, discount_codes, taxes_included, Decimal(1))
    pres = (
        shop
        if pcur == currency
        else compute(lines, ships, discount_codes, taxes_included, dec(exchange_rate))
    )

    def mset(s: Decimal, p: Decimal) -> Any:
        return money_set(s, currency, p, pcur)

    now = datetime.now(SHOP_TZ).replace(microsecond=0)
    created = timestamp(created_at, now)
    updated = timestamp(updated_at, now) if updated_at is not None else created
    order_tax: dict[tuple[str, float], list[Decimal]] = {}

    def tax_line(s: Decimal, p: Decimal, rate: Amount, title: str | None) -> Payload:
        key = (_tax_title(title, rate), float(dec(rate)))
        acc = order_tax.setdefault(key, [Decimal(0), Decimal(0)])
        acc[0] += s
        acc[1] += p
        return {
            "channel_liable": False,
            "price": money(s),
            "price_set": mset(s, p),
            "rate": key[1],
            "title": key[0],
        }

    line_items = []
    for i, spec in enumerate(lines):
        product_id = spec.product_id or stable_id(PRODUCT_ID_BASE, spec.title)
        variant_key = spec.sku or spec.variant_title or ""
        line_id = LINE_ID_BASE + (order_id % 1_000_000_000) * 100 + i
        allocations = [
            {"amount": money(a), "amount_set": mset(a, pa), "discount_application_index": j}
            for j, (a, pa) in enumerate(zip(shop.allocations[i], pres.allocations[i], strict=True))
            if a or pa
        ]
        taxes = []
        if spec.taxable:
            taxes = [
                tax_line(shop.line_taxes[i], pres.line_taxes[i], spec.tax_rate, spec.tax_title)
            ]
        line_items.append(
            {
                "id": line_id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                "attributed_staffs": [],
                "current_quantity": spec.quantity,
                "fulfillable_quantity": spec.quantity,
                "fulfillment_service": "manual",
                "fulfillment_status": None,
                "gift_card": spec.gift_card,
                "grams": spec.grams,
                "name": f"{spec.title} - {spec.variant_title}"
                if spec.variant_title
                else spec.title,
                "price": money(shop.units[i]),
                "price_set": mset(shop.units[i], pres.units[i]),
                "product_exists": True,
                "product_id": product_id,
                "properties": [{"name": k, "value": v} for k, v in spec.properties],
                "quantity": spec.quantity,
                "requires_shipping": spec.requires_shipping,
                "sku": spec.sku,
                "taxable": spec.taxable,
                "title": spec.title,
                "total_discount": "0.00",
                "total_discount_set": mset(Decimal(0), Decimal(0)),
                "variant_id": spec.variant_id
                or stable_id(VARIANT_ID_BASE, product_id, variant_key),
                "variant_inventory_management": "shopify",
                "variant_title": spec.variant_title,
                "vendor": spec.vendor,
                "tax_lines": taxes,
                "duties": [],
                "discount_allocations": allocations,
            }
        )
    shipping_lines = [
        {
            "id": stable_id(4_000_000_000_000, order_id, i),
            "carrier_identifier": None,
            "code": spec.code,
            "discounted_price": money(shop.ship_prices[i]),
            "discounted_price_set": mset(shop.ship_prices[i], pres.ship_prices[i]),
            "discount_allocations": [],
            "is_removed": False,
            "phone": None,
            "price": money(shop.ship_prices[i]),
            "price_set": mset(shop.ship_prices[i], pres.ship_prices[i]),
            "requested_fulfillment_service_id": None,
            "source": spec.source,
            "title": spec.title,
            "tax_lines": [
                tax_line(shop.ship_taxes[i], pres.ship_taxes[i], spec.tax_rate, spec.tax_title)
            ],
        }
        for i, spec in enumerate(ships)
    ]
    if customer is DEFAULT:
        customer = customer_payload(email=email, created_at=created)
        customer.pop("addresses", None)
    address = address_payload() if isinstance(billing_address, _Default) else billing_address
    ship_to = shipping_address
    if isinstance(shipping_address, _Default):
        ship_to = None if address is None else dict(address)
    token = hashlib.sha256(f"order-{order_id}".encode()).hexdigest()[:32]
    totals = {
        "subtotal_price": (shop.subtotal, pres.subtotal),
        "total_discounts": (shop.discounts, pres.discounts),
        "total_line_items_price": (shop.line_items, pres.line_items),
        "total_price": (shop.total(taxes_included), pres.total(taxes_included)),
        "total_tax": (shop.tax, pres.tax),
    }
    payload: Payload = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "app_id": 580111,
        "browser_ip": None,
        "buyer_accepts_marketing": False,
        "cancel_reason": None,
        "cancelled_at": None,
        "cart_token": None,
        "checkout_id": stable_id(30_000_000_000_000, order_id),
        "checkout_token": token[::-1],
        "client_details": None,
        "closed_at": None,
        "confirmation_number": token[:9].upper(),
        "confirmed": True,
        "contact_email": email,
        "created_at": created,
        "currency": currency,
        "customer_locale": "sv-SE",
        "device_id": None,
        "discount_codes": [
            {"code": d.code, "amount": money(amount), "type": d.value_type}
            for d, amount in zip(discount_codes, shop.code_amounts, strict=True)
        ],
        "duties_included": False,
        "email": email,
        "estimated_taxes": False,
        "financial_status": financial_status,
        "fulfillment_status": None,
        "landing_site": None,
        "location_id": None,
        "merchant_of_record_app_id": None,
        "name": name or f"#{order_number}",
        "note": note,
        "note_attributes": [],
        "number": order_number - 1000,
        "order_number": order_number,
        "order_status_url": f"https://{shop_domain}/{zlib.crc32(shop_domain.encode())}/orders/"
        f"{token}/authenticate?key={token[:16]}",
        "payment_gateway_names": [gateway],
        "phone": None,
        "po_number": None,
        "presentment_currency": pcur,
        "processed_at": created,
        "reference": None,
        "referring_site": None,
        "source_identifier": None,
        "source_name": "web",
        "tags": tags,
        "tax_exempt": False,
        "tax_lines": [
            {
                "channel_liable": False,
                "price": money(s),
                "price_set": mset(s, p),
                "rate": rate,
                "title": title,
            }
            for (title, rate), (s, p) in order_tax.items()
        ],
        "taxes_included": taxes_included,
        "test": test,
        "token": token,
        "total_outstanding": "0.00"
        if financial_status == "paid"
        else money(shop.total(taxes_included)),
        "total_shipping_price_set": mset(shop.shipping, pres.shipping),
        "total_tip_received": "0.00",
        "total_weight": sum(line.grams * line.quantity for line in lines),
        "updated_at": updated,
        "user_id": None,
        "billing_address": address,
        "customer": customer,
        "discount_applications": [
            {
                "target_type": "line_item",
                "type": "discount_code",
                "value": format(dec(d.value).normalize(), "f")
                if d.value_type == "percentage"
                else money(dec(d.value)),
                "value_type": d.value_type,
                "allocation_method": "across",
                "target_selection": "all",
                "code": d.code,
            }
            for d in discount_codes
        ],
        "fulfillments": [],
        "line_items": line_items,
        "payment_terms": None,
        "refunds": [],
        "shipping_address": ship_to,
        "shipping_lines": shipping_lines,
    }
    for key, (s, p) in totals.items():
        payload[key] = money(s)
        payload[f"{key}_set"] = mset(s, p)
    for key in ("subtotal_price", "total_discounts", "total_price", "total_tax"):
        payload[f"current_{key}"] = payload[key]
        payload[f"current_{key}_set"] = payload[f"{key}_set"]
    return payload
