"""The Shopify side of a period: every order created in it, with its refunds and payments.

Read from Shopify's Admin GraphQL API, never from Fortbridge's records: ``orders(query:
"updated_at:>='<start>'", sortKey: UPDATED_AT)`` (an order created in the period, or refunded
in it, was updated since its start). Kept: the orders created in the period, with all their
refunds; and orders created before it that were refunded in it (``in_period`` false), with only
those refunds. A page of 5 orders with their tax lines, transactions (first 10), refunds (first 5)
and each refund's line items (first 20) and transactions (first 5) is estimated at
2 + 5 x (1 + 12 + 2 + 5 x 34) = 927
points by Shopify's calculated cost (under the 1,000 a single query may cost); far less is
used, and the client waits for the bucket before a call that would not fit
(libs/common/shopify_admin.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from libs.common.errors import TransientError
from libs.common.shopify_admin import ShopifyAdmin

PAGE_SIZE = 5
ZERO = Decimal("0.00")

ORDERS_QUERY = """
query fortbridgeReportOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes {
      id name createdAt cancelledAt
      totalPriceSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
      taxLines { rate priceSet { shopMoney { amount } } }
      transactions(first: 10) {
        id kind status processedAt amountSet { shopMoney { amount currencyCode } }
      }
      refunds(first: 5) {
        id createdAt
        totalRefundedSet { shopMoney { amount currencyCode } }
        refundLineItems(first: 20) {
          nodes { totalTaxSet { shopMoney { amount } } lineItem { taxLines { rate } } }
        }
        refundShippingLines(first: 2) {
          nodes { taxAmountSet { shopMoney { amount } } }
        }
        transactions(first: 5) {
          nodes { id kind status processedAt amountSet { shopMoney { amount currencyCode } } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
# Shopify's estimate of a page: a connection (2) + per order 1 + its nested connections.
PAGE_COST = 2 + PAGE_SIZE * (1 + (2 + 10) + (2 + 5 * (1 + (2 + 20) + (2 + 2) + (2 + 5))))


def rate_key(rate: Any) -> str:
    """A VAT rate as a percentage without trailing zeros: 0.25 -> "25", 0.12 -> "12"."""
    percent = (Decimal(str(rate or 0)) * 100).normalize()
    return format(percent, "f")


def money(value: Any) -> Decimal:
    amount = ((value or {}).get("shopMoney") or {}).get("amount")
    return Decimal(str(amount)) if amount not in (None, "") else ZERO


@dataclass
class ShopifyRefund:
    refund_id: str
    created: date
    amount: Decimal  # money given back (positive)
    vat: Decimal
    vat_by_rate: dict[str, Decimal]


@dataclass
class ShopifyOrder:
    order_id: str
    name: str
    created: date
    currency: str
    total: Decimal
    vat: Decimal
    vat_by_rate: dict[str, Decimal]
    cancelled: bool
    refunds: list[ShopifyRefund] = field(default_factory=list)
    paid: Decimal = ZERO  # captured minus refunded, from the successful transactions
    in_period: bool = True  # False: an earlier order, here for its refunds in the period

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.refunds), ZERO)

    @property
    def refund_vat(self) -> Decimal:
        return sum((r.vat for r in self.refunds), ZERO)


def _day(value: Any, zone: ZoneInfo) -> date:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(zone).date()


def parse_order(node: dict[str, Any], zone: ZoneInfo) -> ShopifyOrder:
    order_id = str(node["id"]).rsplit("/", 1)[-1]
    by_rate: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in node.get("taxLines") or []:
        by_rate[rate_key(line.get("rate"))] += money(line.get("priceSet"))
    paid = ZERO
    # The order's transactions and its refunds' (a refund's may be listed in both: once).
    transactions = {
        str(tx.get("id") or n): tx
        for n, tx in enumerate(
            [
                *(node.get("transactions") or []),
                *(
                    t
                    for r in node.get("refunds") or []
                    for t in (r.get("transactions") or {}).get("nodes") or []
                ),
            ]
        )
    }
    for tx in transactions.values():
        if str(tx.get("status") or "").upper() != "SUCCESS":
            continue
        kind = str(tx.get("kind") or "").upper()
        if kind in ("SALE", "CAPTURE"):
            paid += money(tx.get("amountSet"))
        elif kind == "REFUND":
            paid -= money(tx.get("amountSet"))
    refunds = [_refund(r, zone) for r in node.get("refunds") or []]
    total = node.get("totalPriceSet") or {}
    return ShopifyOrder(
        order_id=order_id,
        name=str(node.get("name") or order_id),
        created=_day(node["createdAt"], zone),
        currency=str((total.get("shopMoney") or {}).get("currencyCode") or ""),
        total=money(total),
        vat=money(node.get("totalTaxSet")),
        vat_by_rate={rate: amount for rate, amount in by_rate.items() if amount},
        cancelled=bool(node.get("cancelledAt")),
        refunds=refunds,
        paid=paid,
    )


def _refund(node: dict[str, Any], zone: ZoneInfo) -> ShopifyRefund:
    by_rate: dict[str, Decimal] = defaultdict(lambda: ZERO)
    vat = ZERO
    for item in (node.get("refundLineItems") or {}).get("nodes") or []:
        tax = money(item.get("totalTaxSet"))
        lines = ((item.get("lineItem") or {}).get("taxLines")) or [{}]
        by_rate[rate_key(lines[0].get("rate"))] += tax
        vat += tax
    for line in (node.get("refundShippingLines") or {}).get("nodes") or []:
        tax = money(line.get("taxAmountSet"))
        by_rate["25"] += tax  # Swedish shipping carries the standard rate
        vat += tax
    return ShopifyRefund(
        refund_id=str(node["id"]).rsplit("/", 1)[-1],
        created=_day(node["createdAt"], zone),
        amount=money(node.get("totalRefundedSet")),
        vat=vat,
        vat_by_rate={rate: amount for rate, amount in by_rate.items() if amount},
    )


async def period_orders(
    admin: ShopifyAdmin,
    shop: str,
    token: str,
    start: date,
    end: date,
    zone: ZoneInfo,
    *,
    attempts: int = 5,
) -> list[ShopifyOrder]:
    """Every order created from ``start`` to ``end`` (inclusive, in ``zone``), and the earlier
    orders refunded in that time (with only those refunds)."""
    begin = datetime.combine(start, datetime.min.time(), zone)
    query = f"updated_at:>='{begin.isoformat()}'"
    orders: list[ShopifyOrder] = []
    cursor: str | None = None
    while True:
        variables = {"first": PAGE_SIZE, "after": cursor, "query": query}
        data: dict[str, Any] = {}
        for attempt in range(attempts):
            try:
                data = await admin.graphql(
                    shop,
                    token,
                    "fortbridgeReportOrders",
                    ORDERS_QUERY,
                    variables,
                    expected_cost=PAGE_COST,
                )
                break
            except TransientError:
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(2**attempt)  # Shopify unavailable: wait it out a little
        connection = data.get("orders") or {}
        for node in connection.get("nodes") or []:
            order = parse_order(node, zone)
            if start <= order.created <= end:
                orders.append(order)
            elif order.created < start:
                late = [r for r in order.refunds if start <= r.created <= end]
                if late:
                    order.refunds, order.in_period = late, False
                    orders.append(order)
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return orders
        cursor = page.get("endCursor")


PAYOUTS_QUERY = """
query fortbridgeReportPayouts($first: Int!, $after: String, $query: String) {
  shopifyPaymentsAccount {
    payouts(first: $first, after: $after, query: $query, sortKey: ISSUED_AT) {
      nodes {
        legacyResourceId issuedAt net { amount currencyCode }
        summary { chargesFee { amount } refundsFee { amount } adjustmentsFee { amount }
                  reservedFundsFee { amount } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
PAYOUTS_PER_PAGE = 50


@dataclass
class ShopifyPayout:
    payout_id: str
    day: date
    currency: str
    net: Decimal
    fees: Decimal


def _amount(value: Any) -> Decimal:
    amount = (value or {}).get("amount")
    return Decimal(str(amount)) if amount not in (None, "") else ZERO


async def period_payouts(
    admin: ShopifyAdmin, shop: str, token: str, start: date, end: date, zone: ZoneInfo
) -> list[ShopifyPayout]:
    """The shop's paid Shopify Payments payouts issued in the period (``status:paid``)."""
    begin = datetime.combine(start, datetime.min.time(), zone)
    query = f"status:paid issued_at:>='{begin.isoformat()}'"
    payouts: list[ShopifyPayout] = []
    cursor: str | None = None
    while True:
        variables = {"first": PAYOUTS_PER_PAGE, "after": cursor, "query": query}
        data = await admin.graphql(
            shop,
            token,
            "fortbridgeReportPayouts",
            PAYOUTS_QUERY,
            variables,
            expected_cost=2 + PAYOUTS_PER_PAGE + 1,
        )
        connection = (data.get("shopifyPaymentsAccount") or {}).get("payouts") or {}
        for node in connection.get("nodes") or []:
            day = _day(node["issuedAt"], zone)
            if not start <= day <= end:
                continue
            summary = node.get("summary") or {}
            net = node.get("net") or {}
            payouts.append(
                ShopifyPayout(
                    payout_id=str(node.get("legacyResourceId")),
                    day=day,
                    currency=str(net.get("currencyCode") or ""),
                    net=_amount(net),
                    fees=sum((_amount(v) for v in summary.values()), ZERO),
                )
            )
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return payouts
        cursor = page.get("endCursor")
