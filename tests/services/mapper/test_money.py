"""services.mapper.accounting.money: öre rounding on ties (a survivor of bench/mutation.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.mapper.accounting.money import (
    Pricing,
    UnmappableOrder,
    cents,
    money,
    pricing_for,
    quantity,
)


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


# What the mapper refuses, and how: the code becomes the failed job's error code (the replayer
# groups causes by it), the message names the field path and the value the merchant must fix.
@pytest.mark.parametrize(
    ("value", "code", "message"),
    [
        (True, "bad_money", "price must be a decimal string, got True"),
        (None, "bad_money", "price must be a decimal string, got None"),
        (1.5, "bad_money", "price must be a decimal string, got 1.5"),
        ("abc", "bad_money", "price is not a number: 'abc'"),
        ("NaN", "bad_money", "price is not a finite number: 'NaN'"),
        ("-Infinity", "bad_money", "price is not a finite number: '-Infinity'"),
    ],
)
def test_money_refuses_what_is_not_a_finite_decimal_string(
    value: object, code: str, message: str
) -> None:
    with pytest.raises(UnmappableOrder) as refused:
        money(value, "price")
    assert (refused.value.code, str(refused.value)) == (code, message)


def test_money_and_quantity_take_decimal_strings_and_integers() -> None:
    assert money("186.90", "price") == Decimal("186.90")
    assert money(12, "price") == Decimal(12)
    assert quantity(3, "quantity") == Decimal(3)


@pytest.mark.parametrize("value", [True, None, 1.5])
def test_quantity_refuses_what_is_not_an_integer(value: object) -> None:
    with pytest.raises(UnmappableOrder) as refused:
        quantity(value, "line_items[0].quantity")
    assert refused.value.code == "bad_quantity"
    assert str(refused.value) == f"line_items[0].quantity must be an integer, got {value!r}"


SEK = Pricing("SEK", "SEK", use_presentment=False, currency_rate=None)
EUR = Pricing("EUR", "SEK", use_presentment=True, currency_rate=None)
BOTH = {"shop_money": {"amount": "110.00"}, "presentment_money": {"amount": "10.00"}}


def test_an_amount_is_read_from_the_documents_side_of_its_money_set() -> None:
    line = {"price": "110.00", "price_set": BOTH}
    assert SEK.amount(line, "price", "line") == Decimal("110.00")
    assert EUR.amount(line, "price", "line") == Decimal("10.00")
    # Only the set (no plain field): still the document's side.
    assert SEK.amount({"price_set": BOTH}, "price", "line") == Decimal("110.00")
    assert SEK.set_amount(BOTH, "refund.amount_set") == Decimal("110.00")
    assert EUR.set_amount(BOTH, "refund.amount_set") == Decimal("10.00")


def test_a_foreign_currency_document_never_takes_the_shops_plain_amount() -> None:
    with pytest.raises(UnmappableOrder) as refused:
        EUR.amount({"price": "110.00"}, "price", "line_items[0]")
    assert refused.value.code == "missing_presentment_money"
    assert str(refused.value) == (
        "line_items[0].price_set has no EUR amount, and the document is in EUR "
        "(the shop's currency is SEK)"
    )
    # Without the field at all, and no default, the same refusal.
    with pytest.raises(UnmappableOrder) as absent:
        EUR.amount({}, "price", "line_items[0]")
    assert absent.value.code == "missing_presentment_money"
    # Zero is zero in any currency: a plain zero, or a zero default for an absent field.
    assert EUR.amount({"total_discounts": "0.00"}, "total_discounts", "order") == 0
    assert EUR.amount({}, "total_discounts", "order", default="0") == 0


def test_an_absent_amount_takes_its_default_or_is_refused_by_its_path() -> None:
    assert SEK.amount({}, "total_tax", "order", default="0") == 0
    with pytest.raises(UnmappableOrder) as refused:
        SEK.amount({}, "total_tax", "order")
    assert str(refused.value) == "order.total_tax must be a decimal string, got None"
    with pytest.raises(UnmappableOrder) as garbage:
        EUR.amount({"price_set": {"presentment_money": {"amount": "x"}}}, "price", "line")
    assert str(garbage.value) == "line.price_set.presentment_money.amount is not a number: 'x'"


def test_a_money_set_without_the_documents_side_is_refused_by_its_path() -> None:
    for money_set in ({"shop_money": {"amount": "110.00"}}, None, "10.00"):
        with pytest.raises(UnmappableOrder) as refused:
            EUR.set_amount(money_set, "refund.amount_set")
        assert refused.value.code == "missing_money"
        assert str(refused.value) == "refund.amount_set has no presentment_money"
    with pytest.raises(UnmappableOrder) as garbage:
        SEK.set_amount({"shop_money": {"amount": "x"}}, "refund.amount_set")
    assert str(garbage.value) == "refund.amount_set.shop_money.amount is not a number: 'x'"


def _order(shop: str, presentment: str) -> dict[str, object]:
    return {
        "currency": "SEK",
        "presentment_currency": "EUR",
        "total_price_set": {
            "shop_money": {"amount": shop, "currency_code": "SEK"},
            "presentment_money": {"amount": presentment, "currency_code": "EUR"},
        },
    }


def test_the_explicit_rate_is_shop_over_presentment_total_rounded_half_up() -> None:
    # 1409 / 128 = 11.0078125: half-up gives ...13 (half to even would give ...12).
    pricing = pricing_for(_order("1409.00", "128.00"), "presentment", "explicit", "SEK")
    assert pricing == Pricing("EUR", "SEK", True, Decimal("11.007813"))
    # Fortnox's own rate: none given; the shop's currency: no rate, the shop's side.
    assert pricing_for(_order("1409.00", "128.00"), "presentment", "fortnox", "SEK") == Pricing(
        "EUR", "SEK", True, None
    )
    assert pricing_for(_order("1409.00", "128.00"), "shop", "explicit", "SEK") == Pricing(
        "SEK", "SEK", False, None
    )


def test_pricing_refuses_an_order_it_cannot_price() -> None:
    with pytest.raises(UnmappableOrder) as no_currency:
        pricing_for({}, "shop", "explicit", "SEK")
    assert (no_currency.value.code, str(no_currency.value)) == (
        "missing_currency",
        "the order has no currency",
    )
    no_totals = {"currency": "SEK", "presentment_currency": "EUR"}
    with pytest.raises(UnmappableOrder) as no_rate:
        pricing_for(no_totals, "presentment", "explicit", "SEK")
    assert (no_rate.value.code, str(no_rate.value)) == (
        "missing_rate",
        "total_price_set is needed to derive the currency rate",
    )
    for shop, presentment, field in [
        ("x", "1.00", "total_price_set.shop_money"),
        ("1.00", "x", "total_price_set.presentment_money"),
    ]:
        with pytest.raises(UnmappableOrder) as garbage:
            pricing_for(_order(shop, presentment), "presentment", "explicit", "SEK")
        assert str(garbage.value) == f"{field} is not a number: 'x'"
