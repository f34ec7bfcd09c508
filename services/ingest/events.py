"""The webhook event store (ingest's table) and its outbox relay.

A delivery is stored once (deduplicated on the webhook id and on the event id per topic), then
published. Publishing right away is the fast path; the relay publishes whatever was stored but
not published (a crash or a broker outage in between), so a stored event is never lost.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from libs.common import tracing
from libs.common.logs import get_logger
from libs.common.messaging import Publisher
from libs.common.messaging.publisher import PublishFailed
from libs.common.metrics import OUTBOX_SET_ASIDE, OUTBOX_UNPUBLISHED
from services.ingest import publishing
from services.ingest.webhook import WebhookDelivery, order_id_of

log = get_logger(__name__)


async def store(
    pool: asyncpg.Pool,
    delivery: WebhookDelivery,
    trace_headers: dict[str, str],
    *,
    batch_id: str | None = None,
    source: str | None = None,
) -> tuple[str, bool]:
    """Store a delivery; returns (event uid, True if new, False if a duplicate).

    ``source`` names what made an event Shopify did not deliver (``admin``, ``reconciliation``);
    it travels with the published message as the ``x-fortbridge-source`` header. Webhooks take
    the group commit instead (services/ingest/intake.py); this is the path of the events
    Fortbridge makes itself.
    """
    event_uid = str(uuid.uuid4())
    async with pool.acquire() as conn:
        inserted = await conn.fetchval(
            """
            INSERT INTO ingest.webhook_events (event_uid, shop, topic, webhook_id, event_id,
                api_version, triggered_at, received_at, body, trace_headers, order_id, batch_id,
                source)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13)
            ON CONFLICT DO NOTHING
            RETURNING event_uid
            """,
            uuid.UUID(event_uid),
            delivery.shop,
            delivery.topic,
            delivery.webhook_id,
            delivery.event_id,
            delivery.api_version,
            delivery.triggered_at,
            datetime.now(UTC),
            delivery.body.decode(),
            json.dumps(trace_headers),
            delivery.order_id,
            uuid.UUID(batch_id) if batch_id else None,
            source,
        )
        if inserted is not None:
            return event_uid, True
        existing = await conn.fetchval(
            """
            UPDATE ingest.webhook_events SET duplicates = duplicates + 1
            WHERE shop = $1 AND (webhook_id = $2 OR (topic = $3 AND event_id = $4))
            RETURNING event_uid
            """,
            delivery.shop,
            delivery.webhook_id,
            delivery.topic,
            delivery.event_id,
        )
        return str(existing), False


async def submit(
    pool: asyncpg.Pool,
    publisher: Publisher,
    shop: str,
    topic: str,
    payload: dict[str, Any],
    *,
    webhook_id: str,
    api_version: str,
    source: str | None,
    batch_id: str | None = None,
) -> tuple[str, bool]:
    """Store and publish an event Fortbridge made itself (not a Shopify delivery), exactly like
    a received webhook: (event uid, True if new). A ``webhook_id`` seen before for the shop
    stores nothing (deterministic ids make a repeated submit a no-op). Used by the order admin
    endpoints, the catalog sync (``batch_id``) and reconciliation."""
    body = json.dumps(payload).encode()
    delivery = WebhookDelivery(
        shop=shop,
        topic=topic,
        webhook_id=webhook_id,
        event_id=None,
        api_version=api_version,
        triggered_at=datetime.now(UTC),
        order_id=order_id_of(topic, payload),
        body=body,
    )
    trace_headers = dict(tracing.inject({}))
    event_uid, new = await store(pool, delivery, trace_headers, batch_id=batch_id, source=source)
    if new:
        try:
            await publish_event(pool, publisher, event_uid)
        except Exception as exc:  # stored: the relay publishes it
            log.warning("publish deferred to relay", event_uid=event_uid, error=str(exc))
    return event_uid, new


async def latest_order_payload(
    pool: asyncpg.Pool, shop: str, order_id: str
) -> dict[str, Any] | None:
    """The newest order payload received for an order (by its updated_at), if any; events the
    relay set aside (no valid message can be made of them) do not count."""
    rows = await pool.fetch(
        """
        SELECT body FROM ingest.webhook_events
        WHERE shop = $1 AND order_id = $2 AND topic LIKE 'orders/%' AND set_aside_at IS NULL
        ORDER BY received_at DESC
        LIMIT 50
        """,
        shop,
        order_id,
    )
    payloads: list[dict[str, Any]] = [json.loads(row["body"]) for row in rows]
    if not payloads:
        return None
    return max(payloads, key=_updated_at)


def _updated_at(payload: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(payload.get("updated_at")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


async def publish_event(pool: asyncpg.Pool, publisher: Publisher, event_uid: str) -> None:
    """Publish one stored event (an event Fortbridge made itself) and mark it published.

    Raises :class:`publishing.Unpublishable` for a row no valid message can be made of (the
    relay then sets it aside) and the publisher's errors when the broker does not confirm.
    """
    row = await pool.fetchrow(
        "SELECT * FROM ingest.webhook_events WHERE event_uid = $1", uuid.UUID(event_uid)
    )
    if row is None or row["published_at"] is not None:
        return
    await publishing.publish(publisher, publishing.checked(publishing.StoredEvent.from_row(row)))
    await pool.execute(
        "UPDATE ingest.webhook_events SET published_at = now() WHERE event_uid = $1",
        row["event_uid"],
    )


_RELAY_ROWS = """
SELECT * FROM ingest.webhook_events
WHERE published_at IS NULL AND set_aside_at IS NULL
  AND received_at < now() - make_interval(secs => $1)
