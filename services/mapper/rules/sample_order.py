"""The sample order a template is tried on when a rule is saved (templates.check).

A Shopify order (REST shape) with the fields merchants' templates name filled in, so a template
that amplifies what it reads is refused at save; a field it names that is not here reads as
``template_work.PROBE_TEXT``. Read only: it is never sent anywhere.
"""

from __future__ import annotations

from typing import Any

_ADDRESS: dict[str, Any] = {
    "first_name": "Anna",
    "last_name": "Andersson",
    "name": "Anna Andersson",
    "company": "Exempel AB",
    "address1": "Storgatan 1",
    "address2": "Lgh 1201",
    "city": "Stockholm",
    "zip": "111 22",
    "province": "Stockholms län",
    "province_code": "AB",
    "country": "Sweden",
    "country_code": "SE",
    "phone": "+46 70-123 45 67",
}

SAMPLE_LINE_ITEM: dict[str, Any] = {
    "id": 13000000000100,
    "product_id": 8003815439580,
    "variant_id": 44003621011251,
    "title": "Mugg blå",
    "name": "Mugg blå - Stor",
    "variant_title": "Stor",
    "vendor": "Exempel Design",
    "sku": "MUG-BLUE-LARGE",
    "barcode": "7310000000017",
    "quantity": 2,
    "grams": 250,
    "price": "100.00",
    "total_discount": "0.00",
    "taxable": True,
    "gift_card": False,
    "requires_shipping": True,
    "fulfillment_status": None,
    "properties": [{"name": "project", "value": "P1"}, {"name": "Engraving", "value": "Anna"}],
    "tax_lines": [{"title": "Moms 25%", "rate": 0.25, "price": "40.00"}],
    "discount_allocations": [],
}

SAMPLE_ORDER: dict[str, Any] = {
    "id": 5000000000001,
    "name": "#1001",
    "order_number": 1001,
    "number": 1,
    "email": "anna@example.com",
    "contact_email": "anna@example.com",
    "phone": "+46701234567",
    "created_at": "2026-01-31T10:15:00+01:00",
    "processed_at": "2026-01-31T10:15:00+01:00",
    "updated_at": "2026-01-31T10:16:00+01:00",
    "currency": "SEK",
    "presentment_currency": "SEK",
    "customer_locale": "sv-SE",
    "financial_status": "paid",
    "fulfillment_status": "unfulfilled",
    "source_name": "web",
    "tags": "B2B, VIP",
    "note": "Leave the parcel at the door, please.",
    "note_attributes": [
        {"name": "PO", "value": "PO-4711"},
        {"name": "Organisation number", "value": "556677-8899"},
    ],
    "po_number": "PO-4711",
    "payment_gateway_names": ["shopify_payments", "gift_card"],
    "discount_codes": [{"code": "WELCOME10", "amount": "10.00", "type": "percentage"}],
    "total_price": "536.00",
    "subtotal_price": "487.00",
    "total_tax": "107.20",
    "total_discounts": "10.00",
    "total_weight": 500,
    "taxes_included": True,
    "test": False,
    "billing_address": _ADDRESS,
    "shipping_address": {**_ADDRESS, "address2": "Port 3"},
    "customer": {
        "id": 7002917309186,
        "email": "anna@example.com",
        "first_name": "Anna",
        "last_name": "Andersson",
        "phone": "+46701234567",
        "note": "Prefers e-mail invoices.",
        "tags": "wholesale, nordic",
        "default_address": _ADDRESS,
    },
    "line_items": [
        SAMPLE_LINE_ITEM,
        {**SAMPLE_LINE_ITEM, "id": 13000000000101, "sku": "CUP-RED", "title": "Kopp röd"},
    ],
    "shipping_lines": [
        {"title": "PostNord MyPack", "code": "postnord-mypack-home", "price": "49.00"}
    ],
    "tax_lines": [{"title": "Moms 25%", "rate": 0.25, "price": "107.20"}],
    "refunds": [],
}
