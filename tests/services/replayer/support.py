"""Dead letters as the consumer runner and the broker make them, and a recording publisher."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from opentelemetry.trace import Link

from libs.common.messaging.dead_letters import FAILED_QUEUE_HEADER, ROUTING_KEY_HEADER
from libs.common.messaging.publisher import SCHEMA_HEADER, SHOP_HEADER
from services.replayer import causes, dead_letters, jobs

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
WRITER_QUEUE = "fortbridge.fortnox_writer.commands"
MAPPER_QUEUE = "fortbridge.mapper.events"


def new_shop() -> str:
    return f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"


def command_body(shop: str, order_id: int, vat_rates: tuple[str, ...] = ("25",)) -> bytes:
    rows = [
        {
            "article_number": f"SKU-{i}",
            "description": "x",
            "quantity": "1",
            "price": "10.00",
            "vat": rate,
        }
        for i, rate in enumerate(vat_rates)
    ]
    return json.dumps(
        {
            "shop": shop,
            "command_id": f"{shop}:order:{order_id}:create",
            "document_key": f"{shop}:order:{order_id}:invoice",
            "source": {"type": "order", "id": str(order_id), "name": f"#{order_id}"},
            "document": {"rows": rows},
        }
    ).encode()


def consumer_headers(
    shop: str,
    *,
    error_class: str = "permanent",
    code: str | None = "2000728",
    message: str = "Fortnox answered 400: Kunde inte hitta moms (code 2000728)",
    source_message: str | None = "Kunde inte hitta moms",
    explanation: str = "A VAT rate on the document is not set up in Fortnox.",
    service: str = "fortnox_writer",
    queue: str = WRITER_QUEUE,
    attempts: int = 1,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Headers of a message the consumer runner dead-lettered on purpose."""
    headers: dict[str, Any] = {
        SHOP_HEADER: shop,
        SCHEMA_HEADER: "fortnox.command.v1",
        "traceparent": TRACEPARENT,
        "x-fortbridge-origin-at": 1767225600000,
        "x-fortbridge-error-class": error_class,
        "x-fortbridge-error-message": message,
        "x-fortbridge-error-explanation": explanation,
        "x-fortbridge-error-service": service,
        "x-fortbridge-error-attempts": attempts,
        "x-fortbridge-error-at": (at or datetime.now(UTC)).isoformat(),
        FAILED_QUEUE_HEADER: queue,
        ROUTING_KEY_HEADER: "fortnox.command.create_document",
    }
    if code is not None:
        headers["x-fortbridge-error-code"] = code
    if source_message is not None:
        headers["x-fortbridge-error-source-message"] = source_message
    return headers


def broker_headers(
    shop: str, reason: str, queue: str = WRITER_QUEUE, count: int = 1
) -> dict[str, Any]:
    """Headers of a message the broker dead-lettered (delivery limit, expiry)."""
    return {
        SHOP_HEADER: shop,
        "traceparent": TRACEPARENT,
        "x-delivery-count": 4,
        "x-death": [
            {
                "queue": queue,
                "reason": reason,
                "count": count,
                "time": datetime.now(UTC).replace(microsecond=0),
                "exchange": "fortbridge.events",
                "routing-keys": ["fortnox.command.create_document"],
            }
        ],
    }


async def record(
    pool: asyncpg.Pool, headers: dict[str, Any], body: bytes, message_id: str | None = None
) -> uuid.UUID | None:
    """What the dead-letter handler does with one dead letter."""
    dead = dead_letters.read(
        headers, fallback_queue="?", routing_key="fortnox.command.create_document"
    )
    return await jobs.record(
        pool,
        message_id=message_id or uuid.uuid4().hex,
        message_type="fortnox.command.v1",
        headers=headers,
        body=body,
        dead=dead,
        cause=causes.classify(dead, body),
        subject=causes.subject_of(headers, body),
    )


@dataclass
class Published:
    body: bytes
    routing_key: str
    exchange: str
    headers: dict[str, Any]
    message_id: str | None
    links: list[Link]
    message_type: str | None = None


@dataclass
class RecordingPublisher:
    """Stands in for the broker publisher; ``delay`` widens race windows."""

    delay: float = 0.0
    published: list[Published] = field(default_factory=list)

    async def publish_raw(
        self,
        body: bytes,
        routing_key: str,
        *,
        exchange: str,
        headers: Mapping[str, Any] | None = None,
        message_type: str | None = None,
        message_id: str | None = None,
        links: list[Link] | None = None,
        keep_trace_headers: bool = False,
    ) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.published.append(
            Published(
                body,
                routing_key,
                exchange,
                dict(headers or {}),
                message_id,
                links or [],
                message_type,
            )
        )
