"""An app_subscriptions webhook the writer failed to apply is applied when its failed job is
replayed: the writer skips a dead-letter copy of the event (``x-death``, the error headers) but
not the replay, whose headers the replayer cleans of that bookkeeping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from libs.common.messages import ShopifyEvent
from libs.common.messaging import Delivery
from libs.common.messaging.dead_letters import ERROR_HEADER_PREFIX, FAILED_QUEUE_HEADER
from libs.common.messaging.publisher import SCHEMA_HEADER
from services.fortnox_writer.subscriptions import subscription_event_of
from services.replayer.replay import REPLAY_HEADER, replay_headers


def event(topic: str = "app_subscriptions/update") -> ShopifyEvent:
    return ShopifyEvent(
        shop="replay.myshopify.com",
        event_uid=str(uuid.uuid4()),
        topic=topic,
        webhook_id=uuid.uuid4().hex,
        received_at=datetime.now(UTC),
        payload={"app_subscription": {"admin_graphql_api_id": "gid://x/1", "status": "ACTIVE"}},
    )


def delivery(message: ShopifyEvent, headers: dict[str, object]) -> Delivery:
    return Delivery(
        body=message.model_dump_json().encode(),
        headers={SCHEMA_HEADER: ShopifyEvent.schema_name(), **headers},
        routing_key="q",
        queue="q",
        message_id=message.event_uid,
    )


def test_a_fresh_subscription_webhook_is_applied_and_other_topics_are_not_its() -> None:
    assert subscription_event_of(delivery(event(), {})) is not None
    assert subscription_event_of(delivery(event("orders/create"), {})) is None


def test_a_dead_letter_copy_is_skipped_and_its_replay_applied() -> None:
    message = event()
    dead = {
        "x-death": [{"queue": "fortnox.commands", "reason": "rejected", "count": 1}],
        f"{ERROR_HEADER_PREFIX}class": "transient_exhausted",
        FAILED_QUEUE_HEADER: "fortnox.commands",
    }
    assert subscription_event_of(delivery(message, dead)) is None
    replayed = {**replay_headers(dead), REPLAY_HEADER: "true"}
    applied = subscription_event_of(delivery(message, replayed))
    assert applied is not None and applied.topic == "app_subscriptions/update"
