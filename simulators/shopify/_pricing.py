"""Order money arithmetic for the payload builders: specs in, exact Decimal totals out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from ._money import Amount, allocate, cents, dec


@dataclass(frozen=True)
class LineSpec:
    title: str = "Ullsockor"
    price: Amount = "199.00"  # unit price in shop currency (incl. tax if taxes_included)
    quantity: int = 1
    tax_rate: Amount = "0.25"
    sku: str | None = "SOCK-WOOL-001"
    variant_title: str | None = None
    vendor: str = "Fortbridge Demo"
    taxable: bool = True
    requires_shipping: bool = True
    gift_card: bool = False
    grams: int = 250
    product_id: int | None = None
    variant_id: int | None = None
    tax_title: str | None = None  # default "Moms 25%"
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ShippingSpec:
    title: str = "PostNord MyPack Home"
    price: Amount = "49.00"
    tax_rate: Amount = "0.25"
    code: str = "postnord-mypack-home"
    source: str = "shopify"
    tax_title: str | None = None


@dataclass(frozen=True)
class DiscountSpec:
    code: str = "WELCOME10"
    value: Amount = "10"  # percent, or an amount in shop currency
    value_type: Literal["percentage", "fixed_amount"] = "percentage"


def _tax(net: Decimal, rate: Amount, taxes_included: bool) -> Decimal:
    r = dec(rate)
    return cents(net * r / (1 + r)) if taxes_included else cents(net * r)


@dataclass
class _Totals:
    units: list[Decimal]
    allocations: list[list[Decimal]]  # per line, per discount index
    code_amounts: list[Decimal]
    line_taxes: list[Decimal]
    ship_prices: list[Decimal]
    ship_taxes: list[Decimal]
    line_totals: list[Decimal] = field(default_factory=list)

    @property
    def line_items(self) -> Decimal:
        return sum(self.line_totals, Decimal(0))

    @property
    def discounts(self) -> Decimal:
        return sum(self.code_amounts, Decimal(0))

    @property
    def subtotal(self) -> Decimal:
        return self.line_items - self.discounts

    @property
    def shipping(self) -> Decimal:
        return sum(self.ship_prices, Decimal(0))

    @property
    def tax(self) -> Decimal:
        return sum(self.line_taxes, Decimal(0)) + sum(self.ship_taxes, Decimal(0))

    def total(self, taxes_included: bool) -> Decimal:
        return self.subtotal + self.shipping + (0 if taxes_included else self.tax)


def compute(
    lines: Sequence[LineSpec],
    shipping: Sequence[ShippingSpec],
    discounts: Sequence[DiscountSpec],
    taxes_included: bool,
    rate: Decimal,
) -> _Totals:
    units = [cents(dec(line.price) * rate) for line in lines]
    line_totals = [unit * line.quantity for unit, line in zip(units, lines, strict=True)]
    remaining = list(line_totals)
    allocations: list[list[Decimal]] = [[] for _ in lines]
    code_amounts: list[Decimal] = []
    for discount in discounts:
        eligible = [
            Decimal(0) if ln.gift_card else r for ln, r in zip(lines, remaining, strict=True)
        ]
        base = sum(eligible, Decimal(0))
        if discount.value_type == "percentage":
            amount = cents(base * dec(discount.value) / 100)
        else:
            amount = min(cents(dec(discount.value) * rate), base)
        for i, part in enumerate(allocate(amount, eligible)):
            allocations[i].append(part)
            remaining[i] -= part
        code_amounts.append(amount)
    line_taxes = [
        _tax(net, line.tax_rate, taxes_included) if line.taxable else Decimal(0)
        for net, line in zip(remaining, lines, strict=True)
    ]
    ship_prices = [cents(dec(s.price) * rate) for s in shipping]
    ship_taxes = [
        _tax(price, s.tax_rate, taxes_included)
        for price, s in zip(ship_prices, shipping, strict=True)
    ]
    return _Totals(
        units, allocations, code_amounts, line_taxes, ship_prices, ship_taxes, line_totals
    )
