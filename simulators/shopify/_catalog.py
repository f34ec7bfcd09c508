"""REST-shaped customer, address and product payloads (re-exported by payloads.py)."""

from __future__ import annotations

import enum
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ._money import Amount, dec, money

Payload = dict[str, Any]
SHOP_TZ = timezone(timedelta(hours=1))
PRODUCT_ID_BASE = 8_000_000_000_000
VARIANT_ID_BASE = 44_000_000_000_000
CUSTOMER_ID_BASE = 7_000_000_000_000
ADDRESS_ID_BASE = 9_000_000_000_000


class _Unset(enum.Enum):
    TOKEN = 0


_UNSET = _Unset.TOKEN


def stable_id(base: int, *parts: object) -> int:
    """A deterministic large id: the same parts always give the same id."""
    return base + zlib.crc32("|".join(str(p) for p in parts).encode())


def timestamp(value: datetime | str | None, default: datetime) -> str:
    """ISO 8601 with an offset; naive datetimes are taken as shop time (+01:00)."""
    if isinstance(value, str):
        return value
    moment = default if value is None else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHOP_TZ)
    return moment.isoformat(timespec="seconds")


def _now() -> datetime:
    return datetime.now(SHOP_TZ).replace(microsecond=0)


def address_payload(
    *,
    first_name: str | None = "Anna",
    last_name: str | None = "Andersson",
    company: str | None = None,
    address1: str = "Storgatan 1",
    address2: str | None = "",
    city: str = "Stockholm",
    zip: str = "111 22",  # Shopify's field name
    province: str | None = None,
    province_code: str | None = None,
    country: str = "Sweden",
    country_code: str = "SE",
    phone: str | None = None,
) -> Payload:
    name = " ".join(part for part in (first_name, last_name) if part)
    return {
        "first_name": first_name,
        "address1": address1,
        "phone": phone,
        "city": city,
        "zip": zip,
        "province": province,
        "country": country,
        "last_name": last_name,
        "address2": address2,
        "company": company,
        "latitude": None,
        "longitude": None,
        "name": name,
        "country_code": country_code,
        "province_code": province_code,
    }


def customer_payload(
    customer_id: int | None = None,
    *,
    email: str | None = "anna@example.com",
    first_name: str | None = "Anna",
    last_name: str | None = "Andersson",
    phone: str | None = None,
    tags: str = "",
    note: str | None = None,
    currency: str = "SEK",
    tax_exempt: bool = False,
    address: Payload | _Unset | None = _UNSET,
    created_at: datetime | str | None = None,
    updated_at: datetime | str | None = None,
) -> Payload:
    """A customers/create payload; the id defaults to a stable id derived from the email."""
    customer_id = customer_id or stable_id(CUSTOMER_ID_BASE, email or first_name or "guest")
    created = timestamp(created_at, _now())
    updated = timestamp(updated_at, _now()) if updated_at is not None else created
    if address is _UNSET:
        address = address_payload(first_name=first_name, last_name=last_name, phone=phone)
    default_address = None
    if address is not None:
        default_address = {
            "id": stable_id(ADDRESS_ID_BASE, customer_id),
            "customer_id": customer_id,
            **address,
            "country_name": address.get("country"),
            "default": True,
        }
    return {
        "id": customer_id,
        "email": email,
        "created_at": created,
        "updated_at": updated,
        "first_name": first_name,
        "last_name": last_name,
        "state": "enabled" if email else "disabled",
        "note": note,
        "verified_email": bool(email),
        "multipass_identifier": None,
        "tax_exempt": tax_exempt,
        "phone": phone,
        "email_marketing_consent": None
        if email is None
        else {
            "state": "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
        },
        "sms_marketing_consent": None,
        "tags": tags,
        "currency": currency,
        "tax_exemptions": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "addresses": [] if default_address is None else [default_address],
        "default_address": default_address,
    }


@dataclass(frozen=True)
class VariantSpec:
    title: str = "Default Title"
    sku: str | None = "SOCK-WOOL-001"
    price: Amount = "199.00"
    compare_at_price: Amount | None = None
    barcode: str | None = None
    inventory_quantity: int = 10
    taxable: bool = True
    variant_id: int | None = None


def product_payload(
    product_id: int | None = None,
    *,
    title: str = "Ullsockor",
    variants: Sequence[VariantSpec] | None = None,
    vendor: str = "Fortbridge Demo",
    product_type: str = "Strumpor",
    status: str = "active",
    tags: str = "",
    body_html: str | None = "<p>Varma sockor i merinoull.</p>",
    created_at: datetime | str | None = None,
    updated_at: datetime | str | None = None,
) -> Payload:
    """A products/create payload. Default ids match the ids order_payload gives a line item
    with the same title and SKU, so sample orders and sample products line up."""
    product_id = product_id or stable_id(PRODUCT_ID_BASE, title)
    created = timestamp(created_at, _now())
    updated = timestamp(updated_at, _now()) if updated_at is not None else created
    specs = list(variants) if variants is not None else [VariantSpec()]
    variant_rows = []
    for position, spec in enumerate(specs, start=1):
        variant_id = spec.variant_id or stable_id(
            VARIANT_ID_BASE,
            product_id,
            spec.sku or ("" if spec.title == "Default Title" else spec.title),
        )
        compare = spec.compare_at_price
        variant_rows.append(
            {
                "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
                "barcode": spec.barcode,
                "compare_at_price": None if compare is None else money(dec(compare)),
                "created_at": created,
                "id": variant_id,
                "inventory_policy": "deny",
                "position": position,
                "price": money(dec(spec.price)),
                "product_id": product_id,
                "sku": spec.sku,
                "taxable": spec.taxable,
                "title": spec.title,
                "updated_at": updated,
                "option1": spec.title,
                "option2": None,
                "option3": None,
                "image_id": None,
                "inventory_item_id": stable_id(VARIANT_ID_BASE + 10**12, variant_id),
                "inventory_quantity": spec.inventory_quantity,
                "old_inventory_quantity": spec.inventory_quantity,
            }
        )
    return {
        "admin_graphql_api_id": f"gid://shopify/Product/{product_id}",
        "body_html": body_html,
        "created_at": created,
        "handle": "-".join(title.lower().split()),
        "id": product_id,
        "product_type": product_type,
        "published_at": created if status == "active" else None,
        "template_suffix": None,
        "title": title,
        "updated_at": updated,
        "vendor": vendor,
        "status": status,
        "published_scope": "global",
        "tags": tags,
        "variants": variant_rows,
        "options": [
            {
                "name": "Title",
                "id": stable_id(PRODUCT_ID_BASE + 10**12, product_id),
                "product_id": product_id,
                "position": 1,
                "values": [spec.title for spec in specs],
            }
        ],
        "images": [],
        "image": None,
        "media": [],
        "variant_gids": [
            {"admin_graphql_api_id": row["admin_graphql_api_id"], "updated_at": updated}
            for row in variant_rows
        ],
    }
