"""Each action, applied by the first matching rule on top of the shop's default settings."""

from __future__ import annotations

from typing import Any

from services.mapper.accounting import ShopSettings
from simulators.shopify.payloads import LineSpec, order_payload
from tests.services.mapper.rules.support import only_document, plan, rule, rule_set, tagged


def document(actions: dict[str, Any], payload: dict[str, Any] | None = None) -> Any:
    command = only_document(
        plan("orders/create", payload or order_payload(), rule_set(rule(actions)))
    )
    return command


def test_first_matching_rule_wins_in_order() -> None:
    rules = rule_set(
        rule({"cost_center": "OFF"}, tagged("B2B"), name="disabled", enabled=False),
        rule({"cost_center": "B2B"}, tagged("B2B"), name="b2b"),
        rule({"cost_center": "ALL"}, None, name="everything"),
        rule({"cost_center": "NEVER"}, None, name="shadowed"),
    )
    b2b = only_document(plan("orders/create", order_payload(tags="B2B"), rules))
    other = only_document(plan("orders/create", order_payload(tags=""), rules))
    assert b2b.document and b2b.document.fields["CostCenter"] == "B2B"
    assert other.document and other.document.fields["CostCenter"] == "ALL"


def test_no_match_keeps_the_shop_default() -> None:
    rules = rule_set(rule({"document_kind": "order"}, tagged("B2B")))
    command = only_document(plan("orders/create", order_payload(), rules))
    assert command.document and command.document.kind == "invoice"
    assert command.document_key.endswith(":invoice") and command.rule_version == 1


def test_document_kind_order() -> None:
    command = document({"document_kind": "order"})
    assert command.document.kind == "order"
    assert command.document_key.endswith(":order")


def test_document_kind_none_skips_with_the_rule_named() -> None:
    result = plan("orders/create", order_payload(), rule_set(rule({"document_kind": "none"})))
    assert result.commands == []
    assert result.skipped and "no Fortnox document" in result.skipped
    assert "rule 1 'rule' (rule set version 1)" in result.skipped


def test_bookkeep_and_send_email() -> None:
    draft = document({"bookkeep": True, "send_email": True}).document
    assert draft.bookkeep and draft.send_email
    plain = document({}).document
    assert not plain.bookkeep and not plain.send_email


def test_header_actions() -> None:
    draft = document(
        {
            "terms_of_payment": "30",
            "our_reference": "Lisa",
            "cost_center": "WEB",
            "project": "P1",
            "price_list": "B",
            "language": "EN",
        }
    ).document
    assert (
        draft.fields.items()
        >= {
            "TermsOfPayment": "30",
            "OurReference": "Lisa",
            "CostCenter": "WEB",
            "Project": "P1",
            "PriceList": "B",
            "Language": "EN",
        }.items()
    )


def test_field_templates_override_and_empty_leaves_out() -> None:
    draft = document(
        {
            "cost_center": "WEB",
            "fields": {
                "Remarks": "Shopify {{ name }} / {{ email | upcase }}",
                "CostCenter": "{{ billing_address.company | default: 'PRIV' | slice: 0, 4 }}",
                "YourReference": "{{ customer.nothing }}",
            },
        }
    ).document
    assert (
        draft.fields["Remarks"].startswith("Shopify #")
        and "ANNA@EXAMPLE.COM" in draft.fields["Remarks"]
    )
    assert draft.fields["CostCenter"] == "PRIV"
    assert "YourReference" not in draft.fields


def test_accounts_per_vat_rate_and_market() -> None:
    lines = [LineSpec("Mugg", "100.00", 1, "0.25", "MUG"), LineSpec("Bok", "50.00", 1, "0.06", "B")]
    draft = document({"accounts": {"sweden": {"25": 3011}}}, order_payload(lines=lines)).document
    accounts = {row.description: row.account_number for row in draft.rows}
    assert accounts["Mugg"] == 3011 and accounts["Bok"] == 3003  # 6 % keeps the default


def test_article_number_sources() -> None:
    payload = order_payload(lines=[LineSpec("Mugg", "100.00", 1, "0.25", "MUG-1")])
    item = payload["line_items"][0]
    item["barcode"] = "7350000000017"
    item["properties"] = [{"name": "fortnox_article", "value": "ART 9"}]
    by = {
        source: document(
            {"article_number_source": source, "article_metafield": "fortnox_article"}, payload
        )
        .document.rows[0]
        .article_number
        for source in ("sku", "barcode", "variant_id", "metafield")
    }
    assert by == {
        "sku": "MUG-1",
        "barcode": "7350000000017",
        "variant_id": f"V{item['variant_id']}",
        "metafield": "ART_209",  # the reversible article-number encoding of "ART 9"
    }
    del item["barcode"]
    fallback = document({"article_number_source": "barcode"}, payload).document.rows[0]
    assert fallback.article_number == f"V{item['variant_id']}"  # sku_policy variant_id


def company_order() -> dict[str, Any]:
    payload = order_payload()
    payload["billing_address"]["company"] = "Acme AB"
    payload["note_attributes"] = [{"name": "organisation_number", "value": "556677-8899"}]
    return payload


def test_customer_match_key() -> None:
    default = document({}, company_order())
    assert default.customer.match_key == "organisation_number"
    by_email = document({"customer_match": "email"}, company_order())
    assert by_email.customer.match_key == "email"
    assert by_email.customer.match_value == "anna@example.com"


def test_default_guest_customer() -> None:
    guest = document(
        {"guest_customer_name": "Butikskund"}, order_payload(email=None, customer=None)
    )
    assert guest.customer.match_key == "default"
    assert guest.customer.match_value == "Butikskund"


def test_shipping_as_freight() -> None:
    draft = document({"shipping_as": "freight"}).document
    assert "Freight" in draft.fields
    assert not any(row.description.startswith("Frakt") for row in draft.rows)


def test_currency_choice() -> None:
    payload = order_payload(currency="SEK", presentment_currency="EUR", exchange_rate="11.5")
    assert document({}, payload).document.currency == "EUR"
    shop = document({"document_currency": "shop"}, payload).document
    assert shop.currency == "SEK" and "CurrencyRate" not in shop.fields
    auto = document({"currency_rate": "fortnox"}, payload).document
    assert auto.currency == "EUR" and "CurrencyRate" not in auto.fields


def test_shop_settings_are_the_default_under_the_rule() -> None:
    settings = ShopSettings(shipping_as="freight", bookkeep_invoices=True)
    rules = rule_set(rule({"bookkeep": False}, tagged("draft")))
    drafted = only_document(
        plan("orders/create", order_payload(tags="draft"), rules, None, settings)
    )
    booked = only_document(plan("orders/create", order_payload(), rules, None, settings))
    assert drafted.document and not drafted.document.bookkeep
    assert "Freight" in drafted.document.fields  # the shop's other settings still apply
    assert booked.document and booked.document.bookkeep
    assert booked.rule_version == 1
