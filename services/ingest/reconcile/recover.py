"""Store what ingest missed of one order, through the normal store-and-publish path.

- An order ingest never received: the whole order read from Shopify (the fetcher that "create
  now" uses) as ``orders/create``.
- An order whose Shopify ``updatedAt`` is newer than every payload ingest stored for it: its
  current state as ``orders/updated``.
- A paid order (financial status paid, partially refunded or refunded: the money was captured)
  without a stored ``orders/paid``: its current state as ``orders/paid`` (the mapper registers
  payments only from orders/paid).
- A cancelled order (``cancelled_at`` set) without a stored ``orders/cancelled``: its current
  state as ``orders/cancelled`` (the mapper credits a cancellation only from it).
- Each refund never received: ``refunds/create``.

Stored in that order (the order first, then its payments, the cancellation, the refunds), so
the mapper sees them as Shopify would have sent them. Each event gets a deterministic webhook
id (:func:`webhook_id`): ingest stores a webhook id once per shop, so a second run, or two
replicas at once, store nothing twice. The events carry the source ``reconciliation`` (the
``x-fortbridge-source`` header); the mapper plans them as it plans Shopify's own, and its
per-order state makes a repeated event change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.common.logs import get_logger
from libs.common.metrics import RECONCILE_RECOVERED
from libs.common.service import Runtime
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest import events
from services.ingest.order_fetch import fetch_order
from services.ingest.reconcile.listing import OrderMark, is_paid, parse_time
from services.ingest.reconcile.stored import StoredOrder

log = get_logger(__name__)
SOURCE = "reconciliation"


def webhook_id(topic: str, object_id: str, version: str | None = None) -> str:
    """``reconcile:orders/create:<order id>``, ``reconcile:orders/updated:<order id>@<updated_at>``,
    ``reconcile:orders/paid:<order id>``, ``reconcile:orders/cancelled:<order id>``,
    ``reconcile:refunds/create:<refund id>``: the same object and state, the same id (an order
    is paid once and cancelled once, whatever its state when it was read)."""
    suffix = f"@{version}" if version else ""
    return f"reconcile:{topic}:{object_id}{suffix}"


@dataclass(frozen=True)
class Recovery:
    """What was stored for one order (``topics`` of the new events; empty: nothing new)."""

    topics: tuple[str, ...] = ()

    @property
    def recovered(self) -> bool:
        return bool(self.topics)


def behind(mark: OrderMark, known: StoredOrder | None) -> bool:
    """Has Shopify something of this order that ingest never stored: the order, a newer state
    of it, its payment, its cancellation, or a refund?"""
    if known is None or known.updated_at is None:
        return True
    return (
        mark.updated_at > known.updated_at
        or not mark.refund_ids <= known.refund_ids
        or (mark.paid and "orders/paid" not in known.topics)
        or (mark.cancelled and "orders/cancelled" not in known.topics)
    )


async def recover_order(
    runtime: Runtime,
    admin: ShopifyAdmin,
    shop: str,
    token: str,
    mark: OrderMark,
    known: StoredOrder | None,
    *,
    source: str = SOURCE,
    batch_id: str | None = None,
) -> Recovery:
    """Read the order from Shopify and store the events ingest lacks (Shopify's failures raise
    the fetcher's exceptions; nothing of this order is stored then). A backfill passes its
    ``source`` (``backfill``) and its id as ``batch_id``; the webhook ids are the same as
    reconciliation's, so the two never store an event twice."""
    order = await fetch_order(admin, shop, token, mark.order_id)
    if order is None:  # gone since the listing, or not readable by the app
        log.info("reconcile: order no longer readable", shop=shop, order_id=mark.order_id)
        return Recovery()
    order_id = mark.order_id
    seen = known.topics if known is not None else set()
    stored: list[str] = []
    if known is None or known.updated_at is None:
        if await _store(
            runtime,
            shop,
            "orders/create",
            order,
            webhook_id("orders/create", order_id),
            source,
            batch_id,
        ):
            stored.append("orders/create")
    else:
        updated_at = parse_time(order.get("updated_at"))
        if updated_at is not None and updated_at > known.updated_at:
            key = webhook_id("orders/updated", order_id, updated_at.isoformat())
            if await _store(runtime, shop, "orders/updated", order, key, source, batch_id):
                stored.append("orders/updated")
    # Read from the order as fetched (the listing may be older than the read).
    for topic, due in (
        ("orders/paid", is_paid(order.get("financial_status"))),
        ("orders/cancelled", bool(order.get("cancelled_at"))),
    ):
        key = webhook_id(topic, order_id)
        if (
            due
            and topic not in seen
            and await _store(runtime, shop, topic, order, key, source, batch_id)
        ):
            stored.append(topic)
    refunds_received = known.refund_ids if known is not None else set()
    for refund in order.get("refunds") or []:
        refund_id = refund.get("id")
        if refund_id is None or str(refund_id) in refunds_received:
            continue
        key = webhook_id("refunds/create", str(refund_id))
        if await _store(runtime, shop, "refunds/create", refund, key, source, batch_id):
            stored.append("refunds/create")
    if stored:
        log.info(
            "reconcile: stored missed events",
            shop=shop,
            order_id=order_id,
            topics=stored,
            shopify_updated_at=mark.updated_at.isoformat(),
        )
    return Recovery(tuple(stored))


async def _store(
    runtime: Runtime,
    shop: str,
    topic: str,
    payload: dict[str, Any],
    key: str,
    source: str,
    batch_id: str | None,
) -> bool:
    _, new = await events.submit(
        runtime.pool,
        runtime.publisher,
        shop,
        topic,
        payload,
        webhook_id=key,
        api_version=runtime.settings.shopify_api_version,
        source=source,
        batch_id=batch_id,
    )
    if new:
        RECONCILE_RECOVERED.labels(topic=topic).inc()
    return new
