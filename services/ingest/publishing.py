"""A stored webhook event as the message ingest publishes (``shopify.event.v1``).

The message is built from the stored row without parsing the payload again: the envelope's
fields are serialised and the body, exactly as Shopify sent it, is spliced in as ``payload``.
That is the same document pydantic would write (``ShopifyEvent.model_validate_json`` reads it
back to an equal model, tests/services/ingest/test_publishing.py), for a fraction of the cost.
It is only valid for a body ingest accepted: strict JSON, an object, nested at most
``MAX_JSON_DEPTH`` levels. Webhooks are checked on arrival (webhook.parse_body); the relay
checks every row it takes, so a row that cannot make a valid message is set aside
(:class:`Unpublishable`) instead of published or retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from opentelemetry import context as otel_context

from libs.common import tracing
from libs.common.messages import ShopifyEvent
from libs.common.messaging import Publisher
from libs.common.messaging.publisher import (
    ORIGIN_AT_HEADER,
    SCHEMA_HEADER,
    SHOP_HEADER,
    Outgoing,
)
from services.ingest.webhook import WebhookRejected, parse_body, routing_key

# What made a published event that Shopify did not deliver (admin, reconciliation).
SOURCE_HEADER = "x-fortbridge-source"
SCHEMA = ShopifyEvent.schema_name()


class Unpublishable(Exception):
    """A stored event no valid message can be made of (the relay sets it aside)."""


@dataclass(frozen=True)
class StoredEvent:
    """The columns of ``ingest.webhook_events`` a message is made of."""

    event_uid: str
    shop: str
    topic: str
    webhook_id: str
    event_id: str | None
    api_version: str | None
    triggered_at: datetime | None
    received_at: datetime
    body: bytes
    trace_headers: Mapping[str, str]
    batch_id: str | None = None
    source: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredEvent:
        """From a database row; raises :class:`Unpublishable` for columns no message can carry."""
        try:
            trace_headers = json.loads(row["trace_headers"] or "{}")
            if not isinstance(trace_headers, dict):
                raise ValueError("trace_headers is not an object")
            return cls(
                event_uid=str(row["event_uid"]),
                shop=row["shop"],
                topic=row["topic"],
                webhook_id=row["webhook_id"],
                event_id=row["event_id"],
                api_version=row["api_version"],
                triggered_at=row["triggered_at"],
                received_at=row["received_at"],
                body=row["body"].encode(),
                trace_headers={str(k): str(v) for k, v in trace_headers.items()},
                batch_id=str(row["batch_id"]) if row["batch_id"] else None,
                source=row["source"],
            )
        except (ValueError, TypeError, UnicodeError) as exc:
            raise Unpublishable(f"the stored row cannot be read: {exc}") from exc


def envelope(event: StoredEvent) -> bytes:
    """The ``shopify.event.v1`` JSON document, the stored body spliced in as ``payload``."""
    head = orjson.dumps(
        {
            "shop": event.shop,
            "event_uid": event.event_uid,
            "topic": event.topic,
            "webhook_id": event.webhook_id,
            "event_id": event.event_id,
            "api_version": event.api_version,
            "triggered_at": event.triggered_at.isoformat() if event.triggered_at else None,
            "received_at": event.received_at.isoformat(),
            "batch_id": event.batch_id,
        }
    )
    return head[:-1] + b',"payload":' + event.body + b"}"


def checked(event: StoredEvent) -> StoredEvent:
    """``event`` if its body makes a valid message, else :class:`Unpublishable` with why."""
    try:
        parse_body(event.body)
    except WebhookRejected as exc:
        raise Unpublishable(exc.reason) from exc
    if event.received_at.tzinfo is None:
        raise Unpublishable("received_at has no time zone")
    return event


async def publish(publisher: Publisher, event: StoredEvent) -> None:
    """Publish one stored event (persistent, confirmed, mandatory), traced as a PRODUCER span.

    Call it in the context of the span the message should follow (the webhook's SERVER span).
    """
    [outcome] = await publish_all(publisher, [(event, otel_context.get_current())])
    if outcome is not None:
        raise outcome


async def publish_all(
    publisher: Publisher, events: Sequence[tuple[StoredEvent, otel_context.Context]]
) -> list[BaseException | None]:
    """Publish stored events together, each a PRODUCER span in the trace of the context paired
    with it (its webhook's SERVER span, or :func:`trace_context_of` its stored trace headers),
    their confirms awaited together: per event None (confirmed) or why not."""
    return await publisher.publish_batch(
        [_outgoing(event, parent) for event, parent in events],
        exchange=publisher.events_exchange,
    )


def _outgoing(event: StoredEvent, parent: otel_context.Context) -> Outgoing:
    headers: dict[str, Any] = {
        SCHEMA_HEADER: SCHEMA,
        SHOP_HEADER: event.shop,
        # End-to-end latency runs from here: when the webhook arrived.
        ORIGIN_AT_HEADER: int(event.received_at.timestamp() * 1000),
    }
    if event.source:
        headers[SOURCE_HEADER] = event.source
    return Outgoing(
        envelope(event),
        routing_key(event.topic),
        headers=headers,
        message_type=SCHEMA,
        message_id=event.event_uid,
        parent=parent,
    )


def trace_context_of(event: StoredEvent) -> otel_context.Context:
    """The trace context the event's stored trace headers name (the relay publishes a stored
    event inside the trace of the webhook that brought it)."""
    return tracing.extract(event.trace_headers)
