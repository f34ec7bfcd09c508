"""The publish frames written without pamqp's generic marshalling are the bytes pamqp writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import aiormq
import pamqp.frame
import pytest
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from libs.common.messaging.frames import content_header, write_publishes

HEADERS: dict[str, Any] = {
    "x-fortbridge-schema": "shopify.event.v1",
    "x-fortbridge-shop": "bench-åäö.myshopify.com",
    "x-fortbridge-origin-at": 1765100000000,
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "x-small": 7,
    "x-flag": True,
}

PROPERTIES = [
    pytest.param(
        {
            "content_type": "application/json",
            "delivery_mode": 2,
            "message_id": "0b0c7c1e-1f7e-4c55-9d0a-7a6f8c1b2d3e",
            "message_type": "shopify.event.v1",
            "timestamp": datetime(2026, 12, 7, 10, 0, 1, 999000, tzinfo=UTC),
            "headers": HEADERS,
        },
        id="what the publisher sets",
    ),
    pytest.param(
        {
            "content_type": "application/json",
            "delivery_mode": 2,
            "message_id": "abc",
            "timestamp": datetime(2026, 12, 7, tzinfo=UTC),
            "headers": {},
        },
        id="no type, empty headers",
    ),
    pytest.param(
        {"content_type": "text/plain", "delivery_mode": 1, "message_type": ""},
        id="few properties",
    ),
    pytest.param(
        {"content_type": "application/json", "priority": 5, "app_id": "x", "headers": HEADERS},
        id="properties left to pamqp",
    ),
]


@pytest.mark.parametrize("values", PROPERTIES)
def test_the_content_header_is_pamqps(values: dict[str, Any]) -> None:
    properties = aiormq.spec.Basic.Properties(**values)
    expected = pamqp.frame.marshal(ContentHeader(properties=properties, body_size=8123), 3)
    assert content_header(3, properties, 8123) == expected


async def test_a_batch_is_the_frames_pamqp_writes() -> None:
    """Two messages, one body longer than a frame: the chunk is what aiormq's ChannelFrame
    makes of pamqp's Basic.Publish, content header and body frames."""
    written: asyncio.Queue[Any] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    channel = SimpleNamespace(
        publisher_confirms=True,
        lock=asyncio.Lock(),
        delivery_tag=0,
        confirmations={},
        message_id_delivery_tag={},
        create_future=loop.create_future,
        number=5,
        max_content_size=1000,
        write_queue=written,
    )
    messages = [
        (
            b"x" * 2500,
            "shopify.orders.create",
            aiormq.spec.Basic.Properties(
                content_type="application/json",
                delivery_mode=2,
                message_id="m1",
                message_type="shopify.event.v1",
                timestamp=datetime(2026, 12, 7, tzinfo=UTC),
                headers=HEADERS,
            ),
        ),
        (b"{}", "q", aiormq.spec.Basic.Properties(delivery_mode=2, message_id="m2")),
    ]
    confirmations = await write_publishes(channel, "bench.events", messages)  # type: ignore[arg-type]
    assert len(confirmations) == 2 and channel.delivery_tag == 2
    expected: list[bytes] = []
    for body, routing_key, properties in messages:
        publish = aiormq.spec.Basic.Publish(
            exchange="bench.events", routing_key=routing_key, mandatory=True
        )
        expected.append(pamqp.frame.marshal(publish, 5))
        expected.append(
            pamqp.frame.marshal(ContentHeader(properties=properties, body_size=len(body)), 5)
        )
        for start in range(0, len(body), 1000):
            expected.append(pamqp.frame.marshal(ContentBody(body[start : start + 1000]), 5))
    chunk = written.get_nowait()
    assert chunk.payload == b"".join(expected)
    assert chunk.payload.count(b"x" * 1000) == 2  # the long body went in three frames
    for confirmation in confirmations:
        confirmation.cancel()
