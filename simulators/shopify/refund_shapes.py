"""GraphQL ``Refund`` and ``OrderTransaction`` nodes derived from the stored REST payloads.

A ``Refund`` answers what the Admin GraphQL API has (shopify.dev, Admin GraphQL 2025-07:
Refund, RefundLineItem, RefundShippingLine, OrderAdjustment, RefundDuty, OrderTransaction):

- ``refundLineItems``: connection of RefundLineItem {quantity, restockType, subtotalSet, ...}.
- ``refundShippingLines``: connection of RefundShippingLine {id, shippingLine,
  subtotalAmountSet, taxAmountSet}. Since 2024-10 a refunded shipping cost is only here: it is
  no longer an ``orderAdjustments`` entry. A stored refund's ``refund_shipping_lines``
  ({shipping_line_id, subtotal_amount_set, total_tax_set}) are answered as they are; else each
  REST ``order_adjustments`` entry of kind ``shipping_refund`` (the legacy REST spelling: amount
  and tax negative) becomes one, on the first of the order's shipping lines with an amount not
  yet refunded by the order's refunds before it.
- ``orderAdjustments``: connection of OrderAdjustment {id, reason, amountSet, taxAmountSet},
  every other adjustment (``kind`` is gone from the API since 2024-10; ``reason`` is the
  OrderAdjustmentDiscrepancyReason enum, REFUND_DISCREPANCY when the REST reason is none of
  its values).
- ``duties``: list of RefundDuty {amountSet, originalDuty}.
- ``transactions``: connection of OrderTransaction (kind REFUND, status SUCCESS, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ._money import cents, dec
from ._state import Payload, ShopState, gid
from .execution import Connection, Node
from .shapes import duty_node, line_item_node, money_bag, shipping_line_node, sum_bags, utc

_REASONS = frozenset(
    [
        "CUSTOMER",
        "DAMAGE",
        "FULL_RETURN_BALANCING_ADJUSTMENT",
        "PENDING_REFUND_DISCREPANCY",
        "REFUND_DISCREPANCY",
        "RESTOCK",
    ]
)
_SIDES = ("shop_money", "presentment_money")
_ZERO = Decimal(0)  # 0 - x, never -x: no "-0.0" for a zero amount


def transaction_node(order: Payload, rest: Payload, cur: str) -> Node:
    """OrderTransaction {id, kind, status, gateway, amountSet, ...} (the order's or a refund's).

    A REST transaction gives its amount in its own currency (the presentment currency); the
    shop-money side is converted with the order's own total_price_set ratio."""
    tx_cur = rest.get("currency") or order.get("presentment_currency") or cur
    amount = dec(str(rest.get("amount") or "0"))
    totals = order.get("total_price_set") or {}
    shop_amount = amount
    if tx_cur != cur and totals:
        shop_total = dec(totals["shop_money"]["amount"])
        pres_total = dec(totals["presentment_money"]["amount"])
        shop_amount = shop_total if amount == pres_total else amount * shop_total / pres_total
    bag = rest.get("amount_set") or {
        "shop_money": {"amount": str(cents(shop_amount)), "currency_code": cur},
        "presentment_money": {"amount": str(amount), "currency_code": tx_cur},
    }
    return {
        "__typename": "OrderTransaction",
        "id": gid("OrderTransaction", rest.get("id") or 0),
        "kind": str(rest.get("kind") or "sale").upper(),
        "status": str(rest.get("status") or "success").upper(),
        "gateway": rest.get("gateway"),
        "amountSet": money_bag(bag, None, cur),
        "processedAt": utc(rest.get("processed_at") or rest.get("created_at")),
        "createdAt": utc(rest.get("created_at") or rest.get("processed_at")),
        "test": bool(rest.get("test")),
        "errorCode": (rest.get("error_code") or "").upper() or None,
    }


def _shop_amount(rest_set: Mapping[str, Any] | None, amount: object) -> Decimal:
    if rest_set:
        return dec(str(rest_set["shop_money"]["amount"]))
    return dec(str(amount or "0"))


