"""Document totals computed the way Fortnox computes them, and the rounding row that makes the
Fortnox total equal the Shopify total to the öre (or a clear refusal when nothing can).

Fortnox's rules (reproduced from a recorded real invoice; the simulator uses the same):
row total = price x quantity - discount, rounded to öre per row; VAT per rate on the sum of the
rows of that rate (``base x rate / 100``, or ``base x rate / (100 + rate)`` with VAT included);
Freight carries 25 % VAT; total = net + VAT; with "round to whole kronor" on, Total is rounded
and the difference is RoundOff.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from libs.common.messages import InvoiceRowDraft
from services.mapper.accounting.money import HUNDRED, ZERO, UnmappableOrder, cents

FREIGHT_VAT = Decimal("25")
MAX_ROWS = 500


@dataclass(frozen=True)
class Totals:
    total: Decimal
    unrounded: Decimal
    vat_by_rate: dict[Decimal, Decimal]
    freight_vat: Decimal

    @property
    def round_off(self) -> Decimal:
        return self.total - self.unrounded


def row_amount(price: Decimal, quantity: Decimal, discount: Decimal = ZERO) -> Decimal:
    return cents(price * quantity - discount)


def vat_of(base: Decimal, rate: Decimal, vat_included: bool) -> Decimal:
    if vat_included:
        return cents(base * rate / (HUNDRED + rate))
    return cents(base * rate / HUNDRED)


def fortnox_totals(
    rows: Iterable[InvoiceRowDraft],
    *,
    vat_included: bool,
    freight: Decimal = ZERO,
    round_to_whole: bool = False,
) -> Totals:
    base: dict[Decimal, Decimal] = {}
    gross = ZERO
    for row in rows:
        if row.discount_type == "PERCENT":
            amount = cents(row.price * row.quantity * (HUNDRED - row.discount) / HUNDRED)
        else:
            amount = row_amount(row.price, row.quantity, row.discount)
        gross += amount
        base[row.vat] = base.get(row.vat, ZERO) + amount
    vat = {rate: vat_of(amount, rate, vat_included) for rate, amount in base.items()}
    freight_vat = vat_of(freight, FREIGHT_VAT, vat_included)
    rows_vat = sum(vat.values(), ZERO)
    unrounded = gross + freight
    if not vat_included:
        unrounded += rows_vat + freight_vat
    total = unrounded.quantize(Decimal("1"), ROUND_HALF_UP) if round_to_whole else unrounded
    return Totals(total, unrounded, vat, freight_vat)


def reconcile(
    rows: list[InvoiceRowDraft],
    target: Decimal,
    *,
    vat_included: bool,
    freight: Decimal,
    round_to_whole: bool,
    max_rounding: Decimal,
    rounding_row: InvoiceRowDraft,
    what: str,
) -> list[InvoiceRowDraft]:
    """``rows`` plus, when needed, a 0 % rounding row so that Fortnox's total equals ``target``.

    Refuses (UnmappableOrder) when the document has more than 500 rows, when the rounding needed
    exceeds ``max_rounding`` (the data does not add up: posting it would hide an error), or
    when Fortnox rounds totals to whole kronor and ``target`` has öre.
    """
    if round_to_whole and target != target.quantize(Decimal("1")):
        raise UnmappableOrder(
            f"{what}: the Fortnox company rounds invoice totals to whole kronor, so no invoice can "
            f"total {target}; turn off öre rounding in Fortnox or in the shop's settings",
            code="rounding_impossible",
        )
    computed = fortnox_totals(rows, vat_included=vat_included, freight=freight)
    difference = target - computed.unrounded
    if difference:
        if abs(difference) > max_rounding:
            raise UnmappableOrder(
                f"{what}: the rows add up to {computed.unrounded} in Fortnox but the Shopify "
                f"total is {target}; a difference of {difference} is more than rounding",
                code="total_mismatch",
            )
        rows = [*rows, rounding_row.model_copy(update={"price": difference})]
    if len(rows) > MAX_ROWS:
        raise UnmappableOrder(
            f"{what} needs {len(rows)} rows and Fortnox allows at most {MAX_ROWS} per document; "
            "Fortbridge refuses rather than splitting an order over several invoices",
            code="too_many_rows",
        )
    check = fortnox_totals(
        rows, vat_included=vat_included, freight=freight, round_to_whole=round_to_whole
    )
    if check.total != target:  # pragma: no cover - the rounding row makes this exact
        raise UnmappableOrder(
            f"{what}: Fortnox would total {check.total}, not {target}", code="total_mismatch"
        )
    return rows
