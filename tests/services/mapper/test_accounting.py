"""Unit tests of the accounting modules: articles, VAT and markets, customers, settings,
totals and the planner's refusals in plain English."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.mapper.accounting import ShopSettings, UnmappableOrder, invoice_command, plan_event
from services.mapper.accounting.articles import article_number, sku_from_article_number
from services.mapper.accounting.customers import customer_draft
from services.mapper.accounting.vat import market_for, sales_account, vat_rate
from simulators.shopify.payloads import LineSpec, address_payload, order_payload

SHOP = "unit.myshopify.com"


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=12))
def test_article_numbers_are_reversible(sku: str) -> None:
    number = article_number(sku)
    assert set(number) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._")
    assert sku_from_article_number(number) == sku


def test_plain_skus_pass_unchanged() -> None:
    assert article_number("SOCK-WOOL-001") == "SOCK-WOOL-001"
    assert article_number("a_b") == "a_5Fb"


def test_vat_rate_from_tax_lines() -> None:
    assert vat_rate([{"rate": 0.25}], taxable=False) == 0
    assert vat_rate([]) == 0
    assert vat_rate([{"rate": 0.255}]) == Decimal("25.5")
    assert vat_rate([{"rate": 0.12}]) == 12


def test_vat_rate_adds_several_tax_lines_and_keeps_small_rates() -> None:
    assert vat_rate([{"rate": 0.2}, {"rate": 0.05}]) == 25
    assert vat_rate([{"rate": 0.25}, {"title": "Eco fee"}]) == 25  # no rate: adds nothing
    assert vat_rate([{"rate": 0.01}]) == 1  # 1 % is a rate, not untaxed


@pytest.mark.parametrize(
    ("country", "charged", "vat_number", "market"),
    [
        ("SE", True, None, "sweden"),
        ("DE", True, None, "eu_vat"),
        ("DE", True, "DE123", "eu_vat"),
        ("DE", False, "DE123", "eu_reverse"),
        ("US", False, None, "export"),
        ("NO", True, None, "sweden"),
    ],
)
def test_market(country: str, charged: bool, vat_number: str | None, market: str) -> None:
    assert market_for(country, "SE", charged, vat_number) == market


def test_accounts_per_market_and_rate() -> None:
    accounts = ShopSettings().accounts
    assert sales_account(accounts, "sweden", Decimal("25")) == 3001
    assert sales_account(accounts, "sweden", Decimal("6")) == 3003
    assert sales_account(accounts, "sweden", Decimal("19")) is None
    assert sales_account(accounts, "eu_vat", Decimal("19")) == 3106
    assert sales_account(accounts, "eu_reverse", Decimal("0")) == 3108
    assert sales_account(accounts, "export", Decimal("0")) == 3105
    assert sales_account(accounts, "eu_vat", Decimal("0")) == 3108  # EU, no VAT charged


def test_a_rate_that_normalizes_to_an_exponent_still_finds_its_account() -> None:
    # 10 % from the tax lines is Decimal("1E+1"): the account key is "10".
    accounts = ShopSettings().accounts.model_copy(update={"sweden": {"10": 3010, "25": 3001}})
    assert sales_account(accounts, "sweden", vat_rate([{"rate": 0.1}])) == 3010
    assert sales_account(accounts, "sweden", vat_rate([{"rate": 0.25}])) == 3001


def test_company_from_customer_metafield_and_vat_number_from_note_attribute() -> None:
    order = order_payload(billing_address=address_payload(country_code="DK"))
    order["customer"]["metafields"] = [{"namespace": "b2b", "key": "company", "value": "Hygge ApS"}]
    order["note_attributes"] = [{"name": "VAT number", "value": "dk 12 34 56 78"}]
    draft = customer_draft(order, ShopSettings(vat_number_keys=("vat number",)), "eu_reverse")
    assert draft.fields["Name"] == "Hygge ApS"
    assert draft.fields["Type"] == "COMPANY"
    assert draft.fields["VATNumber"] == "DK12345678"
    assert draft.fields["VATType"] == "EUREVERSEDVAT"
    assert (draft.match_key, draft.match_value) == ("email", "anna@example.com")


def test_guest_uses_the_default_customer_from_settings() -> None:
    order = order_payload(email=None, customer=None, billing_address=None)
    command = invoice_command(SHOP, order, ShopSettings(guest_customer_name="Webbkund"))
    assert command.customer is not None
    assert command.customer.match_key == "default"
    assert command.customer.fields["Name"] == "Webbkund"


def test_settings_defaults_are_bas() -> None:
    s = ShopSettings()
    assert s.accounts.sweden == {"25": 3001, "12": 3002, "6": 3003, "0": 3004}
    assert (s.accounts.gift_card_liability, s.accounts.eu_vat, s.accounts.eu_vat_free) == (
        2420,
        3106,
        3108,
    )
    assert s.payment_mode("gift_card") == "PRESENTKORT"
    assert s.payment_mode("unknown_gateway") == "KORT"
    with pytest.raises(ValueError):
        ShopSettings.model_validate({"no_such_setting": 1})


def _order(**overrides: Any) -> dict[str, Any]:
    order = order_payload(5_000_000_000_001)
    order.update(overrides)
    return order


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"line_items": []}, "no line items"),
        ({"currency": None}, "no currency"),
        ({"id": None}, "no integer id"),
        ({"updated_at": "yesterday"}, "ISO 8601"),
    ],
)
def test_unmappable_orders_are_refused_in_plain_english(
    overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UnmappableOrder) as caught:
        plan_event(SHOP, "orders/create", _order(**overrides), ShopSettings(), None)
    assert reason in caught.value.message


def test_float_money_is_refused() -> None:
    bad = _order()
    bad["line_items"][0]["price"] = 199.0
    with pytest.raises(UnmappableOrder, match="decimal string"):
        invoice_command(SHOP, bad, ShopSettings())


def test_rounding_row_only_when_fortnox_would_differ() -> None:
    lines = [LineSpec(f"V{i}", "0.99", 1, "0.25", f"V-{i}") for i in range(9)]
    included = invoice_command(SHOP, order_payload(lines=lines), ShopSettings())
    excluded = invoice_command(
        SHOP, order_payload(lines=lines, taxes_included=False), ShopSettings()
    )
    assert included.document is not None and excluded.document is not None
    assert all(r.description != "Öresavrundning" for r in included.document.rows)
    [rounding] = [r for r in excluded.document.rows if r.description == "Öresavrundning"]
    assert (rounding.vat, rounding.account_number) == (0, 3740)


def test_settings_change_the_document() -> None:
    order = order_payload(presentment_currency="EUR", exchange_rate="0.087")
    sek = invoice_command(SHOP, order, ShopSettings(document_currency="shop"))
    auto = invoice_command(SHOP, order, ShopSettings(currency_rate="fortnox"))
    freight = invoice_command(SHOP, order, ShopSettings(shipping_as="freight"))
    assert sek.document is not None and auto.document is not None and freight.document
    assert sek.document.currency == "SEK" and "CurrencyRate" not in sek.document.fields
    assert auto.document.currency == "EUR" and "CurrencyRate" not in auto.document.fields
    assert freight.document.fields["Freight"] == Decimal("4.26")


def _split_tax_line(line: dict[str, Any], rates: tuple[str, str]) -> None:
    """Replace a line's one tax line by two (as a shop with two taxes shows it), same sum."""
    [tax] = line["tax_lines"]
    whole = Decimal(tax["price"])
    first_rate, second_rate = (Decimal(r) for r in rates)
    first = (whole * first_rate / (first_rate + second_rate)).quantize(Decimal("0.01"))
    parts = [(first_rate, first), (second_rate, whole - first)]
    line["tax_lines"] = [
        {
            **tax,
            "rate": float(rate),
            "title": f"Tax {rate}",
            "price": f"{amount:.2f}",
            "price_set": {
                key: {**value, "amount": f"{amount:.2f}"} for key, value in tax["price_set"].items()
            },
        }
        for rate, amount in parts
    ]


def test_vat_of_a_line_with_several_tax_lines_is_their_sum() -> None:
    assert vat_rate([{"rate": 0.2}, {"rate": 0.05}]) == 25
    order = order_payload(
        lines=[LineSpec("Bok", "199.00", 2, "0.25", "BOK-1"), LineSpec("Te", "49.00", 1, "0.12")]
    )
    _split_tax_line(order["line_items"][0], ("0.20", "0.05"))
    _split_tax_line(order["line_items"][1], ("0.07", "0.05"))
    command = invoice_command(SHOP, order, ShopSettings())
    assert command.document is not None
    by_article = {r.article_number: r for r in command.document.rows if r.article_number}
    assert by_article["BOK-1"].vat == 25
    [tea] = [r for r in command.document.rows if r.description == "Te"]
    assert tea.vat == 12
    assert all(r.description != "Öresavrundning" for r in command.document.rows)
