"""The one consumer runner: manual acks after the work commits, retries, dead letters, tracing.

A handler is ``async def handle(delivery: Delivery) -> None``. The runner acks when it returns.
When it raises, the message is never lost:

- :class:`~libs.common.errors.PermanentError` / :class:`~libs.common.errors.NeedsReconnection`:
  published to the dead-letter exchange with the reason in ``x-fortbridge-error-*`` headers,
  then acked; the replayer turns it into a failed job.
- anything else: published to the queue's wait queue for the next delay tier with the attempt
  counted in ``x-fortbridge-attempt``, then acked; after ``max_attempts`` it is dead-lettered as
  ``transient_exhausted``.
- a crash before the ack: the broker redelivers; the quorum queue's delivery limit dead-letters a
  message that kills its consumer every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import ValidationError

from libs.common import tracing
from libs.common.errors import ErrorClass, HandlerError, PermanentError
from libs.common.logs import get_logger
from libs.common.messages import Message
from libs.common.messaging.dead_letters import (
    ATTEMPT_HEADER,
    ROUTING_KEY_HEADER,
    dead_letter_headers,
)
from libs.common.messaging.publisher import (
    ORIGIN_AT_HEADER,
    PUBLISHED_AT_HEADER,
    SCHEMA_HEADER,
    SHOP_HEADER,
    Publisher,
    now_ms,
    origin_scope,
)
from libs.common.messaging.topology import Topology, WorkQueue
from libs.common.metrics import (
    MESSAGE_WAIT_SECONDS,
    MESSAGES_FAILED,
    MESSAGES_PROCESSED,
    PROCESSING_SECONDS,
    QUEUE_CONSUMERS,
    QUEUE_MESSAGES,
    SHOP_FAILURES,
)

ORIGINAL_TRACEPARENT_HEADER = "x-fortbridge-original-traceparent"

M = TypeVar("M", bound=Message)
log = get_logger(__name__)
_tracer = tracing.get_tracer(__name__)


@dataclass(frozen=True)
class Delivery:
    """One received message, as handlers see it."""

    body: bytes
    headers: dict[str, Any]
    routing_key: str
    queue: str
    message_id: str | None = None
    redelivered: bool = False
    attempt: int = 0
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def schema(self) -> str | None:
        value = self.headers.get(SCHEMA_HEADER)
        return value.decode() if isinstance(value, bytes) else value

    def parse(self, model: type[M]) -> M:
        """The body as ``model``; a wrong schema or invalid body is a permanent error."""
        if self.schema is not None and self.schema != model.schema_name():
            raise PermanentError(
                f"message schema {self.schema!r} is not {model.schema_name()!r}",
                code="schema_mismatch",
            )
        try:
            return model.model_validate_json(self.body)
        except ValidationError as exc:
            raise PermanentError(
                f"message body does not match {model.schema_name()}: {exc.errors()[:3]}",
                code="invalid_message",
            ) from exc


Handler = Callable[[Delivery], Awaitable[None]]


class Consumer:
    """Consumes one work queue with ``prefetch`` handlers running concurrently."""

    def __init__(
        self,
        *,
        connection: AbstractRobustConnection,
        topology: Topology,
        queue: WorkQueue | str,
        handler: Handler,
        publisher: Publisher,
        service: str,
        prefetch: int = 32,
        max_attempts: int = 6,
        depth_interval: float = 15.0,
    ) -> None:
        self._connection = connection
        self._topology = topology
        self._work_queue = queue if isinstance(queue, WorkQueue) else None
        self.queue_name = topology.queue_name(queue) if isinstance(queue, WorkQueue) else queue
        self._handler = handler
        self._publisher = publisher
        self._service = service
        self._prefetch = prefetch
        self._max_attempts = max_attempts
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._depth_interval = depth_interval
        self._depth_task: asyncio.Task[None] | None = None
        self.stopping = False

    @property
    def running(self) -> bool:
        return self._tag is not None and self._channel is not None and not self._channel.is_closed

    async def start(self, *, attempts: int = 6, pause: float = 0.25) -> None:
        """Start consuming; a broker that fails the consume is asked again a few times.

        Right after a quorum queue is declared, or while the broker is busy deleting queues,
        RabbitMQ 3.10 can fail a ``basic.consume`` with INTERNAL_ERROR (the queue's process not
        up yet: ``noproc``), which closes the connection. The robust connection re-opens it; the
        same consume a moment later succeeds. Anything still failing after ``attempts`` raises.
        """
        for attempt in range(1, attempts + 1):
            try:
                await self._consume()
                break
            except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
                if attempt == attempts:
                    raise
                log.warning(
                    "consume refused by the broker; retrying",
                    queue=self.queue_name,
                    attempt=attempt,
                    error=repr(exc),
                )
                await self._close_channel()
                await asyncio.sleep(pause * 2 ** (attempt - 1))
                await asyncio.wait_for(self._connection.ready(), timeout=30)
        if self._depth_interval > 0:
            self._depth_task = asyncio.create_task(self._sample_depth())

    async def _consume(self) -> None:
        self._channel = await self._connection.channel()
        await self._channel.set_qos(prefetch_count=self._prefetch)
        self._queue = await self._channel.get_queue(self.queue_name, ensure=True)
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def _close_channel(self) -> None:
        channel, self._channel, self._queue, self._tag = self._channel, None, None, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await channel.close()

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop taking messages, let in-flight ones finish (up to ``timeout``), close."""
        self.stopping = True
        if self._depth_task is not None:
            self._depth_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._depth_task
        if self._queue is not None and self._tag is not None:
            try:
                await self._queue.cancel(self._tag)
            except Exception as exc:  # the channel may already be gone
                log.warning("consumer cancel failed", queue=self.queue_name, error=str(exc))
        self._tag = None
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("in-flight messages left at shutdown", count=self._in_flight)
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        started = time.perf_counter()
        try:
            await self._process(message)
        finally:
            PROCESSING_SECONDS.labels(service=self._service, queue=self.queue_name).observe(
                time.perf_counter() - started
            )
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        headers = dict(message.headers or {})
        delivery = Delivery(
            body=message.body,
            headers=headers,
            routing_key=message.routing_key or "",
            queue=self.queue_name,
            message_id=message.message_id,
            redelivered=bool(message.redelivered),
            attempt=_as_int(headers.get(ATTEMPT_HEADER)),
        )
        published_at = _as_int(headers.get(PUBLISHED_AT_HEADER))
        if published_at and delivery.attempt == 0 and not delivery.redelivered:
            MESSAGE_WAIT_SECONDS.labels(queue=self.queue_name).observe(
                max(0.0, (now_ms() - published_at) / 1000)
            )
        links = tracing.links_to(headers.get(ORIGINAL_TRACEPARENT_HEADER))
        with (
            _tracer.start_as_current_span(
                f"process {self.queue_name}",
                context=tracing.extract(headers),
                kind=SpanKind.CONSUMER,
                links=links,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation.name": "process",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": self.queue_name,
                    "messaging.destination.subscription.name": self.queue_name,
                    "messaging.rabbitmq.destination.routing_key": delivery.routing_key,
                    "messaging.rabbitmq.message.delivery_tag": message.delivery_tag or 0,
                    "messaging.message.id": delivery.message_id or "",
                    "messaging.message.body.size": len(message.body),
                    "fortbridge.service": self._service,
                    "fortbridge.attempt": delivery.attempt,
                },
            ) as span,
            # A replay is not a measure of the pipeline's latency: it carries no origin on.
            origin_scope(
                None
                if ORIGINAL_TRACEPARENT_HEADER in headers
                else _as_int(headers.get(ORIGIN_AT_HEADER)) or None
            ),
        ):
            try:
                await self._handler(delivery)
            except HandlerError as exc:
                span.set_status(Status(StatusCode.ERROR, exc.message))
                if exc.error_class is ErrorClass.TRANSIENT_EXHAUSTED:
                    await self._retry_or_dead_letter(message, delivery, exc)
                else:
                    await self._dead_letter(message, delivery, exc, exc.error_class)
                return
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                log.exception("handler crashed", queue=self.queue_name)
                await self._retry_or_dead_letter(message, delivery, exc)
                return
            await self._settle(message, "done")

    async def _retry_or_dead_letter(
        self, message: AbstractIncomingMessage, delivery: Delivery, exc: Exception
    ) -> None:
        attempt = delivery.attempt + 1
        error_class = (
            ErrorClass.TRANSIENT_EXHAUSTED
            if isinstance(exc, HandlerError)
            else ErrorClass.UNEXPECTED
        )
        if self._work_queue is None:
            # A plain queue (the dead-letter queue) has nowhere further to go: keep the message.
            await asyncio.sleep(1.0)
            await self._requeue(message)
            return
        if attempt >= self._max_attempts:
            await self._dead_letter(message, delivery, exc, error_class)
            return
        delay = self._topology.retry_delay(attempt)
        if await self._forward(
            message,
            delivery,
            exchange="",
            routing_key=self._topology.wait_queue_name(self._work_queue, delay),
            headers={**delivery.headers, **_routing_key(delivery), ATTEMPT_HEADER: attempt},
            outcome="retried",
        ):
            log.warning(
                "message will be retried",
                queue=self.queue_name,
                attempt=attempt,
                delay=delay,
                error=str(exc),
            )

    async def _dead_letter(
        self,
        message: AbstractIncomingMessage,
        delivery: Delivery,
        exc: Exception,
        error_class: ErrorClass,
    ) -> None:
        headers = dead_letter_headers(
            delivery.headers,
            exc,
            error_class,
            routing_key=delivery.routing_key,
            failed_queue=self.queue_name,
            service=self._service,
            attempts=delivery.attempt + 1,
        )
        if await self._forward(
            message,
            delivery,
            exchange=self._topology.dead_letter_exchange,
            routing_key=delivery.routing_key,
            headers=headers,
            outcome="failed",
        ):
            MESSAGES_FAILED.labels(
                service=self._service, queue=self.queue_name, error_class=str(error_class)
            ).inc()
            shop = delivery.headers.get(SHOP_HEADER)
            if shop:
                shop = shop.decode() if isinstance(shop, bytes) else str(shop)
                SHOP_FAILURES.labels(service=self._service, shop=shop).inc()
            log.error(
                "message failed",
                queue=self.queue_name,
                error_class=str(error_class),
                error=str(exc),
            )

    async def _forward(
        self,
        message: AbstractIncomingMessage,
        delivery: Delivery,
        *,
        exchange: str,
        routing_key: str,
        headers: dict[str, Any],
        outcome: str,
    ) -> bool:
        """Publish the message onward (wait queue or dead letters), then ack the original.

        If the publish fails the original is requeued instead, so it is never lost.
        """
        try:
            await self._publisher.publish_raw(
                delivery.body,
                routing_key,
                exchange=exchange,
                headers=headers,
                message_type=message.type,
                message_id=delivery.message_id,
                keep_trace_headers=True,
            )
        except Exception:
            log.exception("could not forward message; requeued", outcome=outcome)
            await self._requeue(message)
            return False
        await self._settle(message, outcome)
        return True

    async def _settle(self, message: AbstractIncomingMessage, outcome: str) -> None:
        try:
            await message.ack()
        except Exception as exc:  # channel closed under us: the broker will redeliver
            log.warning("ack failed; message will be redelivered", error=str(exc))
            outcome = "ack_failed"
        MESSAGES_PROCESSED.labels(
            service=self._service, queue=self.queue_name, outcome=outcome
        ).inc()

    async def _requeue(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.nack(requeue=True)
        except Exception as exc:
            log.warning("nack failed; message will be redelivered", error=str(exc))
        MESSAGES_PROCESSED.labels(
            service=self._service, queue=self.queue_name, outcome="requeued"
        ).inc()

    async def _sample_depth(self) -> None:
        """Every ``depth_interval``: ready messages and consumers of the queue and its wait
        queues, by a passive declare on a channel of its own (a failure closes only that one)."""
        names = [self.queue_name]
        if self._work_queue is not None:
            names += [
                self._topology.wait_queue_name(self._work_queue, delay)
                for delay in self._topology.retry_delays
            ]
        channel: AbstractChannel | None = None
        try:
            while True:
                try:
                    if channel is None or channel.is_closed:
                        channel = await self._connection.channel()
                    underlay = await channel.get_underlay_channel()
                    for name in names:
                        declared = await underlay.queue_declare(name, passive=True)
                        QUEUE_MESSAGES.labels(queue=name).set(declared.message_count or 0)
                        QUEUE_CONSUMERS.labels(queue=name).set(declared.consumer_count or 0)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker away or queue gone: try again next time
                    log.debug("queue depth sample failed", queue=self.queue_name, error=str(exc))
                    channel = None
                await asyncio.sleep(self._depth_interval)
        finally:
            if channel is not None and not channel.is_closed:
                with contextlib.suppress(Exception):
                    await channel.close()


def _routing_key(delivery: Delivery) -> dict[str, Any]:
    """Keep the original routing key, which a retry through a wait queue replaces."""
    return {ROUTING_KEY_HEADER: delivery.headers.get(ROUTING_KEY_HEADER) or delivery.routing_key}


def _as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
