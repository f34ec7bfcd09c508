"""services.mapper.accounting.money: öre rounding on ties (a survivor of bench/mutation.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.mapper.accounting.money import cents


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        # Ties go away from zero (half to even would give 0.12, 2.66 and -0.12).
        ("0.125", "0.13"),
        ("2.665", "2.67"),
        ("-0.125", "-0.13"),
        # Not ties: the nearest öre either way.
        ("0.1249", "0.12"),
        ("-2.6651", "-2.67"),
        ("10", "10.00"),
    ],
)
def test_cents_rounds_ties_away_from_zero_and_credits_symmetrically(
    value: str, rounded: str
) -> None:
    result = cents(Decimal(value))
    assert result == Decimal(rounded) and str(result) == rounded
