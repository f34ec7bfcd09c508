from decimal import Decimal

import pytest

from libs.common import jsonutil


def test_decimals_are_written_with_their_exact_digits() -> None:
    text = jsonutil.dumps({"Price": Decimal("0.10"), "Rows": [Decimal("186.90"), 3, None, "a"]})
    assert text == '{"Price":0.10,"Rows":[186.90,3,null,"a"]}'
    assert jsonutil.loads(text)["Price"] == Decimal("0.10")


def test_big_amounts_do_not_lose_digits() -> None:
    amount = Decimal("12345678901234567.89")  # more digits than a float holds
    assert jsonutil.loads(jsonutil.dumps([amount]))[0] == amount


def test_non_finite_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        jsonutil.dumps(Decimal("NaN"))
