"""Decimal money helpers shared by the payload builders and the GraphQL shapes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
Amount = Decimal | str | int


def dec(value: Amount | None) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, float):  # defensive: money must never travel as float
        raise TypeError("money amounts must be Decimal, str or int, never float")
    return Decimal(value)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """REST style: always two decimals, e.g. "186.90"."""
    return f"{cents(value):.2f}"


def gql_decimal(value: Amount | None) -> str:
    """Admin GraphQL Decimal style: no padding zeros but at least one decimal, e.g. "186.9"."""
    text = format(dec(value).normalize(), "f")
    return text if "." in text else f"{text}.0"


def money_set(shop: Decimal, shop_currency: str, presentment: Decimal, pres_currency: str) -> Any:
    return {
        "shop_money": {"amount": money(shop), "currency_code": shop_currency},
        "presentment_money": {"amount": money(presentment), "currency_code": pres_currency},
    }


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` proportionally in cents; the last weighted share absorbs
    the rounding so the parts always add up to `total` exactly."""
    base = sum(weights, Decimal(0))
    if base == 0:
        return [Decimal(0) for _ in weights]
    parts = [cents(total * w / base) for w in weights]
    last = max(i for i, w in enumerate(weights) if w > 0)
    parts[last] = total - sum((p for i, p in enumerate(parts) if i != last), Decimal(0))
    return parts
