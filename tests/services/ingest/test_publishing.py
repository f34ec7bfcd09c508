"""The message ingest publishes is the one pydantic would write (services/ingest/publishing.py)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from libs.common.messages import ShopifyEvent
from services.ingest.publishing import StoredEvent, Unpublishable, checked, envelope
from simulators.shopify.payloads import order_payload
from simulators.shopify.webhooks import encode_body


def stored(body: bytes, **overrides: object) -> StoredEvent:
    fields: dict[str, object] = {
        "event_uid": str(uuid.uuid4()),
        "shop": "demo.myshopify.com",
        "topic": "orders/create",
        "webhook_id": "wh-1",
        "event_id": "ev-1",
        "api_version": "2025-07",
        "triggered_at": datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
        "received_at": datetime.now(UTC),
        "body": body,
        "trace_headers": {},
        **overrides,
    }
    return StoredEvent(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("batch_id", [None, str(uuid.uuid4())])
def test_the_spliced_envelope_reads_back_as_the_model_pydantic_would_write(
    batch_id: str | None,
) -> None:
    order = order_payload(name='#1001 Åsa "quoted" \\ back')
    # Header values are the sender's: quotes, backslashes, non-ASCII and control characters.
    odd = 'wh "1" \\ Åsa \x01\x7f\u2028'
    event = stored(
        encode_body(order), batch_id=batch_id, triggered_at=None, webhook_id=odd, event_id=odd
    )
    message = ShopifyEvent.model_validate_json(envelope(event))
    expected = ShopifyEvent(
        shop=event.shop,
        event_uid=event.event_uid,
        topic=event.topic,
        webhook_id=event.webhook_id,
        event_id=event.event_id,
        api_version=event.api_version,
        triggered_at=None,
        received_at=event.received_at,
        payload=order,
        batch_id=batch_id,
    )
    assert message == expected
    assert json.loads(envelope(event))["payload"] == order


@pytest.mark.parametrize(
    "body",
    [b'{"a":' * 100 + b"1" + b"}" * 100, b"{not json", b"[1, 2]", b'{"x": NaN}'],
)
def test_a_body_no_valid_message_can_carry_is_unpublishable(body: bytes) -> None:
    with pytest.raises(Unpublishable):
        checked(stored(body))
    assert checked(stored(b'{"id": 1}')).body == b'{"id": 1}'
