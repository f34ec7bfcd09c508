"""What ingest has stored for a page of orders: the newest order state, the topics and refunds.

Every accepted webhook and every event Fortbridge made itself is a row of
``ingest.webhook_events`` with its order id (``order_id``), so this is one query per page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from services.ingest.reconcile.listing import parse_time


@dataclass
class StoredOrder:
    """An order as ingest knows it: the newest ``updated_at`` of its stored order payloads
    (None: no orders/* event with a readable one), the topics of its stored events (webhooks
    and Fortbridge's own: ``orders/paid`` stored once is never missed again) and the refund
    ids received as events."""

    updated_at: datetime | None = None
    refund_ids: set[str] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)


async def stored_orders(
    pool: asyncpg.Pool, shop: str, order_ids: list[str]
) -> dict[str, StoredOrder]:
    """``{order id: StoredOrder}`` for the orders of ``order_ids`` ingest holds any event of."""
    rows = await pool.fetch(
        """
        SELECT order_id, topic, body FROM ingest.webhook_events
        WHERE shop = $1 AND order_id = ANY($2::text[])
          AND (topic LIKE 'orders/%' OR topic = 'refunds/create')
        """,
        shop,
        order_ids,
    )
    found: dict[str, StoredOrder] = {}
    for row in rows:
        known = found.setdefault(row["order_id"], StoredOrder())
        known.topics.add(row["topic"])
        payload = _json(row["body"])
        if row["topic"] == "refunds/create":
            if payload.get("id") is not None:
                known.refund_ids.add(str(payload["id"]))
            continue
        updated = parse_time(payload.get("updated_at"))
        if updated is not None and (known.updated_at is None or updated > known.updated_at):
            known.updated_at = updated
    return found


def _json(body: str) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        return {}
    return payload if isinstance(payload, dict) else {}
