"""Shopify Payments payouts: polled (Shopify has no payouts webhook) and stored once each.

Each reconciliation run of a shop (runner.py) also reads the shop's paid payouts issued since
the install (``shopifyPaymentsAccount.payouts(query: "status:paid issued_at:>=…")``, newest
last) and, for each payout not stored yet, its balance transactions
(``balanceTransactions(query: "payments_transfer_id:<payout id>")``, paged), and stores them as
one ``payouts/paid`` event through the normal store-and-publish path, under the deterministic
webhook id ``reconcile:payouts/paid:<payout id>``: a payout is stored once however often it is
read, by any replica. The mapper books it as one Fortnox voucher (accounting/payouts.py).

The payload (Fortbridge's own, REST-like spelling): ``{"id", "status", "issued_at", "currency",
"net", "summary": {...}, "balance_transactions": [{"id", "type", "amount", "fee", "net",
"source_order_id", "source_order_transaction_id", "order_name", "processed_at",
"adjustment_reason"}]}``; money as decimal strings in the payout's currency.

A shop that did not grant ``read_shopify_payments_payouts``, or has no Shopify Payments
account, answers an access error or no account: the poll is skipped for it (logged), the
orders' reconciliation goes on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libs.common.logs import get_logger
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest import events
from services.ingest.order_fetch import ShopifyRefused, shopify_call
from services.ingest.shopify_values import legacy_id

log = get_logger(__name__)
TOPIC = "payouts/paid"
SOURCE = "payout-poll"
PAGE_SIZE = 50
MAX_TRANSACTION_PAGES = 200  # 10,000 transactions per payout

PAYOUTS_QUERY = """
query fortbridgePayouts($first: Int!, $after: String, $query: String) {
  shopifyPaymentsAccount {
    payouts(first: $first, after: $after, query: $query, sortKey: ISSUED_AT) {
      nodes {
        id legacyResourceId status issuedAt transactionType net { amount currencyCode }
        summary { chargesGross { amount } chargesFee { amount } refundsFeeGross { amount }
                  refundsFee { amount } adjustmentsGross { amount } adjustmentsFee { amount }
                  reservedFundsGross { amount } reservedFundsFee { amount } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
TRANSACTIONS_QUERY = """
query fortbridgePayoutTransactions($first: Int!, $after: String, $query: String) {
  shopifyPaymentsAccount {
    balanceTransactions(first: $first, after: $after, query: $query) {
      nodes {
        id type test transactionDate adjustmentReason sourceOrderTransactionId
        amount { amount currencyCode } fee { amount } net { amount }
        associatedOrder { id name }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


def webhook_id(payout_id: str) -> str:
    return f"reconcile:{TOPIC}:{payout_id}"


def _amount(money: Any) -> str | None:
    return str(money["amount"]) if isinstance(money, dict) and "amount" in money else None


def _summary(node: dict[str, Any]) -> dict[str, str | None]:
    summary = node.get("summary") or {}
    return {name: _amount(value) for name, value in summary.items()}


def _transaction(node: dict[str, Any]) -> dict[str, Any]:
    order = node.get("associatedOrder") or {}
    order_id = legacy_id(order.get("id")) if order else None
    return {
        "id": str(legacy_id(node.get("id")) or node.get("id")),
        "type": str(node.get("type") or "").lower(),
        "test": bool(node.get("test")),
        "amount": _amount(node.get("amount")),
        "fee": _amount(node.get("fee")),
        "net": _amount(node.get("net")),
        "currency": (node.get("amount") or {}).get("currencyCode"),
        "source_order_id": None if order_id is None else str(order_id),
        "source_order_transaction_id": node.get("sourceOrderTransactionId"),
        "order_name": order.get("name") if order else None,
        "processed_at": node.get("transactionDate"),
        "adjustment_reason": node.get("adjustmentReason"),
    }


async def _stored(runtime: Runtime, shop: str, keys: list[str]) -> set[str]:
    rows = await runtime.pool.fetch(
        "SELECT webhook_id FROM ingest.webhook_events WHERE shop = $1 AND webhook_id = ANY($2)",
        shop,
        keys,
    )
    return {row["webhook_id"] for row in rows}


async def _transactions(
    admin: ShopifyAdmin, shop: str, token: str, payout_id: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_TRANSACTION_PAGES):
        variables = {
            "first": PAGE_SIZE,
            "after": cursor,
            "query": f"payments_transfer_id:{payout_id}",
        }
        data = await shopify_call(
            admin,
            shop,
            token,
            "fortbridgePayoutTransactions",
            TRANSACTIONS_QUERY,
            variables,
            2 + PAGE_SIZE,
        )
        connection = ((data.get("shopifyPaymentsAccount") or {}).get("balanceTransactions")) or {}
        out += [_transaction(n) for n in connection.get("nodes") or [] if isinstance(n, dict)]
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return out
        cursor = page.get("endCursor")
    raise ValueError(f"payout {payout_id} has more than {len(out)} balance transactions")


def _payload(node: dict[str, Any], transactions: list[dict[str, Any]]) -> dict[str, Any]:
    net = node.get("net") or {}
    sign = "-" if node.get("transactionType") == "WITHDRAWAL" else ""
    return {
        "id": str(node.get("legacyResourceId") or legacy_id(node.get("id"))),
        "status": str(node.get("status") or "").lower(),
        "issued_at": node.get("issuedAt"),
        "currency": net.get("currencyCode"),
        "net": f"{sign}{net.get('amount')}",
        "summary": _summary(node),
        "balance_transactions": transactions,
    }


async def poll_payouts(
    runtime: Runtime, admin: ShopifyAdmin, shop: str, token: str, since: datetime
) -> int:
    """Store each paid payout issued since ``since`` not stored yet; how many were stored."""
    moment = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = f"status:paid issued_at:>='{moment}'"
    cursor: str | None = None
    stored = 0
    while True:
        variables = {"first": PAGE_SIZE, "after": cursor, "query": query}
        try:
            data = await shopify_call(
                admin, shop, token, "fortbridgePayouts", PAYOUTS_QUERY, variables, 2 + PAGE_SIZE
            )
        except ShopifyRefused as exc:
            if exc.revoked:
                raise
            log.info("payouts not readable for the shop: skipped", shop=shop, reason=exc.message)
            return stored
        account = data.get("shopifyPaymentsAccount")
        if not isinstance(account, dict):
            return stored  # no Shopify Payments account
        connection = account.get("payouts") or {}
        nodes = [n for n in connection.get("nodes") or [] if isinstance(n, dict)]
        ids = {str(n.get("legacyResourceId") or legacy_id(n.get("id"))): n for n in nodes}
        known = await _stored(runtime, shop, [webhook_id(i) for i in ids])
        for payout_id, node in ids.items():
            if webhook_id(payout_id) in known:
                continue
            transactions = await _transactions(admin, shop, token, payout_id)
            _, new = await events.submit(
                runtime.pool,
                runtime.publisher,
                shop,
                TOPIC,
                _payload(node, transactions),
                webhook_id=webhook_id(payout_id),
                api_version=runtime.settings.shopify_api_version,
                source=SOURCE,
            )
            stored += int(new)
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return stored
        cursor = page.get("endCursor")
