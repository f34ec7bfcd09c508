"""What a shop needs from its Fortnox (pure): from its settings, its enabled rules and its
recent orders, each need with where it comes from."""

from __future__ import annotations

from decimal import Decimal

from services.mapper.accounting import ShopSettings
from services.mapper.needs import needs_of
from services.mapper.rules.model import RuleSet
from simulators.shopify.payloads import LineSpec, order_payload


def rules(*rules: dict[str, object]) -> RuleSet:
    return RuleSet.model_validate(
        {"version": 1, "rules": [{"id": n + 1, **rule} for n, rule in enumerate(rules)]}
    )


def test_settings_rules_and_orders_make_the_needs() -> None:
    order = order_payload(
        lines=[LineSpec("Bier", "10.00", 1, "0.19", "BEER DE"), LineSpec("Ull", "5", 1, "0.25")]
    )
    order["shipping_address"] = {"country_code": "DE"}
    order["presentment_currency"] = "EUR"
    order["payment_gateway_names"] = ["klarna"]
    settings = ShopSettings(payment_modes={"klarna": "KLARNA"})
    rule_set = rules(
        {
            "name": "Wholesale",
            "actions": {"accounts": {"eu_vat": 3011}, "terms_of_payment": "45"},
        },
        {"name": "Off", "enabled": False, "actions": {"accounts": {"export": 3999}}},
    )
    needs = needs_of(settings, rule_set, [order])
    assert needs.vat_rates[Decimal(19)] == [f"order {order['name']} to DE"]
    assert {Decimal(25), Decimal(12), Decimal(6)} <= set(needs.vat_rates)
    # An account for 0 % is no need of 0 %: only untaxed lines or prices excluding VAT (the
    # öre-rounding row) are.
    assert Decimal(0) not in needs.vat_rates
    untaxed = order_payload(lines=[LineSpec("Presentkort", "100.00", 1, "0", taxable=False)])
    excluding = order_payload(taxes_included=False)
    zero = needs_of(settings, rule_set, [untaxed, excluding]).vat_rates[Decimal(0)]
    assert zero == [
        f"order {untaxed['name']}",
        f"order {excluding['name']} (öre rounding, prices excluding VAT)",
    ]
    assert needs.accounts[3011] == ["rule 'Wholesale': accounts.eu_vat"]
    assert 3106 in needs.accounts and 3999 not in needs.accounts  # disabled rules don't count
    assert needs.terms_of_payment["45"] == ["rule 'Wholesale'"]
    assert needs.payment_modes["KLARNA"] == ["klarna payments"]
    assert "KORT" in needs.payment_modes  # the default mode
    assert set(needs.currencies) == {"SEK", "EUR"}
    assert "payments" in needs.features
    [change] = needs.sku_changes
    assert (change.sku, change.article_number, change.too_long) == ("BEER DE", "BEER_20DE", False)


def test_a_template_is_not_a_code_and_sources_stay_few() -> None:
    orders = [order_payload(lines=[LineSpec("Bier", "10", 1, "0.19", "B")]) for _ in range(10)]
    rule_set = rules({"name": "T", "actions": {"fields": {"TermsOfPayment": "{{ order.note }}"}}})
    needs = needs_of(ShopSettings(), rule_set, orders)
    assert needs.terms_of_payment == {}
    assert len(needs.vat_rates[Decimal(19)]) == 3
