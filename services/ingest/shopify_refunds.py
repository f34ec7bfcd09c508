"""An order's refunds and transactions from the Admin GraphQL API, in the REST webhook shape.

A fetched refund carries everything the mapper plans a ``refunds/create`` from
(services/mapper/accounting/refunds.py and refund_payments.py), as a webhook spells it:

- ``refund_line_items``: RefundLineItem {quantity, restockType, subtotalSet, totalTaxSet,
  lineItem.id} -> {line_item_id, quantity, restock_type, subtotal(_set), total_tax(_set)}.
- ``refund_shipping_lines``: RefundShippingLine {shippingLine.id, subtotalAmountSet,
  taxAmountSet} -> {shipping_line_id, subtotal_amount_set, total_tax_set}. Since API version
  2024-10 a refunded shipping cost is only here, never among ``orderAdjustments``.
- ``order_adjustments``: OrderAdjustment {id, reason, amountSet, taxAmountSet} -> {kind
  "refund_discrepancy", reason, amount(_set), tax_amount(_set)}. The API has no ``kind`` since
  2024-10 (OrderAdjustmentKind is gone): what it lists is what the amounts refunded differ
  from the calculated ones, REST's ``refund_discrepancy``; a shipping refund is a
  RefundShippingLine above.
- ``duties``: RefundDuty {amountSet, originalDuty.id} -> {duty_id, amount_set}.
- ``transactions``: OrderTransaction {kind, status, gateway, amountSet, processedAt,
  createdAt} -> {kind "refund", status "success", gateway, amount and currency (the
  presentment side, as REST has them), amount_set, processed_at, created_at}.

Not carried: the refund's own ``processed_at`` (the API's Refund has createdAt only; the
mapper reads it only for a transaction without a date, and every OrderTransaction has one).

Each connection is read in one page (``first:`` below); a refund with more is refused
(:func:`refund_truncated`), never converted short. Cost by the simulator's rule: (2 + 100) +
(2 + 25) + (2 + 10) + (2 + 20) = 163 points (:data:`REFUNDS_COST`).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from services.ingest.shopify_values import (
    MONEY,
    has_more,
    legacy_id,
    local_time,
    money_set,
    priced,
    status,
)

REFUND_LINE_ITEMS = 100
REFUND_SHIPPING_LINES = 25
ORDER_ADJUSTMENTS = 10
REFUND_TRANSACTIONS = 20

TRANSACTION_FIELDS = f"id kind status gateway processedAt createdAt amountSet {{ {MONEY} }}"

REFUND_FIELDS = f"""
      id createdAt note
      refundLineItems(first: {REFUND_LINE_ITEMS}) {{
        nodes {{
          id quantity restockType
          subtotalSet {{ {MONEY} }}
          totalTaxSet {{ {MONEY} }}
          lineItem {{ id }}
        }}
        pageInfo {{ hasNextPage }}
      }}
      refundShippingLines(first: {REFUND_SHIPPING_LINES}) {{
        nodes {{
          id
          shippingLine {{ id }}
          subtotalAmountSet {{ {MONEY} }}
          taxAmountSet {{ {MONEY} }}
        }}
        pageInfo {{ hasNextPage }}
      }}
      orderAdjustments(first: {ORDER_ADJUSTMENTS}) {{
        nodes {{ id reason amountSet {{ {MONEY} }} taxAmountSet {{ {MONEY} }} }}
        pageInfo {{ hasNextPage }}
      }}
      duties {{ amountSet {{ {MONEY} }} originalDuty {{ id }} }}
      transactions(first: {REFUND_TRANSACTIONS}) {{
        nodes {{ {TRANSACTION_FIELDS} }}
        pageInfo {{ hasNextPage }}
      }}
