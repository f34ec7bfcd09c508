"""Group commit of verified webhooks, and their publishes confirmed together.

A webhook is answered 200 only once its row is committed; what a webhook costs is mostly that
commit and the publish after it. One :class:`Intake` per ingest process takes every verified
delivery and writes those that arrive together in one statement:

- Deliveries queue; a writer takes everything queued (at most ``max_batch``) as one batch. Up to
  ``writers`` batches are written at once; when all writers are busy, new deliveries wait for
  the next free one and make its batch bigger. A writer that finds a lone webhook queued waits
  ``write_wait`` (2 ms) for more, so webhooks arriving one by one at a steady rate (1,000 a
  second: one a millisecond) are written two or three to a statement instead of one: 2 ms more
  for a lone webhook, less CPU per webhook for ingest and much less for PostgreSQL at that rate
  (bench/README.md). Two or more queued are written at once. A batch is sorted by shop and
  webhook id, so two batches holding the same two redeliveries lock them in the same order.
  (Each stage below is such a queue with its few workers: services/ingest/_groups.py.)
- One ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING event_uid`` per batch,
  committed on its own. Each delivery learns from ``RETURNING`` whether it is new; one that is
  not (its webhook id, or its topic and event id, are stored already, possibly by another
  delivery in the same batch) is a duplicate and learns the stored event's uid.
- When the statement fails for a reason other than a lost connection, each delivery of the
  batch is written alone, so one bad row cannot fail the others.
- New events are published the same way: they queue, and a publisher takes everything queued
  (at most ``max_batch``) and publishes it together (``Publisher.publish_batch``: each still
  its own PRODUCER span, a child of its webhook's SERVER span, whose traceparent the message
  carries), awaiting the confirms together. Up to ``publishers`` publish at once, so when
  webhooks arrive one by one (each its own batch of one) the publishes still go out in groups.
- Confirmed events are marked published the same way again: one marker at a time runs one
  UPDATE for every event confirmed since its last one, waiting ``mark_wait`` (0.1 s) before each
  so that webhooks arriving one by one (1,000 a second, each its own batch) are marked by ten
  UPDATEs a second, not a thousand. Marking is bookkeeping for the relay only (which takes
  events ``OUTBOX_RELAY_AGE_SECONDS``, 5 s, old), so it takes no more than one pooled connection
  away from the writers and can wait.
  The webhook is answered once its row is committed (routes.py): the commit is what makes a
  200 safe, since the outbox relay publishes whatever a crash leaves unpublished. An event
  published but not yet marked is published again by the relay at worst, which consumers
  dedupe (the mapper's inbox).
- At most ``max_in_flight`` events are waiting to be published or confirmed at once; beyond
  that new deliveries wait before they are written (the broker's pace holds back the HTTP
  answers, and memory stays bounded). 500 keeps a confirm's wait well under
  ``AMQP_PUBLISH_TIMEOUT_SECONDS`` even when the broker confirms only a few hundred messages a
  second.

Every accepted webhook is counted (``fortbridge_webhooks_received_total``), and each batch
writes one log line naming its webhook ids and event uids (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
import orjson
from opentelemetry import context as otel_context

from libs.common import tracing
from libs.common.logs import get_logger
from libs.common.messaging import Publisher
from libs.common.metrics import INGEST_BATCH_SIZE, INGEST_PUBLISH_DEFERRED
from services.ingest import publishing
from services.ingest._groups import Groups
from services.ingest.webhook import WebhookDelivery

log = get_logger(__name__)

_INSERT = """
INSERT INTO ingest.webhook_events (event_uid, shop, topic, webhook_id, event_id, api_version,
    triggered_at, received_at, body, trace_headers, order_id)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::timestamptz[], $8::timestamptz[], $9::text[], $10::jsonb[], $11::text[])
