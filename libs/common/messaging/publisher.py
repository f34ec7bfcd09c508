"""The one publisher: persistent messages, publisher confirms, mandatory routing, traced."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast

import aiormq
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind

from libs.common import tracing
from libs.common.messages import Message
from libs.common.metrics import MESSAGES_PUBLISHED

SCHEMA_HEADER = "x-fortbridge-schema"
SHOP_HEADER = "x-fortbridge-shop"
# When the webhook that started this chain was received (epoch ms): ingest sets it, every later
# publish made while handling a message carries it on (end-to-end latency).
ORIGIN_AT_HEADER = "x-fortbridge-origin-at"
# When this copy was published (epoch ms): the consumer measures the time it waited in the queue.
PUBLISHED_AT_HEADER = "x-fortbridge-published-at"

PERSISTENT = 2  # AMQP delivery mode: written to disk (quorum queues keep every message anyway)
_tracer = tracing.get_tracer(__name__)
_origin_at: ContextVar[int | None] = ContextVar("fortbridge_origin_at", default=None)


def now_ms() -> int:
    return int(time.time() * 1000)


def current_origin_at() -> int | None:
    """When the webhook behind the message being handled arrived (epoch ms), if known."""
    return _origin_at.get()


@contextmanager
def origin_scope(origin_at: int | None) -> Iterator[None]:
    """Within the block, publishes carry ``origin_at`` (the consumer wraps each handler)."""
    token = _origin_at.set(origin_at)
    try:
        yield
    finally:
        _origin_at.reset(token)


class PublishFailed(ConnectionError):
    """The broker did not confirm a message: it may or may not have it (publish it again)."""


class Publisher:
    """Publishes on its own confirm-mode channel; an unroutable message raises.

    ``publish`` returns once the broker confirmed the message (written to a quorum of the
    queue's replicas). Concurrent calls pipeline on the one channel. Without a confirm within
    ``timeout`` seconds (a partition, a blocked broker), or when the connection dies before it
    comes, ``PublishFailed`` is raised: the caller still has the message and can try again.
    """

    def __init__(
        self, connection: AbstractRobustConnection, events_exchange: str, *, timeout: float = 10.0
    ) -> None:
        self._connection = connection
        self._events_exchange = events_exchange
        self._timeout = timeout
        self._channel: AbstractChannel | None = None
        self._server = _server_attributes(connection)

    async def start(self) -> None:
        self._channel = await self._connection.channel(
            publisher_confirms=True, on_return_raises=True
        )

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    @property
    def events_exchange(self) -> str:
        """The name of the events exchange :meth:`publish` sends to."""
        return self._events_exchange

    @property
    def channel(self) -> AbstractChannel:
        if self._channel is None:
            raise RuntimeError("Publisher.start() was not called")
        return self._channel

    async def publish(
        self,
        message: Message,
        routing_key: str,
        *,
        headers: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> None:
        """Publish a schema message to the events exchange."""
        await self.publish_raw(
            message.model_dump_json().encode(),
            routing_key,
            exchange=self._events_exchange,
            message_type=message.schema_name(),
            headers={
                SCHEMA_HEADER: message.schema_name(),
                SHOP_HEADER: message.shop,
                **(headers or {}),
            },
            message_id=message_id,
        )

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
        """Publish bytes as they are (retries, dead letters and replays use this).

        ``exchange`` "" is the default exchange, where the routing key names a queue. With
        ``keep_trace_headers`` the message keeps the trace context it carries (a replay keeps
        its original trace); otherwise the current span's context is injected.
        """
        # Span name "{operation} {destination}", destination "{exchange}:{routing key}";
        # messaging.destination.name is the exchange ("" for the default exchange).
        with _tracer.start_as_current_span(
            f"publish {exchange or 'amq.default'}:{routing_key}",
            kind=SpanKind.PRODUCER,
            links=links,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.name": "publish",
                "messaging.operation.type": "send",
                "messaging.destination.name": exchange,
                "messaging.rabbitmq.destination.routing_key": routing_key,
                "messaging.message.body.size": len(body),
                **self._server,
            },
        ):
            all_headers: dict[str, Any] = dict(headers or {})
            if not keep_trace_headers or "traceparent" not in all_headers:
                tracing.inject(all_headers)
            origin = _origin_at.get()
            if origin is not None and ORIGIN_AT_HEADER not in all_headers:
                all_headers[ORIGIN_AT_HEADER] = origin
            all_headers[PUBLISHED_AT_HEADER] = now_ms()
            msg_id = message_id or uuid.uuid4().hex
            trace.get_current_span().set_attribute("messaging.message.id", msg_id)
            properties = aiormq.spec.Basic.Properties(
                content_type="application/json",
                delivery_mode=PERSISTENT,
                message_id=msg_id,
                message_type=message_type,
                timestamp=datetime.now(UTC),
                headers=all_headers,
            )
            try:
                # aiormq's channel directly (aio-pika's Exchange.publish adds a Message object
                # and waits until the frames are written, holding the channel's lock): the
                # frames are queued in order and the confirm is awaited, so concurrent
                # publishes pipeline on the one channel.
                channel = cast(aiormq.Channel, await self.channel.get_underlay_channel())
                await channel.basic_publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key,
                    properties=properties,
                    mandatory=True,
                    timeout=self._timeout,
                    wait=False,
                )
            except TimeoutError:
                raise PublishFailed(f"no broker confirm within {self._timeout} s") from None
            except asyncio.CancelledError:
                # A connection that dies cancels the pending confirm, which surfaces here as a
                # CancelledError although nobody cancelled this task: that is a failed publish,
                # and letting it through would silently end the loop that called us.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                raise PublishFailed("the broker connection closed before the confirm") from None
            MESSAGES_PUBLISHED.labels(exchange=exchange or "default").inc()


def _server_attributes(connection: AbstractRobustConnection) -> dict[str, Any]:
    """server.address / server.port of the broker (semantic conventions)."""
    url = getattr(connection, "url", None)
    host = getattr(url, "host", None)
    port = getattr(url, "port", None)
    attributes: dict[str, Any] = {}
    if host:
        attributes["server.address"] = str(host)
    if isinstance(port, int):
        attributes["server.port"] = port
    return attributes
