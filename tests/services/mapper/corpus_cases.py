"""The corpus's cases: realistic order payloads (simulators/shopify/payloads.py) with the
changes each case needs, then refunds, edits, cancellations and payments on some of them."""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.shopify.payloads import (
    DiscountSpec,
    LineSpec,
    ShippingSpec,
    address_payload,
    customer_payload,
    order_payload,
)
from tests.services.mapper.corpus import write

Payload = dict[str, Any]
CREATED = "2026-11-15T12:00:00+01:00"
BOOK = LineSpec("Kokbok", "249.00", 1, "0.06", "BOOK-COOK-1")
COFFEE = LineSpec("Kaffe 500 g", "89.00", 2, "0.12", "COFFEE-500")
MUG = LineSpec("Mugg", "129.00", 2, "0.25", "MUG-BLUE")


def _c(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def money_set(amount: Decimal, currency: str = "SEK") -> Payload:
    text = f"{_c(amount):.2f}"
    return {
        "shop_money": {"amount": text, "currency_code": currency},
        "presentment_money": {"amount": text, "currency_code": currency},
    }


def order(n: int, **kw: Any) -> Payload:
    email = kw.pop("email", "anna@example.com")
    kw.setdefault(
        "customer",
        None
        if email is None
        else customer_payload(7_100_000_000_000 + n, email=email, created_at=CREATED),
    )
    return order_payload(
        9_100_000_000_000 + n,
        order_number=2000 + n,
        email=email,
        created_at=CREATED,
        updated_at=CREATED,
        **kw,
    )


def retotal(o: Payload) -> Payload:
    """Recompute taxes and totals of a shop-currency order after a case changed it."""
    incl = o["taxes_included"]
    by_rate: dict[float, Decimal] = {}

    def tax(entry: Payload, net: Decimal) -> Decimal:
        total = Decimal(0)
        for line in entry.get("tax_lines") or []:
            r = Decimal(str(line["rate"]))
            t = _c(net * r / (1 + r)) if incl else _c(net * r)
            line["price"], line["price_set"] = f"{t:.2f}", money_set(t)
            by_rate[line["rate"]] = by_rate.get(line["rate"], Decimal(0)) + t
            total += t
        return total

    def alloc(entry: Payload) -> Decimal:
        return sum(
            (Decimal(a["amount"]) for a in entry.get("discount_allocations") or []), Decimal(0)
        )

    items = sum((Decimal(i["price"]) * i["quantity"] for i in o["line_items"]), Decimal(0))
    discounts = sum((alloc(i) for i in o["line_items"]), Decimal(0))
    taxes = sum(
        (tax(i, Decimal(i["price"]) * i["quantity"] - alloc(i)) for i in o["line_items"]),
        Decimal(0),
    )
    shipping = Decimal(0)
    for s in o["shipping_lines"]:
        net = Decimal(s["price"]) - alloc(s)
        s["discounted_price"], s["discounted_price_set"] = f"{net:.2f}", money_set(net)
        shipping += net
        taxes += tax(s, net)
    duties = Decimal(0)
    for i in o["line_items"]:
        for d in i.get("duties") or []:
            amount = Decimal(d["price_set"]["shop_money"]["amount"])
            duties += amount
            taxes += tax(d, amount)
    tip = Decimal(o.get("total_tip_received") or "0")
    subtotal = items - discounts
    total = subtotal + shipping + duties + tip + (0 if incl else taxes)
    values = {
        "total_line_items_price": items,
        "total_discounts": discounts,
        "subtotal_price": subtotal,
        "total_tax": taxes,
        "total_price": total,
    }
    for key, value in values.items():
        o[key], o[f"{key}_set"] = f"{value:.2f}", money_set(value)
        if key != "total_line_items_price":
            o[f"current_{key}"], o[f"current_{key}_set"] = o[key], o[f"{key}_set"]
    o["total_shipping_price_set"] = money_set(shipping)
    o["tax_lines"] = [
        {
            "price": f"{v:.2f}",
            "price_set": money_set(v),
            "rate": r,
            "title": f"Moms {Decimal(str(r)) * 100:f}%",
        }
        for r, v in by_rate.items()
    ]
    return o


def created(name: str, o: Payload, settings: Payload | None = None) -> None:
    meta: Payload = {"topic": "orders/create"}
    if settings:
        meta["settings"] = settings
    write(f"orders/{name}.json", o, meta)


def build_orders() -> dict[str, Payload]:
    se = address_payload()
    made: dict[str, Payload] = {}

    def add(name: str, o: Payload, settings: Payload | None = None) -> Payload:
        made[name] = o
        created(name, o, settings)
        return o

    add("01_two_rates_vat_included", order(1))
    add("02_two_rates_vat_excluded", order(2, taxes_included=False))
    add("03_discount_code_percent", order(3, discount_codes=[DiscountSpec("HOST10", "10")]))
    add(
        "04_discount_code_fixed_excluded",
        order(
            4,
            taxes_included=False,
            lines=[MUG, COFFEE, BOOK],
            discount_codes=[DiscountSpec("MINUS50", "50.00", "fixed_amount")],
        ),
    )
    add("05_three_swedish_rates", order(5, lines=[MUG, COFFEE, BOOK]))
    add(
        "06_untaxed_line",
        order(6, lines=[MUG, LineSpec("Pant", "2.00", 3, "0", "PANT", taxable=False)]),
    )
    add(
        "07_zero_priced_line", order(7, lines=[MUG, LineSpec("Gåva", "0.00", 1, "0.25", "FREEBIE")])
    )
    add(
        "08_fractional_prices_excluded",
        order(
            8,
            taxes_included=False,
            lines=[
                LineSpec("Skruv", "0.33", 7, "0.25", "SCREW"),
                LineSpec("Te", "33.33", 3, "0.12", "TEA"),
            ],
        ),
    )
    add(
        "09_many_rows_rounding_excluded",
        order(
            9,
            taxes_included=False,
            lines=[LineSpec(f"Vara {i}", "0.99", 1, "0.25", f"ITEM-{i}") for i in range(9)]
            + [LineSpec("Bok", "0.99", 3, "0.06", "B-1")],
            shipping=None,
        ),
    )
    add(
        "10_guest_null_customer_and_addresses",
        order(10, email=None, customer=None, billing_address=None, shipping_address=None),
    )
    add("11_null_addresses_with_email", order(11, billing_address=None, shipping_address=None))
    company = order(12, billing_address=address_payload(company="Kaffebolaget AB"))
    company["note_attributes"] = [{"name": "organisationsnummer", "value": "556677-8899"}]
    add("12_company_with_organisation_number", company)
    de = address_payload(city="Berlin", zip="10115", country="Germany", country_code="DE")
    add(
        "13_eu_consumer_germany_19",
        order(
            13,
            lines=[LineSpec("Mugg", "129.00", 2, "0.19", "MUG-BLUE")],
            shipping=ShippingSpec(tax_rate="0.19"),
            billing_address=de,
        ),
    )
    nl = address_payload(city="Utrecht", zip="3511", country="Netherlands", country_code="NL")
    add(
        "14_eu_consumer_netherlands_21",
        order(
            14,
            lines=[
                LineSpec("Mugg", "129.00", 1, "0.21", "MUG-BLUE"),
                LineSpec("Bok", "249.00", 1, "0.09", "BOOK-COOK-1"),
            ],
            shipping=ShippingSpec(tax_rate="0.21"),
            billing_address=nl,
        ),
    )
    fi = address_payload(city="Helsinki", zip="00100", country="Finland", country_code="FI")
    add(
        "15_eu_consumer_finland_25_5",
        order(
            15,
            presentment_currency="EUR",
            exchange_rate="0.087",
            lines=[LineSpec("Mugg", "129.00", 2, "0.255", "MUG-BLUE")],
            shipping=ShippingSpec(tax_rate="0.255"),
            billing_address=fi,
        ),
    )
    business = order(
        16,
        lines=[LineSpec("Mugg", "129.00", 10, "0", "MUG-BLUE", taxable=False)],
        shipping=ShippingSpec(tax_rate="0"),
        billing_address=address_payload(
            company="Becher GmbH", city="Berlin", zip="10115", country="Germany", country_code="DE"
        ),
    )
    business["note_attributes"] = [{"name": "vat_number", "value": "DE 123 456 789"}]
    add("16_eu_business_reverse_charge", business)
    us = address_payload(city="Boston", zip="02108", country="United States", country_code="US")
    add(
        "17_export_usd",
        order(
            17,
            presentment_currency="USD",
            exchange_rate="0.095",
            billing_address=us,
            lines=[LineSpec("Mugg", "129.00", 2, "0", "MUG-BLUE", taxable=False)],
            shipping=ShippingSpec(tax_rate="0"),
        ),
    )
    no = address_payload(city="Oslo", zip="0150", country="Norway", country_code="NO")
    add(
        "18_export_norway_nok_excluded",
        order(
            18,
            taxes_included=False,
            presentment_currency="NOK",
            exchange_rate="1.02",
            billing_address=no,
            lines=[LineSpec("Te", "89.00", 3, "0", "TEA", taxable=False)],
            shipping=ShippingSpec(tax_rate="0"),
        ),
    )
    add(
        "19_presentment_eur_explicit_rate",
        order(
            19, presentment_currency="EUR", exchange_rate="0.087", discount_codes=[DiscountSpec()]
        ),
    )
    add(
        "20_presentment_eur_fortnox_rate",
        order(20, presentment_currency="EUR", exchange_rate="0.087"),
        {"currency_rate": "fortnox"},
    )
    add(
        "21_presentment_eur_invoiced_in_sek",
        order(21, presentment_currency="EUR", exchange_rate="0.087"),
        {"document_currency": "shop"},
    )
    add("22_shipping_as_freight", order(22), {"shipping_as": "freight"})
    add(
        "23_freight_setting_falls_back_for_12",
        order(23, shipping=ShippingSpec(tax_rate="0.12")),
        {"shipping_as": "freight"},
    )
    free = order(24, taxes_included=False)
    free["shipping_lines"][0]["discount_allocations"] = [
        {"amount": "49.00", "amount_set": money_set(Decimal(49)), "discount_application_index": 0}
    ]
    add("24_free_shipping_discount_excluded", retotal(free))
    two = order(25)
    second = copy.deepcopy(two["shipping_lines"][0])
    second.update(
        {
            "id": two["shipping_lines"][0]["id"] + 1,
            "title": "Expressavgift",
            "price": "30.00",
            "price_set": money_set(Decimal(30)),
        }
    )
    two["shipping_lines"].append(second)
    add("25_two_shipping_lines", retotal(two))
    add("26_no_shipping", order(26, shipping=None))
    add(
        "27_gift_card_sold",
        order(
            27,
            lines=[
                LineSpec(
                    "Presentkort 500 kr", "500.00", 1, "0", None, taxable=False, gift_card=True
                )
            ],
            shipping=None,
        ),
    )
    add(
        "28_gift_card_and_goods",
        order(
            28,
            lines=[
                MUG,
                LineSpec(
                    "Presentkort 200 kr",
                    "200.00",
                    1,
                    "0",
                    "GIFT-200",
                    taxable=False,
                    gift_card=True,
                ),
            ],
        ),
    )
    add("29_paid_partly_with_gift_card", order(29, gateway="gift_card"))
    tip = order(30)
    tip["total_tip_received"] = "25.00"
    add("30_tip", retotal(tip))
    duty = order(31)
    duty["line_items"][0]["duties"] = [
        {
            "id": 3_100_000_000_001,
            "harmonized_system_code": "611595",
            "country_code_of_origin": "CN",
            "price_set": money_set(Decimal("35.50")),
            "tax_lines": [],
            "admin_graphql_api_id": "gid://shopify/Duty/1",
        }
    ]
    add("31_duties", retotal(duty))
    nosku = order(
        32,
        lines=[
            MUG,
            LineSpec(
                "Specialbeställning", "300.00", 1, "0.25", None, variant_id=44_000_000_000_001
            ),
        ],
    )
    add("32_missing_sku_uses_variant_id", nosku)
    add("33_missing_sku_without_article", copy.deepcopy(nosku), {"sku_policy": "no_article"})
    add("34_missing_sku_refused", copy.deepcopy(nosku), {"sku_policy": "fail"})
    add(
        "35_sku_with_characters_fortnox_rejects",
        order(35, lines=[LineSpec("Mugg blå", "129.00", 1, "0.25", "Mugg blå/L_2")]),
    )
    floats = order(36)
    floats["line_items"][0]["price"] = 199.0
    add("36_float_money_refused", floats)
    wrong = order(37)
    wrong["current_total_price"] = wrong["total_price"] = "999.00"
    wrong["current_total_price_set"] = wrong["total_price_set"] = money_set(Decimal("999.00"))
    add("37_total_mismatch_refused", wrong)
    add(
        "38_over_500_rows_refused",
        order(
            38,
            lines=[LineSpec(f"Knapp {i}", "1.00", 1, "0.25", f"BTN-{i}") for i in range(501)],
            shipping=None,
        ),
    )
    add(
        "39_whole_krona_rounding_refused",
        order(39, taxes_included=False),
        {"round_to_whole_sek": True},
    )
    add("40_whole_krona_rounding_ok", order(40), {"round_to_whole_sek": True})
    line_disc = order(41, lines=[MUG, COFFEE], discount_codes=[DiscountSpec("HOST10", "10")])
    line_disc["line_items"][1]["discount_allocations"].append(
        {"amount": "20.00", "amount_set": money_set(Decimal(20)), "discount_application_index": 1}
    )
    add("41_line_discount_and_order_discount", retotal(line_disc))
    add(
        "42_uses_shipping_address_country",
        order(
            42,
            billing_address=se,
            shipping_address=de,
            lines=[LineSpec("Mugg", "129.00", 1, "0.19", "MUG-BLUE")],
            shipping=ShippingSpec(tax_rate="0.19"),
        ),
    )
    return made