ON CONFLICT DO NOTHING
RETURNING event_uid
"""
_DUPLICATE = """
UPDATE ingest.webhook_events SET duplicates = duplicates + 1
WHERE shop = $1 AND (webhook_id = $2 OR (topic = $3 AND event_id = $4))
RETURNING event_uid
"""
_MARK_PUBLISHED = """
UPDATE ingest.webhook_events SET published_at = now()
WHERE event_uid = ANY($1::uuid[]) AND published_at IS NULL
"""
# A lost connection fails the whole batch at once; anything else may be one row's fault.
_CONNECTION_ERRORS = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError)


@dataclass(frozen=True)
class Stored:
    """What happened to one delivery: its event uid, whether it is new, and for a new event
    a future that tells whether its publish was confirmed within the intake's
    ``publish_wait`` (False: not yet or not at all; the relay publishes what never was)."""

    event_uid: str
    new: bool
    published: asyncio.Future[bool] | None = None


@dataclass
class _Entry:
    delivery: WebhookDelivery
    event: publishing.StoredEvent
    uid: uuid.UUID  # event.event_uid, parsed once for the INSERT and the marker
    trace: otel_context.Context  # the webhook's SERVER span: its PRODUCER span's parent
    stored: asyncio.Future[Stored]
    published: asyncio.Future[bool] | None = field(default=None)
    expiry: _Expiry | None = field(default=None)


@dataclass
class _Expiry:
    """The publish_wait timer of one written batch's new events, cancelled once all of them
    are settled (a publisher may take them in several groups)."""

    timer: asyncio.TimerHandle
    unsettled: int

    def settle(self) -> None:
        self.unsettled -= 1
        if self.unsettled == 0:
            self.timer.cancel()


class Intake:
    """The group commit of one ingest process (see the module's docstring)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        *,
        max_batch: int = 256,
        writers: int = 3,
        publishers: int = 2,
        max_in_flight: int = 500,
        publish_wait: float = 2.0,
        write_wait: float = 0.002,
        mark_wait: float = 0.1,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._publish_wait = publish_wait
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._room = asyncio.Event()
        self._room.set()
        self._writes = Groups(
            self._write_batch, workers=writers, most=max_batch, linger=write_wait, linger_under=2
        )
        self._publishes = Groups(self._publish_batch, workers=publishers, most=max_batch)
        self._marks = Groups(self._mark_published, workers=1, linger=mark_wait)

    @property
    def pool(self) -> asyncpg.Pool:
        """The connections the intake writes with."""
        return self._pool

    async def store(self, delivery: WebhookDelivery) -> Stored:
        """Queue a verified delivery; returns once its row is committed (or was a duplicate)."""
        while self._in_flight >= self._max_in_flight:
            await self._room.wait()
        loop = asyncio.get_running_loop()
        trace_headers: dict[str, str] = {}
        tracing.inject(trace_headers)
        uid = uuid.uuid4()
        event = publishing.StoredEvent(
            event_uid=str(uid),
            shop=delivery.shop,
            topic=delivery.topic,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            api_version=delivery.api_version,
            triggered_at=delivery.triggered_at,
            received_at=datetime.now(UTC),
            body=delivery.body,
            trace_headers=trace_headers,
        )
        entry = _Entry(delivery, event, uid, otel_context.get_current(), loop.create_future())
        self._writes.put([entry])
        # A request that goes away cancels only its own future, never the batch.
        return await entry.stored

    async def close(self) -> None:
        """Wait for the batches and publishes under way (shutdown)."""
        stages = (self._writes, self._publishes, self._marks)
        while any(stage.busy for stage in stages):
            await asyncio.gather(*(stage.join() for stage in stages))

    async def _write_batch(self, batch: list[_Entry]) -> None:
        batch.sort(key=lambda entry: (entry.event.shop, entry.event.webhook_id))
        await self._write(batch)

    async def _write(self, batch: list[_Entry]) -> None:
        try:
            inserted = await self._insert(batch)
        except Exception as exc:
            if len(batch) > 1 and not isinstance(exc, _CONNECTION_ERRORS):
                log.warning("batch insert failed, writing each alone", error=str(exc))
                for entry in batch:
                    await self._write([entry])
                return
            for entry in batch:
                _fail(entry.stored, exc)
            return
        fresh = [entry for entry in batch if entry.uid in inserted]
        duplicates = [entry for entry in batch if entry.uid not in inserted]
        INGEST_BATCH_SIZE.observe(len(batch))
        loop = asyncio.get_running_loop()
        if fresh:
            # Answers wait for their confirm at most publish_wait (Shopify waits 5 s in all).
            expiry = _Expiry(loop.call_later(self._publish_wait, _expire, fresh), len(fresh))
            for entry in fresh:
                entry.published = loop.create_future()
                entry.expiry = expiry
                _resolve(entry.stored, Stored(entry.event.event_uid, True, entry.published))
            self._in_flight += len(fresh)
            if self._in_flight >= self._max_in_flight:
                self._room.clear()
            self._publishes.put(fresh)
        for entry in duplicates:
            try:
                existing = await self._pool.fetchval(
                    _DUPLICATE,
                    entry.delivery.shop,
                    entry.delivery.webhook_id,
                    entry.delivery.topic,
                    entry.delivery.event_id,
                )
            except Exception as exc:
                _fail(entry.stored, exc)
                continue
            if existing is None:  # the stored event was deleted meanwhile (shop/redact)
                _fail(entry.stored, RuntimeError("the duplicate's stored event disappeared"))
            else:
                _resolve(entry.stored, Stored(str(existing), False))
        log.info(
            "webhooks stored",
            count=len(fresh),
            duplicates=len(duplicates),
            webhook_ids=" ".join(entry.delivery.webhook_id for entry in fresh),
            event_uids=" ".join(entry.event.event_uid for entry in fresh),
        )

    async def _insert(self, batch: Sequence[_Entry]) -> set[uuid.UUID]:
        events = [entry.event for entry in batch]
        rows = await self._pool.fetch(
            _INSERT,
            [entry.uid for entry in batch],
            [e.shop for e in events],
            [e.topic for e in events],
            [e.webhook_id for e in events],
            [e.event_id for e in events],
            [e.api_version for e in events],
            [e.triggered_at for e in events],
            [e.received_at for e in events],
            [e.body.decode() for e in events],
            [orjson.dumps(e.trace_headers).decode() for e in events],
            [entry.delivery.order_id for entry in batch],
        )
        return {row["event_uid"] for row in rows}  # asyncpg's UUIDs equal and hash as uuid.UUID

    async def _publish_batch(self, entries: list[_Entry]) -> None:
        """Publish events together, each in its webhook's context; queue the confirmed ones
        to be marked published."""
        try:
            outcomes: Sequence[BaseException | None] = await publishing.publish_all(
                self._publisher, [(entry.event, entry.trace) for entry in entries]
            )
        except Exception as exc:  # publish_all reports per message; this is a safety net
            outcomes = [exc] * len(entries)
        finally:
            self._in_flight -= len(entries)
            if self._in_flight < self._max_in_flight:
                self._room.set()
        confirmed: list[uuid.UUID] = []
        for entry, outcome in zip(entries, outcomes, strict=True):
            ok = outcome is None
            if ok:
                confirmed.append(entry.uid)
            else:
                INGEST_PUBLISH_DEFERRED.inc()
                log.warning(
                    "publish deferred to relay", event_uid=entry.event.event_uid, error=str(outcome)
                )
            if entry.expiry is not None:
                entry.expiry.settle()
            if entry.published is not None and not entry.published.done():
                entry.published.set_result(ok)
        self._marks.put(confirmed)

    async def _mark_published(self, uids: list[uuid.UUID]) -> None:
        try:
            await self._pool.execute(_MARK_PUBLISHED, uids)
        except Exception as exc:  # published, not marked: the relay publishes them again
            log.warning("marking events published failed", count=len(uids), error=str(exc))


def _expire(entries: list[_Entry]) -> None:
    for entry in entries:
        if entry.published is not None and not entry.published.done():
            entry.published.set_result(False)


def _resolve(future: asyncio.Future[Stored], value: Stored) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Stored], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
