"""The one publisher: persistent messages, publisher confirms, mandatory routing, traced."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import aiormq
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from libs.common import tracing
from libs.common.messages import Message
from libs.common.messaging.frames import write_publishes
from libs.common.metrics import MESSAGES_PUBLISHED, child

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
    ``publish_batch`` writes several messages at once and answers per message; every publish
    goes through it (libs/common/messaging/frames.py).
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
        outgoing = Outgoing(
            body,
            routing_key,
            headers=headers or {},
            message_type=message_type,
            message_id=message_id,
            parent=otel_context.get_current(),
            links=links,
            keep_trace_headers=keep_trace_headers,
        )
        [outcome] = await self.publish_batch([outgoing], exchange=exchange)
        if outcome is not None:
            raise outcome

    async def publish_batch(
        self, messages: Sequence[Outgoing], *, exchange: str
    ) -> list[BaseException | None]:
        """Publish several messages at once (one write), their confirms awaited together.

        Each message is still its own PRODUCER span, a child of its ``parent`` context (a
        webhook's SERVER span), and carries that span's ``traceparent``: every message continues
        its own trace. Returns per message None (confirmed) or why not (:class:`PublishFailed`
        for no confirm in time or a lost connection, aiormq's ``PublishError`` for an unroutable
        return); ``fortbridge_messages_published_total`` is counted once per batch. A cancelled
        batch raises.
        """
        if not messages:
            return []
        channel = await self._underlay()
        ids = [message.message_id or uuid.uuid4().hex for message in messages]
        spans = [
            self._span(exchange, message, id_) for message, id_ in zip(messages, ids, strict=True)
        ]
        try:
            outcomes = await self._publish_traced(channel, exchange, messages, ids, spans)
        except BaseException as exc:
            for span in spans:
                _failed(span, exc)
                span.end()
            raise
        for span, outcome in zip(spans, outcomes, strict=True):
            if outcome is not None:
                _failed(span, outcome)
            span.end()
        confirmed = outcomes.count(None)
        if confirmed:
            child(MESSAGES_PUBLISHED, exchange or "default").inc(confirmed)
        return outcomes

    async def _underlay(self) -> aiormq.Channel:
        # aiormq's channel directly (aio-pika's Exchange.publish adds a Message object per
        # message and waits until its frames are written, holding the channel's lock).
        return cast(aiormq.Channel, await self.channel.get_underlay_channel())

    def _span(self, exchange: str, message: Outgoing, message_id: str) -> Span:
        """The message's PRODUCER span, under ``message.parent``."""
        # Span name "{operation} {destination}", destination "{exchange}:{routing key}";
        # messaging.destination.name is the exchange ("" for the default exchange).
        return _tracer.start_span(
            f"publish {exchange or 'amq.default'}:{message.routing_key}",
            context=message.parent,
            kind=SpanKind.PRODUCER,
            links=message.links,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.name": "publish",
                "messaging.operation.type": "send",
                "messaging.destination.name": exchange,
                "messaging.rabbitmq.destination.routing_key": message.routing_key,
                "messaging.message.body.size": len(message.body),
                "messaging.message.id": message_id,
                **self._server,
            },
        )

    async def _publish_traced(
        self,
        channel: aiormq.Channel,
        exchange: str,
        messages: Sequence[Outgoing],
        ids: list[str],
        spans: list[Span],
    ) -> list[BaseException | None]:
        prepared = []
        for message, msg_id, span in zip(messages, ids, spans, strict=True):
            all_headers: dict[str, Any] = dict(message.headers)
            if not message.keep_trace_headers or "traceparent" not in all_headers:
                propagate.inject(
                    all_headers, context=trace.set_span_in_context(span, message.parent)
                )
            origin = _origin_at.get()
            if origin is not None and ORIGIN_AT_HEADER not in all_headers:
                all_headers[ORIGIN_AT_HEADER] = origin
            all_headers[PUBLISHED_AT_HEADER] = now_ms()
            properties = aiormq.spec.Basic.Properties(
                content_type="application/json",
                delivery_mode=PERSISTENT,
                message_id=msg_id,
                message_type=message.message_type,
                timestamp=datetime.now(UTC),
                headers=all_headers,
            )
            prepared.append((message.body, message.routing_key, properties))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            # Bounded like basic_publish's timeout: a stalled writer (a full write queue) or
            # another batch stuck holding the channel's lock fails this batch, never hangs it.
            async with asyncio.timeout_at(deadline):
                confirmations = await write_publishes(channel, exchange, prepared)
        except TimeoutError:
            failed = PublishFailed(f"no broker confirm within {self._timeout} s (not written)")
            return [failed] * len(spans)
        except asyncio.CancelledError:
            _raise_if_cancelled()
            return [PublishFailed("the broker connection closed before the publish")] * len(spans)
        except Exception as exc:  # the channel or connection is gone: the caller tries again
            return [exc] * len(spans)
        try:
            _, pending = await asyncio.wait(confirmations, timeout=max(0, deadline - loop.time()))
        except asyncio.CancelledError:
            for confirmation in confirmations:
                confirmation.cancel()
            raise
        outcomes: list[BaseException | None] = []
        for confirmation in confirmations:
            if confirmation in pending:
                confirmation.cancel()  # a late ack is ignored (aiormq logs it at DEBUG)
                outcomes.append(PublishFailed(f"no broker confirm within {self._timeout} s"))
            elif confirmation.cancelled():
                # A connection that dies cancels the pending confirms: a failed publish.
                outcomes.append(PublishFailed("the broker connection closed before the confirm"))
            else:
                outcomes.append(confirmation.exception())
        return outcomes


def _raise_if_cancelled() -> None:
    """Re-raise a CancelledError meant for this task (not one from a dying connection)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _failed(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


@dataclass(frozen=True)
class Outgoing:
    """One message for :meth:`Publisher.publish_batch`: its body, routing key, headers and
    properties, and the trace context its PRODUCER span continues (``parent``)."""

    body: bytes
    routing_key: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    message_type: str | None = None
    message_id: str | None = None
    parent: otel_context.Context | None = None
    links: list[Link] | None = None
    keep_trace_headers: bool = False


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
