from decimal import Decimal
from typing import Any

import pytest

from services.mapper.order_invoice import (
    MappingSettings,
    UnmappableOrder,
    document_total,
    order_to_command,
    vat_rate,
)

SHOP = "demo.myshopify.com"


def order(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 5_000_000_000_001,
        "name": "#1001",
        "email": "Anna@Example.com",
        "currency": "SEK",
        "taxes_included": True,
        "created_at": "2026-11-27T23:30:00+01:00",
        "updated_at": "2026-11-27T23:30:00+01:00",
        "total_price": "329.00",
        "current_total_price": "329.00",
        "customer": {"first_name": "Anna", "last_name": "Svensson", "email": "anna@example.com"},
        "billing_address": {"city": "Lund", "zip": "22100", "country_code": "SE"},
        "line_items": [
            {
                "title": "Mug",
                "sku": "MUG-1",
                "quantity": 2,
                "price": "100.00",
                "taxable": True,
                "total_discount": "0.00",
                "tax_lines": [{"rate": 0.25, "price": "40.00", "title": "Moms"}],
            },
            {
                "title": "Cookbook",
                "sku": "BOOK-7",
                "quantity": 1,
                "price": "100.00",
                "taxable": True,
                "total_discount": "0.00",
                "discount_allocations": [{"amount": "20.00"}],
                "tax_lines": [{"rate": 0.06, "price": "4.53", "title": "Moms"}],
            },
        ],
        "shipping_lines": [
            {
                "title": "PostNord",
                "price": "49.00",
                "tax_lines": [{"rate": 0.25, "price": "9.80", "title": "Moms"}],
            }
        ],
    }
    base.update(overrides)
    return base


def test_order_becomes_invoice_command_with_rows_vat_and_reference() -> None:
    command = order_to_command(SHOP, order(), MappingSettings())
    doc = command.document
    assert command.document_key == f"{SHOP}:order:5000000000001:invoice"
    assert doc.external_reference == "shopify-5000000000001"
    assert doc.your_order_number == "#1001"
    assert doc.vat_included is True
    assert doc.currency == "SEK"
    assert doc.document_date == "2026-11-27"  # the shop's local date, not UTC's
    assert [(r.article_number, r.quantity, r.price, r.vat, r.discount) for r in doc.rows] == [
        ("MUG-1", Decimal(2), Decimal("100.00"), Decimal(25), Decimal(0)),
        ("BOOK-7", Decimal(1), Decimal("100.00"), Decimal(6), Decimal("20.00")),
        (None, Decimal(1), Decimal("49.00"), Decimal(25), Decimal(0)),
    ]
    assert {a.article_number for a in command.articles} == {"MUG-1", "BOOK-7"}
    assert command.customer.match_key == "email"
    assert command.customer.match_value == "anna@example.com"
    assert command.expected_total == Decimal("329.00")
    assert document_total(list(doc.rows), vat_included=True) == command.expected_total


def test_guest_order_uses_default_customer() -> None:
    command = order_to_command(
        SHOP, order(email=None, customer=None, billing_address=None), MappingSettings("Webshop")
    )
    assert command.customer.match_key == "default"
    assert command.customer.fields["Name"] == "Webshop"


def test_taxes_excluded_total_adds_vat_per_rate() -> None:
    rows = order_to_command(SHOP, order(taxes_included=False), MappingSettings()).document.rows
    # 200 + 80 + 49 = 329 net; VAT 25 % of 249 = 62.25, 6 % of 80 = 4.80
    assert document_total(list(rows), vat_included=False) == Decimal("396.05")


def test_untaxed_line_gets_zero_vat() -> None:
    assert vat_rate([{"rate": 0.25}], taxable=False) == 0
    assert vat_rate([]) == 0
    assert vat_rate([{"rate": 0.255}]) == Decimal("25.5")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"line_items": []}, "no line items"),
        ({"currency": None}, "no currency"),
        ({"id": None}, "no integer id"),
    ],
)
def test_unmappable_orders_are_refused_in_plain_english(
    overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UnmappableOrder) as caught:
        order_to_command(SHOP, order(**overrides), MappingSettings())
    assert reason in caught.value.message


def test_float_money_is_refused() -> None:
    bad = order()
    bad["line_items"][0]["price"] = 100.0
    with pytest.raises(UnmappableOrder, match="decimal string"):
        order_to_command(SHOP, bad, MappingSettings())
