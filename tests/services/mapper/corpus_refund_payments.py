"""The corpus's refunds of paid orders: the money paid back as negative payments."""

from __future__ import annotations

import copy
from typing import Any

from tests.services.mapper.builders import money_back, refund_payload
from tests.services.mapper.corpus import write

Payload = dict[str, Any]

O1 = "orders/01_two_rates_vat_included.json"
PAID_O1 = {"topic": "orders/paid", "file": "edits/09_paid_without_transactions.json"}
CANCELLED_O1 = {
    "topic": "orders/cancelled",
    "file": "edits/14_cancelled_paid_credits_not_cancels.json",
}


def _create(file: str) -> Payload:
    return {"topic": "orders/create", "file": file}


def refund_payment_events(made: dict[str, Payload]) -> None:
    o1 = made["01_two_rates_vat_included"]
    partial = refund_payload(o1, 8_100_000_000_014, lines=[(1, 1)])
    write(
        "refunds/14_paid_partial_refund_pays_back.json",
        money_back(o1, partial, 5_600_000_000_014, "shopify_payments"),
        {"topic": "refunds/create", "before": [_create(O1), PAID_O1]},
    )
    full = refund_payload(
        o1, 8_100_000_000_015, lines=[(0, 2), (1, 1)], shipping=[("49.00", "9.80")]
    )
    write(
        "refunds/15_paid_full_refund_credits_and_pays_back.json",
        money_back(o1, full, 5_600_000_000_015, "shopify_payments"),
        {"topic": "refunds/create", "before": [_create(O1), PAID_O1]},
    )
    o19 = made["19_presentment_eur_explicit_rate"]
    eur = refund_payload(o19, 8_100_000_000_016, lines=[(0, 1)])
    write(
        "refunds/16_paid_partial_refund_in_eur.json",
        money_back(o19, eur, 5_600_000_000_016, "shopify_payments"),
        {
            "topic": "refunds/create",
            "before": [
                _create("orders/19_presentment_eur_explicit_rate.json"),
                {"topic": "orders/paid", "file": "edits/11_paid_in_eur.json"},
            ],
        },
    )
    failed = refund_payload(o1, 8_100_000_000_017, lines=[(1, 1)])
    write(
        "refunds/17_paid_refund_failed_transaction_pays_nothing.json",
        money_back(o1, failed, 5_600_000_000_017, "shopify_payments", status="failure"),
        {"topic": "refunds/create", "before": [_create(O1), PAID_O1]},
    )
    unpaid = refund_payload(o1, 8_100_000_000_018, lines=[(1, 1)])
    write(
        "refunds/18_unpaid_refund_with_money_back_pays_nothing.json",
        money_back(o1, unpaid, 5_600_000_000_018, "shopify_payments"),
        {"topic": "refunds/create", "before": [_create(O1)]},
    )
    cancelled = copy.deepcopy(o1)
    cancelled.update(
        {
            "cancelled_at": "2026-11-16T08:00:00+01:00",
            "cancel_reason": "customer",
            "updated_at": "2026-11-16T08:00:00+01:00",
            "financial_status": "refunded",
        }
    )
    write(
        "edits/14_cancelled_paid_credits_not_cancels.json",
        cancelled,
        {"topic": "orders/cancelled", "before": [_create(O1), PAID_O1]},
    )
    after_cancel = refund_payload(
        o1,
        8_100_000_000_019,
        lines=[(0, 2), (1, 1)],
        shipping=[("49.00", "9.80")],
        created_at="2026-11-16T08:00:01+01:00",
    )
    write(
        "refunds/19_refund_after_paid_cancel_pays_back_on_its_credit.json",
        money_back(o1, after_cancel, 5_600_000_000_019, "gift_card"),
        {
            "topic": "refunds/create",
            "before": [
                _create(O1),
                PAID_O1,
                {
                    "topic": "orders/cancelled",
                    "file": "edits/14_cancelled_paid_credits_not_cancels.json",
                },
            ],
        },
    )
