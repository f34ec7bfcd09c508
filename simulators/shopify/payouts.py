"""Shopify Payments: balance transactions and payouts, as the Admin API documents them.

Stored REST-shaped (``shopify_payments/balance/transactions.json`` and ``payouts.json``), served
as GraphQL (``shopifyPaymentsAccount { payouts, balanceTransactions }``):

- A balance transaction: ``id``, ``type`` (``charge``, ``refund``, ``adjustment``, ``reserve``,
  ``payout``, ...), ``test``, ``payout_id``, ``payout_status``, ``currency``, ``amount``,
  ``fee``, ``net`` (decimal strings; ``net = amount - fee``), ``source_id``, ``source_type``,
  ``source_order_id``, ``source_order_transaction_id``, ``processed_at``,
  ``adjustment_reason``. A charge is positive with a fee; a refund negative (Shopify keeps the
  charge's fee); the payout itself is a ``payout`` transaction of minus the paid amount.
- A payout: ``id``, ``status`` (scheduled, in_transit, paid, failed, canceled), ``date``,
  ``currency``, ``amount`` (the net paid to the bank), ``summary`` with ``*_gross_amount`` and
  ``*_fee_amount`` per kind (charges, refunds, adjustments, reserved_funds, retried_payouts).

``make_payout`` (control: ``POST /_sim/shops/{shop}/payouts``) pays out what the shop's
Shopify Payments orders took since the last payout: a charge per successful sale/capture
transaction (or, for an order stored without transactions, its total) with a fee of
``fee_percent`` % + ``fee_fixed``, a refund per successful refund transaction, optional
adjustments and a reserve. The fee rates are simulator settings, not Shopify's price list.
Shopify documents no payouts webhook topic: apps poll (``payouts(query: "status:PAID")``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from ._money import dec
from ._state import Payload, PayoutLedger, ShopState, gid
from .execution import Node
from .shapes import money_v2, utc

CENT = Decimal("0.01")
PAYMENT_GATEWAYS = frozenset({"shopify_payments"})
PAYOUT_STATUSES = ("scheduled", "in_transit", "paid", "failed", "canceled")
SUMMARY_KINDS = {
    "charge": "charges",
    "refund": "refunds",
    "adjustment": "adjustments",
    "reserve": "reserved_funds",
    "payout_failure": "retried_payouts",
}
GQL_TYPES = {"reserve": "RESERVED_FUNDS"}
_ids = itertools.count(7_000_000_001)


@dataclass(frozen=True)
class Adjustment:
    amount: Decimal
    reason: str = "adjustment"
    fee: Decimal = Decimal("0")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _text(value: Decimal) -> str:
    return format(_cents(value), "f")


def _transaction(
    ledger: PayoutLedger,
    kind: str,
    currency: str,
    amount: Decimal,
    fee: Decimal,
    when: str,
    *,
    order_id: int | None = None,
    order_txn: int | None = None,
    source_id: int | None = None,
    source_type: str | None = None,
    reason: str | None = None,
) -> Payload:
    txn_id = next(_ids)
    txn: Payload = {
        "id": txn_id,
        "type": kind,
        "test": False,
        "payout_id": None,
        "payout_status": "pending",
        "currency": currency,
        "amount": _text(amount),
        "fee": _text(fee),
        "net": _text(amount - fee),
        "source_id": source_id if source_id is not None else txn_id,
        "source_type": source_type or kind,
        "source_order_id": order_id,
        "source_order_transaction_id": order_txn,
        "processed_at": when,
        "adjustment_reason": reason,
    }
    ledger.transactions[txn_id] = txn
    return txn


def _order_charges(order: Payload) -> list[tuple[int, Decimal, str]]:
    """(transaction id, amount, processed_at) of each successful sale or capture."""
    txs = [t for t in order.get("transactions") or [] if isinstance(t, dict)]
    taken = [
        t for t in txs if t.get("kind") in ("sale", "capture") and t.get("status") == "success"
    ]
    if taken:
        return [
            (int(t["id"]), dec(t.get("amount")), str(t.get("processed_at") or order["created_at"]))
            for t in taken
        ]
    if order.get("financial_status") in ("paid", "partially_refunded", "refunded"):
        total = dec(order.get("total_price"))
        return [(int(order["id"]) % 10**12 + 10**12, total, str(order.get("created_at")))]
    return []


def make_payout(
    shop: ShopState,
    ledger: PayoutLedger,
    *,
    now: datetime,
    fee_percent: Decimal = Decimal("1.8"),
    fee_fixed: Decimal = Decimal("1.80"),
    adjustments: Iterable[Adjustment] = (),
    reserve: Decimal = Decimal("0"),
    status: str = "paid",
    gateways: frozenset[str] = PAYMENT_GATEWAYS,
) -> Payload:
    """Pay out everything not paid out yet; returns the REST payout."""
    if status not in PAYOUT_STATUSES:
        raise ValueError(f"unknown payout status {status!r}")
    currency = shop.currency
    stamp = now.astimezone(UTC).isoformat()
    made: list[Payload] = []
    for order in sorted(shop.orders.values(), key=lambda o: int(o["id"])):
        if not set(order.get("payment_gateway_names") or []) & gateways:
            continue
        order_id = int(order["id"])
        for txn_id, amount, when in _order_charges(order):
            if ("charge", txn_id) in ledger.paid_sources or amount == 0:
                continue
            fee = _cents(amount * fee_percent / 100 + fee_fixed)
            made.append(
                _transaction(
                    ledger,
                    "charge",
                    currency,
                    amount,
                    fee,
                    when,
                    order_id=order_id,
                    order_txn=txn_id,
                    source_type="charge",
                )
            )
            ledger.paid_sources.add(("charge", txn_id))
        for refund in order.get("refunds") or []:
            for t in refund.get("transactions") or []:
                if t.get("kind") != "refund" or t.get("status") != "success":
                    continue
                if ("refund", int(t["id"])) in ledger.paid_sources:
                    continue
                made.append(
                    _transaction(
                        ledger,
                        "refund",
                        currency,
                        -dec(t.get("amount")),
                        Decimal("0"),
                        str(t.get("processed_at") or refund.get("created_at") or stamp),
                        order_id=order_id,
                        order_txn=int(t["id"]),
                        source_id=int(refund["id"]),
                        source_type="Refund",
                    )
                )
                ledger.paid_sources.add(("refund", int(t["id"])))
    for adjustment in adjustments:
        made.append(
            _transaction(
                ledger,
                "adjustment",
                currency,
                adjustment.amount,
                adjustment.fee,
                stamp,
                source_type="adjustment",
                reason=adjustment.reason,
            )
        )
    if reserve:
        made.append(
            _transaction(
                ledger, "reserve", currency, -reserve, Decimal("0"), stamp, source_type="reserve"
            )
        )
    payout_id = next(_ids)
    net = sum((dec(t["net"]) for t in made), Decimal("0"))
    summary: dict[str, str] = {}
    for kind, name in SUMMARY_KINDS.items():
        of_kind = [t for t in made if t["type"] == kind]
        summary[f"{name}_gross_amount"] = _text(
            sum((dec(t["amount"]) for t in of_kind), Decimal(0))
        )
        summary[f"{name}_fee_amount"] = _text(sum((dec(t["fee"]) for t in of_kind), Decimal(0)))
    payout_txn = _transaction(
        ledger,
        "payout",
        currency,
        -net,
        Decimal("0"),
        stamp,
        source_id=payout_id,
        source_type="payout",
    )
    for txn in [*made, payout_txn]:
        txn["payout_id"] = payout_id
        txn["payout_status"] = status
    payout: Payload = {
        "id": payout_id,
        "status": status,
        "date": now.astimezone(UTC).date().isoformat(),
        "issued_at": stamp,
        "currency": currency,
        "amount": _text(net),
        "summary": summary,
    }
    ledger.payouts[payout_id] = payout
    return payout


def set_status(ledger: PayoutLedger, payout_id: int, status: str) -> Payload:
    if status not in PAYOUT_STATUSES:
        raise ValueError(f"unknown payout status {status!r}")
    payout = ledger.payouts[payout_id]
    payout["status"] = status
    for txn in ledger.transactions.values():
        if txn["payout_id"] == payout_id:
            txn["payout_status"] = status
    return payout


# --- GraphQL nodes ------------------------------------------------------------------------
def payout_node(shop: ShopState, payout: Payload) -> Node:
    currency = str(payout["currency"])
    summary: Node = {"__typename": "ShopifyPaymentsPayoutSummary"}
    for kind_name in SUMMARY_KINDS.values():
        camel = "".join(p.title() for p in kind_name.split("_"))
        camel = camel[0].lower() + camel[1:]
        gross = "refundsFeeGross" if kind_name == "refunds" else f"{camel}Gross"
        summary[gross] = money_v2(payout["summary"][f"{kind_name}_gross_amount"], currency)
        summary[f"{camel}Fee"] = money_v2(payout["summary"][f"{kind_name}_fee_amount"], currency)
    amount = dec(payout["amount"])
    return {
        "__typename": "ShopifyPaymentsPayout",
        "id": gid("ShopifyPaymentsPayout", payout["id"]),
        "legacyResourceId": str(payout["id"]),
        "issuedAt": utc(payout["issued_at"]),
        "status": str(payout["status"]).upper(),
        "transactionType": "DEPOSIT" if amount >= 0 else "WITHDRAWAL",
        "net": money_v2(abs(amount), currency),
        "summary": summary,
    }


def transaction_node(shop: ShopState, txn: Payload) -> Node:
    currency = str(txn["currency"])
    order_id = txn.get("source_order_id")
    order = shop.orders.get(order_id) if order_id is not None else None
    associated = None
    if order_id is not None:
        associated = {
            "__typename": "ShopifyPaymentsAssociatedOrder",
            "id": gid("Order", order_id),
            "name": (order or {}).get("name"),
        }
    payout_id = txn.get("payout_id")
    return {
        "__typename": "ShopifyPaymentsBalanceTransaction",
        "id": gid("ShopifyPaymentsBalanceTransaction", txn["id"]),
        "type": GQL_TYPES.get(txn["type"], str(txn["type"]).upper()),
        "test": bool(txn.get("test")),
        "amount": money_v2(txn["amount"], currency),
        "fee": money_v2(txn["fee"], currency),
        "net": money_v2(txn["net"], currency),
        "sourceId": None if txn.get("source_id") is None else str(txn["source_id"]),
        "sourceType": str(txn.get("source_type") or "").upper() or None,
        "sourceOrderTransactionId": (
            None
            if txn.get("source_order_transaction_id") is None
            else str(txn["source_order_transaction_id"])
        ),
        "transactionDate": utc(txn["processed_at"]),
        "adjustmentReason": txn.get("adjustment_reason"),
        "associatedOrder": associated,
        "associatedPayout": {
            "__typename": "ShopifyPaymentsBalanceTransactionAssociatedPayout",
            "id": None if payout_id is None else gid("ShopifyPaymentsPayout", payout_id),
            "status": str(txn.get("payout_status") or "").upper() or None,
        },
    }


def parse_adjustments(raw: object) -> list[Adjustment]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError("adjustments must be a list")
    out = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise ValueError("an adjustment is an object {amount, reason, fee}")
        out.append(
            Adjustment(
                dec(item.get("amount")),
                str(item.get("reason") or "adjustment"),
                dec(item.get("fee") or "0"),
            )
        )
    return out
