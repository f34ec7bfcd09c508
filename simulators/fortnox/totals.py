"""Fortnox-style document totals (pure functions, Decimal throughout).

Fortnox's exact rules are undocumented; the simulator uses these, which reproduce a recorded
real invoice (rows 100 @ 25 %, Freight 25, AdministrationFee 50 -> FreightVAT 6.25,
AdministrationFeeVAT 12.5, TotalVAT 43.75, Total 219, RoundOff 0.25):

1. Row total = Price x quantity (DeliveredQuantity), less the discount, rounded to 2 decimals
   half-up per row. ``DiscountType`` AMOUNT subtracts ``Discount`` from the row;
   PERCENT multiplies by ``(100 - Discount) / 100``. Row totals are in the document's price
   basis: VAT-exclusive, or VAT-inclusive when ``VATIncluded`` is true.
2. VAT is computed per rate on the SUM of the row totals of that rate, rounded to 2 decimals
   half-up: ``base x rate / 100`` when prices exclude VAT, ``base x rate / (100 + rate)`` when
   they include it (then the net of that rate is ``base - VAT``). Fortnox does not document
   this: with ``vat_rounding="per_row"`` (a tenant setting of the simulator) each row's VAT is
   rounded to öre on its own and the rows' VAT summed per rate instead, the other rule an
   integration must survive (over many rows excluding VAT the two differ by several öre).
3. Freight and AdministrationFee carry VAT at 25 % (FreightVAT, AdministrationFeeVAT), on the
   same price basis as the rows.
4. Net = sum of the rows excluding VAT (freight and fee are not part of Net).
   Gross = sum of the row totals as entered.
   TotalVAT = row VAT + FreightVAT + AdministrationFeeVAT.
   Unrounded total = Net + freight and fee excluding VAT + TotalVAT.
5. When rounding to whole units applies (tenant setting ``round_to_whole_sek`` and currency
   SEK), Total = unrounded total rounded half-up to 0 decimals and
   RoundOff = Total - unrounded; otherwise RoundOff = 0 and Total = unrounded total.

Per-row read-only values: ``Total`` (row total as entered), ``TotalExcludingVAT`` and
``PriceExcludingVAT`` (each derived from the VAT-inclusive value by dividing by
``1 + rate/100`` and rounding to 2 decimals when ``VATIncluded`` is true).
Half-up rounding is symmetric around zero, so a credit invoice's totals are exactly the negation
of the original's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

VatRounding = Literal["per_rate", "per_row"]
VAT_ROUNDINGS: tuple[VatRounding, ...] = ("per_rate", "per_row")

CENT = Decimal("0.01")
UNIT = Decimal("1")
HUNDRED = Decimal("100")
ZERO = Decimal("0")
FEE_VAT_RATE = Decimal("25")


def round_money(value: Decimal) -> Decimal:
    """Round to 2 decimals, half-up (away from zero on ties)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_whole(value: Decimal) -> Decimal:
    return value.quantize(UNIT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RowInput:
    price: Decimal
    quantity: Decimal
    vat: Decimal
    discount: Decimal = ZERO
    discount_type: str = "PERCENT"  # or "AMOUNT"


@dataclass(frozen=True)
class RowTotals:
    total: Decimal
    total_excluding_vat: Decimal
    price_excluding_vat: Decimal


@dataclass(frozen=True)
class DocumentTotals:
    rows: tuple[RowTotals, ...] = ()
    net: Decimal = ZERO
    gross: Decimal = ZERO
    vat_by_rate: Mapping[Decimal, Decimal] = field(default_factory=dict)
    freight_vat: Decimal = ZERO
    administration_fee_vat: Decimal = ZERO
    total_vat: Decimal = ZERO
    round_off: Decimal = ZERO
    total: Decimal = ZERO


def row_total(row: RowInput) -> Decimal:
    amount = row.price * row.quantity
    if row.discount_type == "AMOUNT":
        amount -= row.discount
    else:
        amount = amount * (HUNDRED - row.discount) / HUNDRED
    return round_money(amount)


def _excluding_vat(value: Decimal, rate: Decimal, vat_included: bool) -> Decimal:
    if not vat_included:
        return value
    return round_money(value * HUNDRED / (HUNDRED + rate))


def vat_of(base: Decimal, rate: Decimal, vat_included: bool) -> Decimal:
    """VAT on ``base`` at ``rate`` percent; ``base`` includes VAT when ``vat_included``."""
    if vat_included:
        return round_money(base * rate / (HUNDRED + rate))
    return round_money(base * rate / HUNDRED)


def compute_totals(
    rows: Iterable[RowInput],
    *,
    vat_included: bool = False,
    freight: Decimal = ZERO,
    administration_fee: Decimal = ZERO,
    round_to_whole: bool = False,
    vat_rounding: VatRounding = "per_rate",
) -> DocumentTotals:
    row_list = list(rows)
    row_totals: list[RowTotals] = []
    base_by_rate: dict[Decimal, Decimal] = {}
    row_vat_by_rate: dict[Decimal, Decimal] = {}
    for row in row_list:
        total = row_total(row)
        row_totals.append(
            RowTotals(
                total=total,
                total_excluding_vat=_excluding_vat(total, row.vat, vat_included),
                price_excluding_vat=_excluding_vat(row.price, row.vat, vat_included),
            )
        )
        base_by_rate[row.vat] = base_by_rate.get(row.vat, ZERO) + total
        row_vat_by_rate[row.vat] = row_vat_by_rate.get(row.vat, ZERO) + vat_of(
            total, row.vat, vat_included
        )

    if vat_rounding == "per_row":
        vat_by_rate = row_vat_by_rate
    else:
        vat_by_rate = {
            rate: vat_of(base, rate, vat_included) for rate, base in base_by_rate.items()
        }
    gross = sum((r.total for r in row_totals), ZERO)
    rows_vat = sum(vat_by_rate.values(), ZERO)
    net = gross - rows_vat if vat_included else gross

    freight_vat = vat_of(freight, FEE_VAT_RATE, vat_included)
    fee_vat = vat_of(administration_fee, FEE_VAT_RATE, vat_included)
    freight_net = freight - freight_vat if vat_included else freight
    fee_net = administration_fee - fee_vat if vat_included else administration_fee

    total_vat = rows_vat + freight_vat + fee_vat
    unrounded = net + freight_net + fee_net + total_vat
    total = round_whole(unrounded) if round_to_whole else unrounded
    return DocumentTotals(
        rows=tuple(row_totals),
        net=net,
        gross=gross,
        vat_by_rate=vat_by_rate,
        freight_vat=freight_vat,
        administration_fee_vat=fee_vat,
        total_vat=total_vat,
        round_off=total - unrounded,
        total=total,
    )
