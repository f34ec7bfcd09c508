"""The broker topology: exchanges, work queues, retry wait queues and the dead-letter queue.

Everything is declared idempotently at start by every service (declaring what exists is a no-op).

- ``{ns}.events`` (topic): every message between services. Routing keys:
  ``shopify.<topic>`` (ingest -> mapper), ``fortnox.command.<kind>`` (mapper -> fortnox_writer),
  ``fortnox.result.<status>`` (fortnox_writer -> timeline, and ingest's document state).
- ``{ns}.dlx`` (topic): dead letters, with their original routing key.
- Work queues are durable quorum queues with a delivery limit, dead-lettering at-least-once to
  ``{ns}.dlx`` (overflow reject-publish, as at-least-once dead-lettering requires).
- Each work queue has wait queues, one per retry delay, whose messages expire back into it.
- ``{ns}.replayer.dead_letters`` collects everything dead-lettered, for the replayer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from libs.common.logs import get_logger

log = get_logger(__name__)

RETRY_DELAYS_SECONDS: tuple[float, ...] = (1, 5, 30, 120, 600)


@dataclass(frozen=True)
class WorkQueue:
    """A service's mailbox: the queue, and the routing keys bound to it."""

    service: str
    name: str
    bindings: tuple[str, ...]

    def full_name(self, namespace: str) -> str:
        return f"{namespace}.{self.service}.{self.name}"


# Shopify's redact webhooks reach every service that holds personal data: besides the mapper
# (which gets every Shopify event), the writer, the timeline and the replayer bind these too.
PRIVACY_KEYS: tuple[str, ...] = ("shopify.customers.redact", "shopify.shop.redact")
MAPPER_EVENTS = WorkQueue("mapper", "events", ("shopify.#",))
# Usage billing: the subscription's webhooks reach the writer, which keeps the billing ledger.
BILLING_KEYS: tuple[str, ...] = ("shopify.app_subscriptions.#",)
WRITER_COMMANDS = WorkQueue(
    "fortnox_writer", "commands", ("fortnox.command.#", *PRIVACY_KEYS, *BILLING_KEYS)
)
TIMELINE_RESULTS = WorkQueue("timeline", "results", ("fortnox.result.#", *PRIVACY_KEYS))
# Ingest keeps the document state its order and catalog admin endpoints answer with.
INGEST_RESULTS = WorkQueue("ingest", "results", ("fortnox.result.#",))
WORK_QUEUES: tuple[WorkQueue, ...] = (
    MAPPER_EVENTS,
    WRITER_COMMANDS,
    TIMELINE_RESULTS,
    INGEST_RESULTS,
)


@dataclass
class Topology:
    """Names of everything in one namespace, and the code that declares it."""

    namespace: str = "fortbridge"
    delivery_limit: int = 10
    retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS
    work_queues: tuple[WorkQueue, ...] = WORK_QUEUES
    _exchanges: dict[str, AbstractExchange] = field(default_factory=dict, repr=False)

    @property
    def events_exchange(self) -> str:
        return f"{self.namespace}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dlx"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.replayer.dead_letters"

    def queue_name(self, queue: WorkQueue) -> str:
        return queue.full_name(self.namespace)

    def wait_queue_name(self, queue: WorkQueue, delay: float) -> str:
        return f"{self.queue_name(queue)}.wait.{_delay_label(delay)}"

    def retry_delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based)."""
        return self.retry_delays[min(attempt, len(self.retry_delays)) - 1]

    def work_queue_arguments(self) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }

    async def declare_on(
        self, connection: AbstractConnection, *, attempts: int = 8, pause: float = 0.25
    ) -> None:
        """Declare on a fresh channel, retrying a race between replicas declaring at once.

        When several processes declare the same new quorum queue together, RabbitMQ can answer
        NOT_FOUND ("home node ... is down or inaccessible") while the queue's Raft group starts.
        That closes the channel; a moment later the same declaration succeeds.
        """
        for attempt in range(1, attempts + 1):
            channel = await connection.channel()
            try:
                await self.declare(channel)
                return
            except aiormq.exceptions.ChannelNotFoundEntity as exc:
                if attempt == attempts:
                    raise
                log.warning("topology declaration raced; retrying", attempt=attempt, error=str(exc))
                await asyncio.sleep(pause * 2 ** (attempt - 1))
            finally:
                if not channel.is_closed:
                    await channel.close()

    async def declare(self, channel: AbstractChannel) -> None:
        """Declare every exchange, queue and binding (idempotent)."""
        events = await channel.declare_exchange(
            self.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        dlx = await channel.declare_exchange(
            self.dead_letter_exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._exchanges = {events.name: events, dlx.name: dlx}
        for work_queue in self.work_queues:
            queue = await channel.declare_queue(
                self.queue_name(work_queue), durable=True, arguments=self.work_queue_arguments()
            )
            for key in work_queue.bindings:
                await queue.bind(events, key)
            for delay in self.retry_delays:
                await channel.declare_queue(
                    self.wait_queue_name(work_queue, delay),
                    durable=True,
                    arguments={
                        "x-queue-type": "quorum",
                        "x-message-ttl": int(delay * 1000),
                        "x-dead-letter-exchange": "",
                        "x-dead-letter-routing-key": self.queue_name(work_queue),
                        "x-dead-letter-strategy": "at-least-once",
                        "x-overflow": "reject-publish",
                    },
                )
        # The dead-letter queue has no delivery limit and no dead-letter exchange of its own:
        # a dead letter stays there until the replayer has stored it.
        dead_letters = await channel.declare_queue(
            self.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead_letters.bind(dlx, "#")
        for key in PRIVACY_KEYS:  # the replayer redacts failed jobs too
            await dead_letters.bind(events, key)


def _delay_label(delay: float) -> str:
    return f"{int(delay * 1000)}ms" if delay < 1 else f"{int(delay)}s"
