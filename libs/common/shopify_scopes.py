"""Shopify scopes only some features need: asked for when the merchant turns the feature on.

SHOPIFY_SCOPES (shopify.app.toml's ``scopes``) stays minimal: orders, products, customers. A
feature that needs more says so when it is on and the shop's granted scopes
(``shops.installations.scopes``, what Shopify answered at the install) lack what it needs, and
offers a re-authorisation link: ``GET /auth/shopify/install?shop=...&add=<scopes>`` asks Shopify
for SHOPIFY_SCOPES and the added ones: the missing scopes and the optional ones the shop granted
already, so none is lost (the authorization code grant again; the merchant approves in
Shopify). The callback stores the new token and its scopes, and the feature works from then on.

- ``inventory``: the inventory sync (``inventory_source`` shopify or fortnox) reads and writes
  Shopify's inventory levels: ``read_inventory``, ``write_inventory``.
- ``payouts``: booking Shopify Payments payouts (``payouts.enabled``) reads them:
  ``read_shopify_payments_payouts``.
- ``all_orders``: a backfill from more than 60 days ago: Shopify shows an app only the last 60
  days of orders without ``read_all_orders``.

A shop whose install recorded no scopes (a token stored with the CLI) is not second-guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import asyncpg

from libs.common.settings import Settings

INSTALL_PATH = "/auth/shopify/install"
ALL_ORDERS_DAYS = 60


@dataclass(frozen=True)
class Feature:
    name: str  # the feature in the merchant's words
    scopes: tuple[str, ...]


FEATURES = {
    "inventory": Feature("Inventory sync", ("read_inventory", "write_inventory")),
    "payouts": Feature("Booking Shopify Payments payouts", ("read_shopify_payments_payouts",)),
    "all_orders": Feature(
        f"Backfilling orders older than {ALL_ORDERS_DAYS} days", ("read_all_orders",)
    ),
}
OPTIONAL_SCOPES = frozenset(scope for feature in FEATURES.values() for scope in feature.scopes)


def missing_scopes(wanted: str, granted: str) -> list[str]:
    """Scopes asked for but not granted (``write_x`` covers ``read_x``)."""
    have = {part.strip() for part in granted.split(",") if part.strip()}
    have |= {"read_" + scope[6:] for scope in have if scope.startswith("write_")}
    return [s.strip() for s in wanted.split(",") if s.strip() and s.strip() not in have]


def lacking(feature: str, granted: str) -> list[str]:
    """The feature's scopes the grant lacks (none when the grant is unknown: empty)."""
    if not any(part.strip() for part in granted.split(",")):
        return []
    return missing_scopes(",".join(FEATURES[feature].scopes), granted)


def reauthorize_url(settings: Settings, shop: str, missing: list[str], granted: str) -> str:
    """The app's link that asks Shopify for the ``missing`` scopes, keeping the optional
    scopes the shop granted already (a new grant holds what it asked for)."""
    have = [s.strip() for s in granted.split(",") if s.strip() in OPTIONAL_SCOPES]
    query = urlencode({"shop": shop, "add": ",".join(dict.fromkeys([*have, *missing]))})
    return f"{settings.shopify_app_url.rstrip('/')}{INSTALL_PATH}?{query}"


def requested_scopes(settings: Settings, add: list[str]) -> str:
    """What a (re-)authorisation asks Shopify for: SHOPIFY_SCOPES and the added ones, once."""
    wanted = [s.strip() for s in settings.shopify_scopes.split(",") if s.strip()]
    return ",".join(dict.fromkeys([*wanted, *add]))


def parse_added(raw: str) -> list[str]:
    """The ``add`` of an install link: optional scopes only (ValueError names the others)."""
    scopes = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [scope for scope in scopes if scope not in OPTIONAL_SCOPES]
    if unknown:
        raise ValueError(
            f"add: only the optional scopes {', '.join(sorted(OPTIONAL_SCOPES))}"
            f" (not {', '.join(unknown)})"
        )
    return scopes


async def granted_scopes(conn: asyncpg.Pool | asyncpg.Connection, shop: str) -> str:
    """What Shopify granted the shop's install ("" for none recorded)."""
    value = await conn.fetchval("SELECT scopes FROM shops.installations WHERE shop = $1", shop)
    return str(value or "")


async def features_on(conn: asyncpg.Pool | asyncpg.Connection, shop: str) -> list[str]:
    """The optional features the shop's settings turn on (``mapper.shop_settings``)."""
    row = await conn.fetchrow(
        "SELECT settings->>'inventory_source' AS inventory,"
        " settings->'payouts'->>'enabled' AS payouts"
        " FROM mapper.shop_settings WHERE shop = $1",
        shop,
    )
    if row is None:
        return []
    on = ["inventory"] if row["inventory"] in ("shopify", "fortnox") else []
    return on + (["payouts"] if row["payouts"] == "true" else [])


def access(settings: Settings, shop: str, feature: str, granted: str) -> dict[str, Any]:
    """The feature's scopes, whether the shop granted them, and if not what to do (plainly)."""
    wanted = FEATURES[feature]
    missing = lacking(feature, granted)
    answer: dict[str, Any] = {
        "feature": feature,
        "scopes": list(wanted.scopes),
        "missing_scopes": missing,
        "granted": not missing,
    }
    if missing:
        answer["what_to_do"] = what_to_do(feature, missing)
        answer["reauthorize_url"] = reauthorize_url(settings, shop, missing, granted)
    return answer


def what_to_do(feature: str, missing: list[str]) -> str:
    permission = "permission" if len(missing) == 1 else "permissions"
    return (
        f"{FEATURES[feature].name} needs the Shopify {permission} {', '.join(missing)}, which"
        " this shop has not granted Fortbridge. Open the re-authorisation link and approve"
        f" the added {permission} in Shopify; {FEATURES[feature].name.lower()} then works."
    )