def _negated(rest_set: Mapping[str, Any] | None, amount: object, cur: str) -> Node:
    """The MoneyBag of MINUS a REST amount (a shipping_refund adjustment is negative)."""
    if rest_set:
        flipped = {
            side: {**rest_set[side], "amount": str(_ZERO - dec(str(rest_set[side]["amount"])))}
            for side in _SIDES
        }
        return money_bag(flipped, None, cur)
    return money_bag(None, _ZERO - dec(str(amount or "0")), cur)


def _is_shipping_refund(adjustment: Payload) -> bool:
    return adjustment.get("kind") == "shipping_refund"


def _shipping_lines_refunded(order: Payload) -> dict[int, list[Payload]]:
    """Per refund (by position in the order): the shipping line each of its legacy
    ``shipping_refund`` adjustments refunds, the first with an amount left after the refunds
    before it (none when the order has no shipping line)."""
    ships = [s for s in order.get("shipping_lines") or [] if not s.get("is_removed")]
    left = [_shop_amount(s.get("price_set"), s.get("price")) for s in ships]
    index = {s.get("id"): i for i, s in enumerate(ships)}
    out: dict[int, list[Payload]] = {}
    for position, refund in enumerate(order.get("refunds") or []):
        named = refund.get("refund_shipping_lines")
        if named is not None:
            for entry in named:
                i = index.get(entry.get("shipping_line_id"))
                if i is not None:
                    left[i] -= _shop_amount(entry.get("subtotal_amount_set"), None)
            continue
        chosen: list[Payload] = []
        for adjustment in refund.get("order_adjustments") or []:
            if not _is_shipping_refund(adjustment) or not ships:
                continue
            i = next((n for n, amount in enumerate(left) if amount > 0), 0)
            left[i] += _shop_amount(adjustment.get("amount_set"), adjustment.get("amount"))
            chosen.append(ships[i])
        out[position] = chosen
    return out


def _refund_shipping_lines(order: Payload, rest: Payload, position: int, cur: str) -> list[Node]:
    named = rest.get("refund_shipping_lines")
    if named is not None:
        ships = {s.get("id"): s for s in order.get("shipping_lines") or []}
        return [
            {
                "__typename": "RefundShippingLine",
                "id": gid("RefundShippingLine", entry.get("id") or 0),
                "shippingLine": shipping_line_node(
                    ships.get(entry.get("shipping_line_id"))
                    or {"id": entry.get("shipping_line_id")},
                    cur,
                ),
                "subtotalAmountSet": money_bag(entry.get("subtotal_amount_set"), None, cur),
                "taxAmountSet": money_bag(entry.get("total_tax_set"), None, cur),
            }
            for entry in named
        ]
    chosen = _shipping_lines_refunded(order).get(position, [])
    legacy = [a for a in rest.get("order_adjustments") or [] if _is_shipping_refund(a)]
    if not chosen:  # no shipping line to refund: they stay order adjustments
        return []
    return [
        {
            "__typename": "RefundShippingLine",
            "id": gid("RefundShippingLine", adjustment.get("id") or 0),
            "shippingLine": shipping_line_node(ship, cur),
            "subtotalAmountSet": _negated(
                adjustment.get("amount_set"), adjustment.get("amount"), cur
            ),
            "taxAmountSet": _negated(
                adjustment.get("tax_amount_set"), adjustment.get("tax_amount"), cur
            ),
        }
        for adjustment, ship in zip(legacy, chosen, strict=True)
    ]


def _reason(adjustment: Payload) -> str:
    text = str(adjustment.get("reason") or "").strip().upper().replace(" ", "_")
    return text if text in _REASONS else "REFUND_DISCREPANCY"