"""

REFUNDS_COST = (
    (2 + REFUND_LINE_ITEMS)
    + (2 + REFUND_SHIPPING_LINES)
    + (2 + ORDER_ADJUSTMENTS)
    + (2 + REFUND_TRANSACTIONS)
)

_PAGED = (
    ("refundLineItems", f"{REFUND_LINE_ITEMS} line items"),
    ("refundShippingLines", f"{REFUND_SHIPPING_LINES} shipping lines"),
    ("orderAdjustments", f"{ORDER_ADJUSTMENTS} order adjustments"),
    ("transactions", f"{REFUND_TRANSACTIONS} transactions"),
)


def refund_truncated(node: dict[str, Any]) -> str | None:
    """What of one refund a read could not hold (None: nothing was left out)."""
    for name, what in _PAGED:
        if has_more(node.get(name)):
            return f"a refund of more than {what}"
    return None


def _nodes(connection: Any) -> list[dict[str, Any]]:
    nodes = (connection or {}).get("nodes") if isinstance(connection, dict) else None
    return [n for n in nodes or [] if isinstance(n, dict)]


def transaction(node: dict[str, Any], zone: tzinfo) -> dict[str, Any]:
    """A REST transaction: its amount and currency are the presentment side, as in REST."""
    money = money_set(node.get("amountSet")) or {}
    presentment = money.get("presentment_money") or {}
    return {
        "id": legacy_id(node.get("id")),
        "kind": status(node.get("kind")),
        "status": status(node.get("status")),
        "gateway": node.get("gateway"),
        "amount": presentment.get("amount"),
        "currency": presentment.get("currency_code"),
        "amount_set": money or None,
        "processed_at": local_time(node.get("processedAt"), zone),
        "created_at": local_time(node.get("createdAt"), zone),
    }


def _reason(value: Any) -> str | None:
    """OrderAdjustmentDiscrepancyReason in REST's words ("REFUND_DISCREPANCY" ->
    "Refund discrepancy")."""
    text = status(value)
    return text.replace("_", " ").capitalize() if text else None


def refund(node: dict[str, Any], order_id: int | None, zone: tzinfo) -> dict[str, Any]:
    """A GraphQL ``Refund`` (selected with :data:`REFUND_FIELDS`) as a refunds/create payload."""
    refund_id = legacy_id(node.get("id"))
    return {
        "id": refund_id,
        "admin_graphql_api_id": node.get("id"),
        "order_id": order_id,
        "created_at": local_time(node.get("createdAt"), zone),
        "note": node.get("note"),
        "refund_line_items": [
            {
                "id": legacy_id(item.get("id")),
                "line_item_id": legacy_id((item.get("lineItem") or {}).get("id")),
                "quantity": item.get("quantity"),
                "restock_type": status(item.get("restockType")),
                **priced("subtotal", item.get("subtotalSet")),
                **priced("total_tax", item.get("totalTaxSet")),
            }
            for item in _nodes(node.get("refundLineItems"))
        ],
        "refund_shipping_lines": [
            {
                "id": legacy_id(line.get("id")),
                "shipping_line_id": legacy_id((line.get("shippingLine") or {}).get("id")),
                "subtotal_amount_set": money_set(line.get("subtotalAmountSet")),
                "total_tax_set": money_set(line.get("taxAmountSet")),
            }
            for line in _nodes(node.get("refundShippingLines"))
        ],
        "order_adjustments": [
            {
                "id": legacy_id(adjustment.get("id")),
                "order_id": order_id,
                "refund_id": refund_id,
                "kind": "refund_discrepancy",
                "reason": _reason(adjustment.get("reason")),
                **priced("amount", adjustment.get("amountSet")),
                **priced("tax_amount", adjustment.get("taxAmountSet")),
            }
            for adjustment in _nodes(node.get("orderAdjustments"))
        ],
        "duties": [
            {
                "duty_id": legacy_id((duty.get("originalDuty") or {}).get("id")),
                "amount_set": money_set(duty.get("amountSet")),
            }
            for duty in node.get("duties") or []
            if isinstance(duty, dict)
        ],
        "transactions": [
            {**transaction(tx, zone), "order_id": order_id}
            for tx in _nodes(node.get("transactions"))
        ],
    }
