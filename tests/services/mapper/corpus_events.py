"""The corpus's refund, edit, cancellation and payment cases, on orders from corpus_cases."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from tests.services.mapper.builders import refund_payload, transaction, with_refunds
from tests.services.mapper.corpus import write
from tests.services.mapper.corpus_cases import CREATED, build_orders, money_set, retotal
from tests.services.mapper.corpus_refund_payments import refund_payment_events

Payload = dict[str, Any]


def _before(*files: str) -> list[Payload]:
    return [
        {"topic": "refunds/create" if f.startswith("refunds/") else "orders/create", "file": f}
        for f in files
    ]


def _events(made: dict[str, Payload]) -> None:
    def step(
        group: str,
        name: str,
        topic: str,
        payload: Payload,
        before: list[Payload],
        settings: Payload | None = None,
    ) -> None:
        meta: Payload = {"topic": topic, "before": before}
        if settings:
            meta["settings"] = settings
        write(f"{group}/{name}.json", payload, meta)

    o5 = made["05_three_swedish_rates"]
    base5 = "orders/05_three_swedish_rates.json"
    r1 = refund_payload(o5, 8_100_000_000_001, lines=[(0, 1)])
    step("refunds", "01_partial_one_mug", "refunds/create", r1, _before(base5))
    r2 = refund_payload(
        o5, 8_100_000_000_002, lines=[(1, 2)], created_at="2026-11-21T10:00:00+01:00"
    )
    step(
        "refunds",
        "02_second_partial_coffee",
        "refunds/create",
        r2,
        _before(base5, "refunds/01_partial_one_mug.json"),
    )
    r3 = refund_payload(
        o5,
        8_100_000_000_003,
        lines=[(0, 1), (2, 1)],
        shipping=[("49.00", "9.80")],
        created_at="2026-11-22T10:00:00+01:00",
    )
    step(
        "refunds",
        "03_rest_after_two_partials",
        "refunds/create",
        r3,
        _before(base5, "refunds/01_partial_one_mug.json", "refunds/02_second_partial_coffee.json"),
    )
    o1 = made["01_two_rates_vat_included"]
    full = refund_payload(
        o1, 8_100_000_000_004, lines=[(0, 2), (1, 1)], shipping=[("49.00", "9.80")]
    )
    step(
        "refunds",
        "04_full_refund_reverses_invoice",
        "refunds/create",
        full,
        _before("orders/01_two_rates_vat_included.json"),
    )
    step(
        "refunds",
        "05_full_refund_credit_when_cancel_not_allowed",
        "refunds/create",
        full,
        _before("orders/01_two_rates_vat_included.json"),
        {"cancel_unbooked_on_refund": False},
    )
    o2 = made["02_two_rates_vat_excluded"]
    step(
        "refunds",
        "06_shipping_only_excluded",
        "refunds/create",
        refund_payload(o2, 8_100_000_000_006, shipping=[("49.00", "12.25")]),
        _before("orders/02_two_rates_vat_excluded.json"),
    )
    step(
        "refunds",
        "07_goodwill_discrepancy",
        "refunds/create",
        refund_payload(o1, 8_100_000_000_007, discrepancy="50.00"),
        _before("orders/01_two_rates_vat_included.json"),
    )
    over = refund_payload(o1, 8_100_000_000_008, lines=[(1, 1)])
    over["refund_line_items"][0]["quantity"] = 5
    over["refund_line_items"][0]["subtotal"] = "445.00"
    over["refund_line_items"][0]["subtotal_set"] = money_set(Decimal("445.00"))
    step(
        "refunds",
        "08_more_than_invoiced_is_capped",
        "refunds/create",
        over,
        _before("orders/01_two_rates_vat_included.json"),
    )
    step(
        "refunds",
        "09_same_refund_twice_skipped",
        "refunds/create",
        r1,
        _before(base5, "refunds/01_partial_one_mug.json"),
    )
    o19 = made["19_presentment_eur_explicit_rate"]
    step(
        "refunds",
        "10_partial_in_eur",
        "refunds/create",
        refund_payload(o19, 8_100_000_000_010, lines=[(0, 1)]),
        _before("orders/19_presentment_eur_explicit_rate.json"),
    )
    o22 = made["22_shipping_as_freight"]
    step(
        "refunds",
        "11_freight_refund",
        "refunds/create",
        refund_payload(o22, 8_100_000_000_011, lines=[(1, 1)], shipping=[("49.00", "9.80")]),
        _before("orders/22_shipping_as_freight.json"),
        {"shipping_as": "freight"},
    )
    o28 = made["28_gift_card_and_goods"]
    step(
        "refunds",
        "12_gift_card_refund",
        "refunds/create",
        refund_payload(o28, 8_100_000_000_012, lines=[(1, 1)]),
        _before("orders/28_gift_card_and_goods.json"),
    )
    step(
        "refunds",
        "13_refund_before_order_waits",
        "refunds/create",
        refund_payload(o1, 8_100_000_000_013, lines=[(0, 1)]),
        [],
    )

    # Edits, cancellations and payments (orders/* with the full order).
    edited = copy.deepcopy(o1)
    extra = copy.deepcopy(edited["line_items"][1])
    extra.update(
        {
            "id": extra["id"] + 50,
            "title": "Kaffefilter",
            "name": "Kaffefilter",
            "sku": "FILTER-4",
            "price": "25.00",
            "price_set": money_set(Decimal(25)),
            "quantity": 2,
            "current_quantity": 2,
            "discount_allocations": [],
        }
    )
    edited["line_items"].append(extra)
    edited["updated_at"] = "2026-11-16T09:00:00+01:00"
    retotal(edited)
    step(
        "edits",
        "01_updated_with_added_line",
        "orders/updated",
        edited,
        _before("orders/01_two_rates_vat_included.json"),
    )
    removed = copy.deepcopy(o1)
    removed["line_items"][0]["current_quantity"] = 1
    removed["updated_at"] = "2026-11-16T09:30:00+01:00"
    retotal_current(removed)
    step(
        "edits",
        "02_edited_full_order_removes_one",
        "orders/edited",
        removed,
        _before("orders/01_two_rates_vat_included.json"),
    )
    stale = copy.deepcopy(edited)
    stale["updated_at"] = "2026-11-15T11:00:00+01:00"
    step(
        "edits",
        "03_stale_update_skipped",
        "orders/updated",
        stale,
        _before("orders/01_two_rates_vat_included.json"),
    )
    after_refund = with_refunds(o5, [r1], "2026-11-20T10:00:05+01:00")
    step(
        "edits",
        "04_update_after_refund_unchanged",
        "orders/updated",
        after_refund,
        _before(base5, "refunds/01_partial_one_mug.json"),
    )
    order_edit = {
        "order_edit": {
            "id": 6_100_000_000_001,
            "order_id": o1["id"],
            "created_at": CREATED,
            "committed_at": CREATED,
            "notify_customer": False,
            "staff_note": "",
            "line_items": {
                "additions": [],
                "removals": [{"id": o1["line_items"][0]["id"], "delta": 1}],
            },
        }
    }
    step(
        "edits",
        "05_order_edit_payload_skipped",
        "orders/edited",
        order_edit,
        _before("orders/01_two_rates_vat_included.json"),
    )
    cancelled = copy.deepcopy(o2)
    cancelled.update(
        {
            "cancelled_at": "2026-11-16T08:00:00+01:00",
            "cancel_reason": "customer",
            "updated_at": "2026-11-16T08:00:00+01:00",
            "financial_status": "voided",
        }
    )
    step(
        "edits",
        "06_cancelled_unpaid_reverses",
        "orders/cancelled",
        cancelled,
        _before("orders/02_two_rates_vat_excluded.json"),
    )
    c5 = with_refunds(o5, [r1], "2026-11-23T08:00:00+01:00")
    c5.update({"cancelled_at": "2026-11-23T08:00:00+01:00", "cancel_reason": "other"})
    step(
        "edits",
        "07_cancelled_after_partial_refund",
        "orders/cancelled",
        c5,
        _before(base5, "refunds/01_partial_one_mug.json"),
    )
    step(
        "edits",
        "08_cancelled_after_everything_credited",
        "orders/cancelled",
        c5,
        _before(
            base5,
            "refunds/01_partial_one_mug.json",
            "refunds/02_second_partial_coffee.json",
            "refunds/03_rest_after_two_partials.json",
        ),
    )
    step(
        "edits",
        "09_paid_without_transactions",
        "orders/paid",
        o1,
        _before("orders/01_two_rates_vat_included.json"),
        {"bookkeep_payments": True},
    )
    o29 = copy.deepcopy(made["29_paid_partly_with_gift_card"])
    o29["payment_gateway_names"] = ["gift_card", "shopify_payments"]
    o29["transactions"] = [
        transaction(5_500_000_000_001, "200.00", "gift_card"),
        transaction(5_500_000_000_002, "336.00", "shopify_payments"),
    ]
    step(
        "edits",
        "10_paid_gift_card_and_card",
        "orders/paid",
        o29,
        _before("orders/29_paid_partly_with_gift_card.json"),
    )
    step(
        "edits",
        "11_paid_in_eur",
        "orders/paid",
        o19,
        _before("orders/19_presentment_eur_explicit_rate.json"),
    )
    step("edits", "12_paid_before_create_invoices_first", "orders/paid", o1, [])
    step(
        "edits",
        "13_create_after_update_is_stale",
        "orders/create",
        o1,
        [{"topic": "orders/updated", "file": "edits/01_updated_with_added_line.json"}],
    )


def retotal_current(o: Payload) -> None:
    """After an edit that lowered current_quantity: current totals from current quantities."""
    probe = copy.deepcopy(o)
    for item in probe["line_items"]:
        item["quantity"] = item["current_quantity"]
    retotal(probe)
    for key in (
        "current_total_price",
        "current_subtotal_price",
        "current_total_tax",
        "current_total_discounts",
    ):
        o[key], o[f"{key}_set"] = probe[key], probe[f"{key}_set"]


def build_all() -> None:
    made = build_orders()
    _events(made)
    refund_payment_events(made)
