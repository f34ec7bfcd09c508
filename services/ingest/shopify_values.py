"""Admin GraphQL values in the REST webhook spelling: ids, times, money and statuses.

Shared by the order (shopify_orders.py) and refund (shopify_refunds.py) conversions.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# A MoneyBag selection: both sides, as every *_set of a webhook has them.
MONEY = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"


def legacy_id(value: Any) -> int | None:
    """The integer id of a global id ("gid://shopify/LineItem/123?x=y" -> 123)."""
    if value is None:
        return None
    tail = str(value).rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isascii() and tail.isdigit() else None


def shop_zone(name: Any) -> tzinfo:
    """The shop's time zone (webhooks give times with its offset); UTC when unknown."""
    try:
        return ZoneInfo(str(name)) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_time(value: Any, zone: tzinfo) -> str | None:
    """An ISO 8601 time in the shop's zone, as webhooks have it ("2026-11-15T12:00:00+01:00")."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).isoformat()


def amount(value: Any) -> str:
    """A GraphQL Decimal as a REST money string: at least two decimals ("186.9" -> "186.90")."""
    try:
        number = Decimal(str(value if value is not None else "0"))
    except InvalidOperation:
        return str(value)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        number = number.quantize(Decimal("0.01"))
    return format(number, "f")


_SIDES = (("shop_money", "shopMoney"), ("presentment_money", "presentmentMoney"))


def money_set(bag: Any) -> dict[str, Any] | None:
    """MoneyBag -> {shop_money, presentment_money} (None for a missing bag)."""
    if not isinstance(bag, dict):
        return None
    out: dict[str, Any] = {}
    for rest_side, gql_side in _SIDES:
        money = bag.get(gql_side) or {}
        out[rest_side] = {
            "amount": amount(money.get("amount")),
            "currency_code": money.get("currencyCode"),
        }
    return out


def shop_amount(bag: Any) -> str | None:
    """The shop-money amount of a MoneyBag, as a REST money string."""
    money = money_set(bag)
    return None if money is None else str(money["shop_money"]["amount"])


def priced(prefix: str, bag: Any) -> dict[str, Any]:
    """``{prefix: "12.00", prefix_set: {...}}`` from one MoneyBag."""
    return {prefix: shop_amount(bag), f"{prefix}_set": money_set(bag)}


def status(value: Any) -> str | None:
    """A GraphQL enum value in REST spelling ("PARTIALLY_REFUNDED" -> "partially_refunded")."""
    return str(value).lower() if value else None


def has_more(connection: Any) -> bool:
    """Did a connection hold more nodes than the page read?"""
    page = (connection or {}).get("pageInfo") if isinstance(connection, dict) else None
    return bool((page or {}).get("hasNextPage"))
