"""QueryRoot: shop, order(s), product(s), productVariant, customer(s), node(s).

List fields take first/after/last/before/reverse, `query` (see search.py) and `sortKey`
(ID by default). Ids are global ids ("gid://shopify/Order/5000000000001").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ._state import Payload, ShopState, parse_gid, split_tags
from .execution import Connection, Node
from .inventory import inventory_queries
from .metafields import metafield_node
from .operation import GraphQLError
from .order_shapes import order_node
from .payouts import payout_node, transaction_node
from .search import SearchField, compile_search, parse_time
from .shapes import customer_node, line_item_node, product_node, shop_node, variant_node
from .subscriptions import webhook_subscriptions


@dataclass(frozen=True)
class Resource:
    kind: str
    sort_enum: str
    store: Callable[[ShopState], dict[int, Payload]]
    node: Callable[[ShopState, Payload], Node]
    search: Mapping[str, SearchField]
    sorts: Mapping[str, Callable[[Payload], Any]]
    text: Callable[[Payload], list[str]]


def _epoch(value: object) -> int:
    moment = parse_time(value)
    return 0 if moment is None else int(moment.timestamp() * 1_000_000)


def _field(kind: Any, name: str) -> SearchField:
    return SearchField(kind, lambda p: p.get(name))


def _order_status(p: Payload) -> str:
    return "cancelled" if p.get("cancelled_at") else "closed" if p.get("closed_at") else "open"


_COMMON = {
    "id": _field("int", "id"),
    "created_at": _field("datetime", "created_at"),
    "updated_at": _field("datetime", "updated_at"),
    "tag": SearchField("tags", lambda p: split_tags(p.get("tags"))),
}
_TIME_SORTS: dict[str, Callable[[Payload], Any]] = {
    "ID": lambda p: p["id"],
    "RELEVANCE": lambda p: p["id"],
    "CREATED_AT": lambda p: _epoch(p.get("created_at")),
    "UPDATED_AT": lambda p: _epoch(p.get("updated_at")),
}

ORDERS = Resource(
    "Order",
    "OrderSortKeys",
    lambda shop: shop.readable_orders(),
    order_node,
    {
        **_COMMON,
        "name": _field("text", "name"),
        "email": _field("text", "email"),
        "processed_at": _field("datetime", "processed_at"),
        "financial_status": _field("text", "financial_status"),
        "fulfillment_status": SearchField(
            "text", lambda p: p.get("fulfillment_status") or "unfulfilled"
        ),
        "status": SearchField("text", _order_status),
        "test": SearchField("text", lambda p: str(bool(p.get("test"))).lower()),
        "sku": SearchField("tags", lambda p: [li.get("sku") for li in p.get("line_items") or []]),
        "customer_id": SearchField("int", lambda p: (p.get("customer") or {}).get("id")),
    },
    {
        **_TIME_SORTS,
        "PROCESSED_AT": lambda p: _epoch(p.get("processed_at") or p.get("created_at")),
        "ORDER_NUMBER": lambda p: int(p.get("order_number") or 0),
        "TOTAL_PRICE": lambda p: int(Decimal(p.get("total_price") or "0") * 100),
    },
    lambda p: [
        p.get("name") or "",
        p.get("email") or "",
        *[str(li.get("sku") or "") for li in p.get("line_items") or []],
    ],
)
PRODUCTS = Resource(
    "Product",
    "ProductSortKeys",
    lambda shop: shop.products,
    product_node,
    {
        **_COMMON,
        "title": _field("text", "title"),
        "handle": _field("text", "handle"),
        "vendor": _field("text", "vendor"),
        "product_type": _field("text", "product_type"),
        "status": _field("text", "status"),
        "sku": SearchField("tags", lambda p: [v.get("sku") for v in p.get("variants") or []]),
        "barcode": SearchField(
            "tags", lambda p: [v.get("barcode") for v in p.get("variants") or []]
        ),
    },
    {
        **_TIME_SORTS,
        "TITLE": lambda p: str(p.get("title") or "").lower(),
        "VENDOR": lambda p: str(p.get("vendor") or "").lower(),
        "PRODUCT_TYPE": lambda p: str(p.get("product_type") or "").lower(),
        "INVENTORY_TOTAL": lambda p: sum(
            int(v.get("inventory_quantity") or 0) for v in p.get("variants") or []
        ),
    },
    lambda p: [p.get("title") or "", *[str(v.get("sku") or "") for v in p.get("variants") or []]],
)
CUSTOMERS = Resource(
    "Customer",
    "CustomerSortKeys",
    lambda shop: shop.customers,
    customer_node,
    {
        **_COMMON,
        "email": _field("text", "email"),
        "phone": _field("text", "phone"),
        "first_name": _field("text", "first_name"),
        "last_name": _field("text", "last_name"),
        "state": _field("text", "state"),
    },
    {
        **_TIME_SORTS,
        "NAME": lambda p: f"{p.get('first_name') or ''} {p.get('last_name') or ''}".lower(),
    },
    lambda p: [str(p.get(k) or "") for k in ("email", "first_name", "last_name", "phone")],
)
PAYOUTS = Resource(
    "ShopifyPaymentsPayout",
    "PayoutSortKeys",
    lambda shop: shop.payments.payouts,
    payout_node,
    {
        "id": _field("int", "id"),
        "status": _field("text", "status"),
        "issued_at": _field("datetime", "issued_at"),
        "amount": _field("text", "amount"),
    },
    {
        "ID": lambda p: p["id"],
        "ISSUED_AT": lambda p: _epoch(p.get("issued_at")),
        "STATUS": lambda p: str(p.get("status")),
        "AMOUNT": lambda p: int(Decimal(p.get("amount") or "0") * 100),
    },
    lambda p: [str(p.get("id"))],
)
BALANCE_TRANSACTIONS = Resource(
    "ShopifyPaymentsBalanceTransaction",
    "BalanceTransactionSortKeys",
    lambda shop: shop.payments.transactions,
    transaction_node,
    {
        "id": _field("int", "id"),
        "payments_transfer_id": _field("int", "payout_id"),
        "payout_status": _field("text", "payout_status"),
        "transaction_type": _field("text", "type"),
        "processed_at": _field("datetime", "processed_at"),
    },
    {
        "ID": lambda p: p["id"],
        "PROCESSED_AT": lambda p: _epoch(p.get("processed_at")),
        "TRANSACTION_TYPE": lambda p: str(p.get("type")),
        "PAYOUT_STATUS": lambda p: str(p.get("payout_status")),
    },
    lambda p: [str(p.get("type"))],
)
RESOURCES = {"Order": ORDERS, "Product": PRODUCTS, "Customer": CUSTOMERS}


def _gid_arg(value: object) -> tuple[str, int]:
    parsed = parse_gid(value)
    if parsed is None:
        raise GraphQLError(
            f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"}
        )
    return parsed


def node_for_gid(shop: ShopState, value: object) -> Node | None:
    kind, legacy_id = _gid_arg(value)
    if kind in RESOURCES:
        resource = RESOURCES[kind]
        payload = resource.store(shop).get(legacy_id)
        return None if payload is None else resource.node(shop, payload)
    if kind == "ProductVariant":
        found = shop.find_variant(legacy_id)
        return None if found is None else variant_node(shop, *found)
    if kind == "Shop":
        return shop_node(shop) if legacy_id == shop.shop_id else None
    if kind == "Metafield":
        for key, meta in shop.metafield_meta.items():
            if meta.id == legacy_id:
                return metafield_node(shop, key)
    if kind == "LineItem":
        for order in shop.orders.values():
            for line in order.get("line_items") or []:
                if line.get("id") == legacy_id:
                    return line_item_node(shop, line, order.get("currency") or shop.currency)
    return None


def _single(shop: ShopState, resource: Resource, args: Mapping[str, Any]) -> Node | None:
    kind, _ = _gid_arg(args.get("id"))
    return node_for_gid(shop, args.get("id")) if kind == resource.kind else None


def _listing(
    shop: ShopState,
    resource: Resource,
    field: str,
    args: Mapping[str, Any],
    searches: list[dict[str, Any]],
) -> Connection:
    sort = args.get("sortKey") or "ID"
    if sort not in resource.sorts:
        raise GraphQLError(
            f"Argument 'sortKey' on Field '{field}' has an invalid value ({sort}). "
            f"Expected type '{resource.sort_enum}'.",
            path=[field],
            extensions={"code": "argumentLiteralsIncompatible", "argumentName": "sortKey"},
        )
    query = args.get("query")
    predicate, warnings = compile_search(query, resource.search, resource.text)
    if warnings:
        searches.append({"path": [field], "query": query, "warnings": warnings})
    sort_value = resource.sorts[sort]
    keyed = sorted(
        ((sort_value(p), int(p["id"])), p) for p in resource.store(shop).values() if predicate(p)
    )
    if args.get("reverse"):
        keyed.reverse()
    return Connection(
        resource.kind,
        [payload for _, payload in keyed],
        [key for key, _ in keyed],
        reverse=bool(args.get("reverse")),
        build=lambda payload: resource.node(shop, payload),
    )


def _payments_account(shop: ShopState, searches: list[dict[str, Any]]) -> Node:
    return {
        "__typename": "ShopifyPaymentsAccount",
        "id": f"gid://shopify/ShopifyPaymentsAccount/{shop.shop_id}",
        "activated": True,
        "country": "SE",
        "defaultCurrency": shop.currency,
        "payouts": lambda args: _listing(shop, PAYOUTS, "payouts", args, searches),
        "balanceTransactions": lambda args: _listing(
            shop, BALANCE_TRANSACTIONS, "balanceTransactions", args, searches
        ),
    }


def query_root(shop: ShopState, searches: list[dict[str, Any]]) -> Node:
    """The QueryRoot node; search warnings are appended to `searches`."""
    root: Node = {
        "__typename": "QueryRoot",
        "shop": lambda _args: shop_node(shop),
        "node": lambda args: node_for_gid(shop, args.get("id")),
        "nodes": lambda args: [node_for_gid(shop, i) for i in args.get("ids") or []],
        "productVariant": lambda args: (
            node_for_gid(shop, args.get("id"))
            if _gid_arg(args.get("id"))[0] == "ProductVariant"
            else None
        ),
        "webhookSubscriptions": lambda args: webhook_subscriptions(shop, args),
        "shopifyPaymentsAccount": lambda _args: _payments_account(shop, searches),
        **inventory_queries(shop, searches),
    }
    for single, plural, resource in (
        ("order", "orders", ORDERS),
        ("product", "products", PRODUCTS),
        ("customer", "customers", CUSTOMERS),
    ):
        root[single] = lambda args, r=resource: _single(shop, r, args)
        root[plural] = lambda args, r=resource, f=plural: _listing(shop, r, f, args, searches)
    return root
