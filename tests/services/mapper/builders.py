"""Builders for refund, edit and payment payloads (REST webhook shapes) from order payloads.

Refund line amounts follow Fortnox-free Shopify arithmetic: the refunded share of the line's
discounted total (``subtotal``, in the order's price basis: with VAT when taxes_included) and of
its tax (``total_tax``), pro rata to the quantity, rounded to the cent.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Payload = dict[str, Any]
CENT = Decimal("0.01")


def _c(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _s(value: Decimal) -> str:
    return f"{_c(value):.2f}"


def _set(order: Payload, shop: Decimal, pres: Decimal) -> Payload:
    return {
        "shop_money": {"amount": _s(shop), "currency_code": order["currency"]},
        "presentment_money": {"amount": _s(pres), "currency_code": order["presentment_currency"]},
    }


def _side(money_set: Payload, side: str) -> Decimal:
    return Decimal(money_set[side]["amount"])


def _line_share(item: Payload, quantity: int, side: str) -> tuple[Decimal, Decimal]:
    count = Decimal(item["quantity"])
    gross = _side(item["price_set"], side) * count
    gross -= sum((_side(a["amount_set"], side) for a in item["discount_allocations"]), Decimal(0))
    tax = sum((_side(t["price_set"], side) for t in item["tax_lines"]), Decimal(0))
    return _c(gross * quantity / count), _c(tax * quantity / count)


def refund_payload(
    order: Payload,
    refund_id: int,
    *,
    lines: Sequence[tuple[int, int]] = (),
    shipping: Sequence[tuple[str, str]] = (),
    discrepancy: str | None = None,
    created_at: str = "2026-11-20T10:00:00+01:00",
) -> Payload:
    """A refunds/create payload: ``lines`` are (line index, quantity); ``shipping`` are
    (amount, tax) in the shop currency as Shopify's negative shipping_refund adjustments."""
    refund_lines = []
    for n, (index, quantity) in enumerate(lines):
        item = order["line_items"][index]
        shop_sub, shop_tax = _line_share(item, quantity, "shop_money")
        pres_sub, pres_tax = _line_share(item, quantity, "presentment_money")
        refund_lines.append(
            {
                "id": refund_id * 10 + n,
                "line_item_id": item["id"],
                "location_id": None,
                "quantity": quantity,
                "restock_type": "return",
                "subtotal": _s(shop_sub),
                "subtotal_set": _set(order, shop_sub, pres_sub),
                "total_tax": _s(shop_tax),
                "total_tax_set": _set(order, shop_tax, pres_tax),
                "line_item": {"id": item["id"], "title": item["title"], "sku": item["sku"]},
            }
        )
    rate = _rate(order)
    adjustments = []
    for n, (amount, tax) in enumerate(shipping):
        a, t = Decimal(amount), Decimal(tax)
        adjustments.append(
            {
                "id": refund_id * 100 + n,
                "order_id": order["id"],
                "refund_id": refund_id,
                "kind": "shipping_refund",
                "reason": "Shipping refund",
                "amount": _s(-a),
                "amount_set": _set(order, -a, -a * rate),
                "tax_amount": _s(-t),
                "tax_amount_set": _set(order, -t, -t * rate),
            }
        )
    if discrepancy is not None:
        d = Decimal(discrepancy)
        adjustments.append(
            {
                "id": refund_id * 100 + 99,
                "order_id": order["id"],
                "refund_id": refund_id,
                "kind": "refund_discrepancy",
                "reason": "Refund discrepancy",
                "amount": _s(-d),
                "amount_set": _set(order, -d, -d * rate),
                "tax_amount": "0.00",
                "tax_amount_set": _set(order, Decimal(0), Decimal(0)),
            }
        )
    return {
        "id": refund_id,
        "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
        "order_id": order["id"],
        "created_at": created_at,
        "processed_at": created_at,
        "note": None,
        "restock": True,
        "user_id": None,
        "refund_line_items": refund_lines,
        "order_adjustments": adjustments,
        "transactions": [],
        "duties": [],
    }


def _rate(order: Payload) -> Decimal:
    shop = _side(order["total_price_set"], "shop_money")
    pres = _side(order["total_price_set"], "presentment_money")
    return pres / shop if shop else Decimal(1)


def with_refunds(order: Payload, refunds: Sequence[Payload], updated_at: str) -> Payload:
    """The order as orders/updated shows it after ``refunds``: current quantities reduced."""
    out = copy.deepcopy(order)
    out["refunds"] = list(refunds)
    out["updated_at"] = updated_at
    for refund in refunds:
        for entry in refund["refund_line_items"]:
            for item in out["line_items"]:
                if item["id"] == entry["line_item_id"]:
                    item["current_quantity"] -= entry["quantity"]
    return out


def transaction(
    tx_id: int, amount: str, gateway: str, *, currency: str = "SEK", kind: str = "sale"
) -> Payload:
    return {
        "id": tx_id,
        "kind": kind,
        "status": "success",
        "gateway": gateway,
        "amount": amount,
        "currency": currency,
        "processed_at": "2026-11-15T12:05:00+01:00",
    }


def money_back(
    order: Payload, refund: Payload, tx_id: int, gateway: str, *, status: str = "success"
) -> Payload:
    """``refund`` with a ``kind: refund`` transaction paying back what it credits.

    The amount is in the presentment currency (Shopify's transaction currency): the refunded
    lines (with their tax when prices exclude it) and refunded shipping.
    """
    side = "presentment_money"
    total = Decimal(0)
    for entry in refund["refund_line_items"]:
        total += _side(entry["subtotal_set"], side)
        if not order["taxes_included"]:
            total += _side(entry["total_tax_set"], side)
    for adjustment in refund["order_adjustments"]:
        total -= _side(adjustment["amount_set"], side)
        if not order["taxes_included"]:
            total -= _side(adjustment["tax_amount_set"], side)
    out = copy.deepcopy(refund)
    tx = transaction(
        tx_id, _s(total), gateway, currency=order["presentment_currency"], kind="refund"
    )
    tx.update({"status": status, "order_id": order["id"], "parent_id": tx_id - 1})
    tx["processed_at"] = refund["processed_at"]
    out["transactions"] = [*refund["transactions"], tx]
    return out
