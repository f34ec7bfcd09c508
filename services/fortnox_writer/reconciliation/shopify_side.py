"""The Shopify side of a period: every order created in it, with its refunds and payments.

Read from Shopify's Admin GraphQL API, never from Fortbridge's records: ``orders(query:
"updated_at:>='<start>'", sortKey: UPDATED_AT)`` (an order created in the period, or refunded
in it, was updated since its start). Kept: the orders created in the period, with all their
refunds; and orders created before it that were refunded in it (``in_period`` false), with only
those refunds, or cancelled without a refund in it (kept only when a refunds summary holds
the cancellation). In summary mode with a close time after midnight, also the orders created
(``edge``) and the earlier orders' refunds and cancellations made after the period until its
last day's close time. A page of 5 orders with their tax lines, transactions (first 10),
refunds (first 5) and each refund's line items (first 20) and transactions (first 5) is
estimated at
2 + 5 x (1 + 12 + 2 + 5 x 34) = 927
points by Shopify's calculated cost (under the 1,000 a single query may cost); far less is
used, and the client waits for the bucket before a call that would not fit
(libs/common/shopify_admin.py).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
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
      id name createdAt cancelledAt taxesIncluded
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
    created_at: datetime  # when it happened (summary mode puts it in that summary day)
    amount: Decimal  # money given back (positive)
    vat: Decimal
    vat_by_rate: dict[str, Decimal]
    paid_back: Decimal = ZERO  # its successful refund transactions (money that left the shop)
    # Made after the period but before its last day's close time (summary mode): counted only
    # when a refunds summary of the period holds it.
    edge: bool = False
    # A summarized order's refund whose summary day is after the period: in a later refunds
    # summary (a later report compares it); listed, not counted.
    later: bool = False


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
    created_at: datetime | None = None  # the moment (summary mode: its summary day)
    taxes_included: bool | None = None  # the summary profile's incl/excl
    edge: bool = False  # created just after the period: only its summary day may be in it
    captured: Decimal = ZERO  # its successful sales and captures (money received)
    cancelled_at: datetime | None = None  # summary mode: its refunds summary day
    # An earlier order here only for its cancellation without a refund in the period (or
    # after it, before its last day's close time: ``cancel_edge``): listed only when a refunds
    # summary of the period holds it (summary mode; per order, a cancelled document's credit
    # is not dated by the cancellation).
    cancel_only: bool = False
    cancel_edge: bool = False
    cancel_later: bool = False  # summarized, cancelled after the period (a later summary's)

    @property
    def counted_refunds(self) -> list[ShopifyRefund]:
        """The refunds this period counts (not those of a later refunds summary)."""
        return [r for r in self.refunds if not r.later]

    @property
    def refunded(self) -> Decimal:
        return sum((r.amount for r in self.counted_refunds), ZERO)

    @property
    def refund_vat(self) -> Decimal:
        return sum((r.vat for r in self.counted_refunds), ZERO)


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _day(value: Any, zone: ZoneInfo) -> date:
    return _moment(value).astimezone(zone).date()


def parse_order(node: dict[str, Any], zone: ZoneInfo) -> ShopifyOrder:
    order_id = str(node["id"]).rsplit("/", 1)[-1]
    by_rate: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in node.get("taxLines") or []:
        by_rate[rate_key(line.get("rate"))] += money(line.get("priceSet"))
    paid = captured = ZERO
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
            captured += money(tx.get("amountSet"))
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
        created_at=_moment(node["createdAt"]),
        taxes_included=node.get("taxesIncluded"),
        captured=captured,
        cancelled_at=_moment(node["cancelledAt"]) if node.get("cancelledAt") else None,
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
    paid_back = sum(
        (
            money(tx.get("amountSet"))
            for tx in (node.get("transactions") or {}).get("nodes") or []
            if str(tx.get("status") or "").upper() == "SUCCESS"
            and str(tx.get("kind") or "").upper() == "REFUND"
        ),
        ZERO,
    )
    return ShopifyRefund(
        refund_id=str(node["id"]).rsplit("/", 1)[-1],
        created=_day(node["createdAt"], zone),
        created_at=_moment(node["createdAt"]),
        amount=money(node.get("totalRefundedSet")),
        vat=vat,
        vat_by_rate={rate: amount for rate, amount in by_rate.items() if amount},
        paid_back=paid_back,
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
    edge_days: int = 0,
    refunds_until: datetime | None = None,
) -> list[ShopifyOrder]:
    """Every order created from ``start`` to ``end`` (inclusive, in ``zone``), and the earlier
    orders refunded in that time (with only those refunds) or cancelled without a refund in it.
    ``edge_days``: the orders created in that many days after ``end`` too, marked ``edge``
    (summary mode: a day closed after midnight holds the next morning's orders).
    ``refunds_until``: the period's last day's close time (summary mode): an earlier order's
    refunds (and cancellation) from the end of ``end`` until then are read too, marked
    ``edge`` (``cancel_edge``): the last day's refunds summary may hold them."""
    begin = datetime.combine(start, datetime.min.time(), zone)
    after = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone)
    until = max(after, refunds_until) if refunds_until else after
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
            elif end < order.created <= end + timedelta(days=edge_days):
                order.in_period, order.edge = False, True
                orders.append(order)
            elif order.created < start:
                late = [r for r in order.refunds if start <= r.created <= end]
                for refund in order.refunds:
                    if after <= refund.created_at < until:
                        refund.edge = True
                        late.append(refund)
                cancelled = order.cancelled_at if order.cancelled and not order.refunds else None
                if late:
                    order.refunds, order.in_period = late, False
                    orders.append(order)
                elif cancelled is not None and begin <= cancelled < until:
                    order.in_period, order.cancel_only = False, True
                    order.cancel_edge = cancelled >= after
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
        legacyResourceId issuedAt transactionType net { amount currencyCode }
        summary { chargesFee { amount } refundsFee { amount } adjustmentsFee { amount }
                  reservedFundsFee { amount } chargesGross { amount } refundsFeeGross { amount }
                  adjustmentsGross { amount } reservedFundsGross { amount } }
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
    fees: Decimal  # Shopify's fees of every kind (the summary's *Fee)
    charges: Decimal = ZERO  # gross of the customers' payments (chargesGross)
    refunds: Decimal = ZERO  # gross of money paid back, negative (refundsFeeGross)
    adjustments: Decimal = ZERO  # adjustmentsGross
    reserves: Decimal = ZERO  # reservedFundsGross (held: negative)


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
                    net=_amount(net) * (-1 if node.get("transactionType") == "WITHDRAWAL" else 1),
                    fees=sum((_amount(v) for k, v in summary.items() if k.endswith("Fee")), ZERO),
                    charges=_amount(summary.get("chargesGross")),
                    refunds=_amount(summary.get("refundsFeeGross")),
                    adjustments=_amount(summary.get("adjustmentsGross")),
                    reserves=_amount(summary.get("reservedFundsGross")),
                )
            )
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return payouts
        cursor = page.get("endCursor")