ORDER BY received_at
LIMIT $2
FOR UPDATE SKIP LOCKED
"""
_SET_ASIDE = """
UPDATE ingest.webhook_events AS e SET set_aside_at = now(), set_aside_reason = a.reason
FROM unnest($1::uuid[], $2::text[]) AS a (event_uid, reason)
WHERE e.event_uid = a.event_uid
"""


async def relay_once(
    pool: asyncpg.Pool, publisher: Publisher, *, older_than: float = 5.0, batch: int = 100
) -> int:
    """Publish stored events left unpublished for ``older_than`` seconds; returns how many.

    One row never blocks the others: a row no valid message can be made of (a body nested too
    deep, not strict JSON, unreadable columns) is set aside with the reason (``set_aside_at``,
    ``set_aside_reason``; listed by ``GET /admin/api/webhooks/set_aside.json``, counted by
    ``fortbridge_ingest_outbox_set_aside``, logged once) and never taken again; the rest are
    published, all at once. A publish the broker does not confirm (a closed channel, no confirm
    in time) is the broker's doing, not the row's: the row stays for the next pass, and
    :class:`PublishFailed` is raised after the confirmed ones were marked.
    """
    broker_error: BaseException | None = None
    try:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_RELAY_ROWS, older_than, batch)
            ready: list[publishing.StoredEvent] = []
            set_aside: dict[uuid.UUID, str] = {}
            for row in rows:
                try:
                    ready.append(publishing.checked(publishing.StoredEvent.from_row(row)))
                except publishing.Unpublishable as exc:
                    set_aside[row["event_uid"]] = str(exc)
            outcomes = await publishing.publish_all(
                publisher, [(event, publishing.trace_context_of(event)) for event in ready]
            )
            confirmed: list[uuid.UUID] = []
            for event, outcome in zip(ready, outcomes, strict=True):
                if outcome is None:
                    confirmed.append(uuid.UUID(event.event_uid))
                else:  # the broker's doing (a closed channel, no confirm): the next pass
                    broker_error = outcome
            if confirmed:
                await conn.execute(
                    "UPDATE ingest.webhook_events SET published_at = now()"
                    " WHERE event_uid = ANY($1::uuid[])",
                    confirmed,
                )
            if set_aside:
                await conn.execute(_SET_ASIDE, list(set_aside), list(set_aside.values()))
        by_uid = {row["event_uid"]: row for row in rows}
        for event_uid, reason in set_aside.items():
            row = by_uid[event_uid]
            log.warning(
                "stored event set aside: no valid message can be made of it",
                event_uid=str(event_uid),
                shop=row["shop"],
                topic=row["topic"],
                webhook_id=row["webhook_id"],
                reason=reason,
            )
        if confirmed:
            log.info("relay published stored events", count=len(confirmed))
    finally:
        await _count_outbox(pool)
    if broker_error is not None:
        raise PublishFailed(f"the broker did not take stored events: {broker_error}")
    return len(confirmed)


async def _count_outbox(pool: asyncpg.Pool) -> None:
    """The outbox gauges: events waiting for the relay, and events it set aside."""
    try:
        row = await pool.fetchrow(
            """
            SELECT count(*) FILTER (WHERE set_aside_at IS NULL) AS waiting,
                   count(*) FILTER (WHERE set_aside_at IS NOT NULL) AS set_aside
            FROM ingest.webhook_events WHERE published_at IS NULL
            """
        )
    except Exception as exc:  # the database is away: the gauges keep their last value
        log.warning("counting the outbox failed", error=str(exc))
        return
    OUTBOX_UNPUBLISHED.set(row["waiting"])
    OUTBOX_SET_ASIDE.set(row["set_aside"])


async def relay_forever(
    pool: asyncpg.Pool, publisher: Publisher, *, interval: float = 1.0, older_than: float = 5.0
) -> None:
    """The outbox relay loop; survives broker and database hiccups."""
    while True:
        try:
            published = await relay_once(pool, publisher, older_than=older_than)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("relay pass failed", error=str(exc))
            published = 0
        if not published:
            await asyncio.sleep(interval)