def _order_adjustments(order: Payload, rest: Payload, cur: str) -> list[Node]:
    """Every adjustment but the shipping refunds answered as refundShippingLines."""
    as_lines = rest.get("refund_shipping_lines") is not None or any(
        not s.get("is_removed") for s in order.get("shipping_lines") or []
    )
    return [
        {
            "__typename": "OrderAdjustment",
            "id": gid("OrderAdjustment", a.get("id") or 0),
            "reason": _reason(a),
            "amountSet": money_bag(a.get("amount_set"), a.get("amount"), cur),
            "taxAmountSet": money_bag(a.get("tax_amount_set"), a.get("tax_amount"), cur),
        }
        for a in rest.get("order_adjustments") or []
        if not (as_lines and _is_shipping_refund(a))
    ]


def _refund_duties(order: Payload, rest: Payload, cur: str) -> list[Node]:
    duties = {
        d.get("id"): d for li in order.get("line_items") or [] for d in li.get("duties") or []
    }
    out: list[Node] = []
    for entry in rest.get("duties") or []:
        duty = duties.get(entry.get("duty_id")) or {"id": entry.get("duty_id")}
        out.append(
            {
                "__typename": "RefundDuty",
                "amountSet": money_bag(entry.get("amount_set"), entry.get("amount"), cur),
                "originalDuty": duty_node(duty, cur),
            }
        )
    return out


def _connection(typename: str, nodes: list[Node], rest: list[Payload]) -> Connection:
    return Connection.of(typename, nodes, [int(r.get("id") or 0) for r in rest])


def refund_node(shop: ShopState, order: Payload, rest: Payload, cur: str) -> Node:
    """Order.refunds: one Refund (see the module docstring for its fields)."""
    lines = {li.get("id"): li for li in order.get("line_items") or []}
    items = list(rest.get("refund_line_items") or [])
    refunds = list(order.get("refunds") or [])
    position = next((i for i, r in enumerate(refunds) if r is rest), len(refunds))
    txs = [t for t in rest.get("transactions") or [] if isinstance(t, dict)]
    tx_nodes = [transaction_node(order, t, cur) for t in txs]
    refunded = [
        {
            side: {"amount": n["amountSet"][gql]["amount"]}
            for side, gql in zip(_SIDES, ("shopMoney", "presentmentMoney"), strict=True)
        }
        for n in tx_nodes
        if n["kind"] == "REFUND" and n["status"] == "SUCCESS"
    ]
    pcur = order.get("presentment_currency") or cur

    def item_node(entry: Payload) -> Node:
        line = lines.get(entry.get("line_item_id")) or entry.get("line_item") or {}
        qty = int(entry.get("quantity") or 0)
        return {
            "__typename": "RefundLineItem",
            "id": gid("RefundLineItem", entry.get("id") or 0),
            "quantity": qty,
            "restockType": str(entry.get("restock_type") or "no_restock").upper(),
            "restocked": entry.get("restock_type") in ("return", "cancel"),
            "priceSet": money_bag(line.get("price_set"), line.get("price"), cur),
            "subtotalSet": money_bag(entry.get("subtotal_set"), entry.get("subtotal"), cur),
            "totalTaxSet": money_bag(entry.get("total_tax_set"), entry.get("total_tax"), cur),
            "lineItem": line_item_node(shop, line, cur) if line.get("id") else None,
        }

    shipping = _refund_shipping_lines(order, rest, position, cur)
    adjustments = _order_adjustments(order, rest, cur)
    return {
        "__typename": "Refund",
        "id": gid("Refund", rest.get("id") or 0),
        "legacyResourceId": str(rest.get("id") or 0),
        "createdAt": utc(rest.get("created_at")),
        "updatedAt": utc(rest.get("updated_at") or rest.get("created_at")),
        "note": rest.get("note"),
        "totalRefundedSet": sum_bags(refunded, cur, pcur),
        "refundLineItems": lambda _args: Connection.of(
            "RefundLineItem", [item_node(e) for e in items], [int(e.get("id") or 0) for e in items]
        ),
        "refundShippingLines": lambda _args: Connection.of("RefundShippingLine", shipping),
        "orderAdjustments": lambda _args: Connection.of("OrderAdjustment", adjustments),
        "duties": _refund_duties(order, rest, cur),
        "transactions": lambda _args: _connection("OrderTransaction", tx_nodes, txs),
    }
