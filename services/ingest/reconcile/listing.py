"""One page of a shop's orders by update time: ids, timestamps and statuses (a cheap query).

``orders(first: N, after: cursor, query: "updated_at:>='…'", sortKey: UPDATED_AT)`` with each
order's refund ids (a plain list, not a connection: a refund whose refunds/create never came
shows even when an orders/updated did), its ``displayFinancialStatus`` (an
``OrderDisplayFinancialStatus``: PAID, PARTIALLY_REFUNDED, ...) and ``cancelledAt``, so a paid
or cancelled order whose orders/paid or orders/cancelled never came is found without reading
it. Cost 2 + N by Shopify's calculated cost (scalars are free, no connection inside a node), so
a page of 100 costs 102 points out of a bucket of 1,000 (Standard).
Shopify's failures come out as the fetcher's ``ShopifyUnavailable`` (worth retrying next
round) and ``ShopifyRefused``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from libs.common.shopify_admin import ShopifyAdmin
from services.ingest.order_fetch import shopify_call
from services.ingest.shopify_orders import legacy_id

PAGE_SIZE = 100

# Financial statuses (REST spelling) of an order whose money was captured: Shopify sent
# orders/paid for it, and the mapper registers its payments (the mapper's PAID_STATUSES).
PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})

ORDERS_BY_UPDATE_QUERY = """
query fortbridgeReconcileOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { id createdAt updatedAt displayFinancialStatus cancelledAt refunds { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


ORDERS_BY_CREATION_QUERY = """
query fortbridgeBackfillOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: CREATED_AT) {
    nodes { id createdAt updatedAt displayFinancialStatus cancelledAt refunds { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

ORDERS_BY_IDS_QUERY = """
query fortbridgeBackfillOrdersByIds($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Order { id createdAt updatedAt displayFinancialStatus cancelledAt refunds { id } }
  }
}
"""


@dataclass(frozen=True)
class OrderMark:
    """An order as the listing shows it: enough to tell whether ingest is behind."""

    order_id: str
    created_at: datetime
    updated_at: datetime
    refund_ids: frozenset[str] = frozenset()
    financial_status: str | None = None  # REST spelling: "paid", "partially_refunded", ...
    cancelled_at: datetime | None = None

    @property
    def paid(self) -> bool:
        return is_paid(self.financial_status)

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None


@dataclass(frozen=True)
class OrderPage:
    orders: list[OrderMark]
    cursor: str | None
    more: bool
    unlisted: tuple[str, ...] = ()  # asked-for ids Shopify did not list (backfill by ids)


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (Shopify's ``Z`` or an offset) as an aware UTC datetime."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def is_paid(financial_status: Any) -> bool:
    """Was the order's money captured (a REST ``financial_status`` or a GraphQL
    ``displayFinancialStatus``)?"""
    return str(financial_status or "").lower() in PAID_STATUSES


def search_query(since: datetime) -> str:
    """Shopify search syntax for orders updated at or after ``since`` (UTC, whole seconds)."""
    moment = since.astimezone(UTC).replace(microsecond=0)
    return f"updated_at:>='{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}'"


def _mark(node: Any) -> OrderMark | None:
    if not isinstance(node, dict):
        return None
    order_id = legacy_id(node.get("id"))
    created = parse_time(node.get("createdAt"))
    updated = parse_time(node.get("updatedAt"))
    if order_id is None or created is None or updated is None:
        return None
    refunds = {legacy_id(r.get("id")) for r in node.get("refunds") or [] if isinstance(r, dict)}
    status = node.get("displayFinancialStatus")
    return OrderMark(
        str(order_id),
        created,
        updated,
        frozenset(str(r) for r in refunds if r is not None),
        financial_status=str(status).lower() if status else None,
        cancelled_at=parse_time(node.get("cancelledAt")),
    )


async def order_page(
    admin: ShopifyAdmin,
    shop: str,
    token: str,
    since: datetime,
    cursor: str | None,
    page_size: int = PAGE_SIZE,
) -> OrderPage:
    """The next page of orders updated since ``since``, oldest update first."""
    variables = {"first": page_size, "after": cursor, "query": search_query(since)}
    data = await shopify_call(
        admin,
        shop,
        token,
        "fortbridgeReconcileOrders",
        ORDERS_BY_UPDATE_QUERY,
        variables,
        2 + page_size,
    )
    connection = data.get("orders") or {}
    marks = [_mark(node) for node in connection.get("nodes") or []]
    page = connection.get("pageInfo") or {}
    return OrderPage(
        orders=[mark for mark in marks if mark is not None],
        cursor=page.get("endCursor") or cursor,
        more=bool(page.get("hasNextPage")),
    )


def created_query(start: datetime, end: datetime) -> str:
    """Shopify search syntax for orders created in [start, end) (UTC, whole seconds)."""

    def moment(value: datetime) -> str:
        return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")

    return f"created_at:>='{moment(start)}' created_at:<'{moment(end)}'"


async def created_page(
    admin: ShopifyAdmin,
    shop: str,
    token: str,
    start: datetime,
    end: datetime,
    cursor: str | None,
    page_size: int = PAGE_SIZE,
) -> OrderPage:
    """The next page of orders created in [start, end), oldest first (a backfill)."""
    variables = {"first": page_size, "after": cursor, "query": created_query(start, end)}
    data = await shopify_call(
        admin,
        shop,
        token,
        "fortbridgeBackfillOrders",
        ORDERS_BY_CREATION_QUERY,
        variables,
        2 + page_size,
    )
    connection = data.get("orders") or {}
    marks = [_mark(node) for node in connection.get("nodes") or []]
    page = connection.get("pageInfo") or {}
    return OrderPage(
        orders=[mark for mark in marks if mark is not None],
        cursor=page.get("endCursor") or cursor,
        more=bool(page.get("hasNextPage")),
    )


async def orders_by_ids(
    admin: ShopifyAdmin, shop: str, token: str, order_ids: list[str]
) -> list[OrderMark]:
    """The listed orders Shopify has (an id it does not know, or cannot show, is left out)."""
    gids = [f"gid://shopify/Order/{order_id}" for order_id in order_ids]
    data = await shopify_call(
        admin,
        shop,
        token,
        "fortbridgeBackfillOrdersByIds",
        ORDERS_BY_IDS_QUERY,
        {"ids": gids},
        1 + len(gids),
    )
    marks = [_mark(node) for node in data.get("nodes") or []]
    return [mark for mark in marks if mark is not None]
