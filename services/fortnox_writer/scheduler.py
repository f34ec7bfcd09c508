"""The loop over set-aside work: fair scheduling of Fortnox commands across tenants.

The intake (intake.py) runs a command at once or sets it aside in ``deferred_commands``
(admission.py says when). Each replica's scheduler drains the table
round-robin over tenants, one command per tenant per turn, claiming a tenant's oldest command
only when that tenant's slot comes due. A heavy tenant's backlog therefore waits in PostgreSQL
for its own slots, and a light tenant's command never queues behind it.

Outcomes of a deferred command: done (row deleted); transient error (retried with exponential
backoff and jitter, at most ``AMQP_MAX_ATTEMPTS`` times, then a failed job); 429 (retried at the
tenant's next slot, which the client pushed a whole window out); permanent error (a failed job
at once, with Fortnox's code and message and the English explanation); needs reconnection
(parked until the shop reconnects, then resumed by the sweep); the shop switched to another
Fortnox company (held back for the company it was set aside for, until released: switching.py;
the sweep never resumes it into the new company by itself). The executor (executor.py) runs
each command and says which of these it was; failed jobs get the same dead-letter headers as the
consumer runner's (libs/common/messaging/dead_letters.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from opentelemetry.trace import SpanKind

from libs.common import tracing
from libs.common.errors import ErrorClass, HandlerError, TransientError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand
from libs.common.messaging import WRITER_COMMANDS, Publisher, Topology
from libs.common.messaging.dead_letters import dead_letter_headers
from libs.common.metrics import COMMANDS_DEFERRED, FORTNOX_CONNECTIONS_NEEDING_RECONNECTION
from libs.common.settings import Settings
from services.fortnox_writer.admission import TenantGate
from services.fortnox_writer.clock import Clock
from services.fortnox_writer.deferred import (
    BILLING,
    CLAIM_SECONDS,
    HELD_EXPLANATION,
    PARKED,
    RATE_LIMIT,
    RETRY,
    DeferredCommand,
    DeferredStore,
    backoff,
)
from services.fortnox_writer.executor import Executor
from services.fortnox_writer.ratelimit import RateLimiter

log = get_logger(__name__)
_tracer = tracing.get_tracer(__name__)

# Commands a replica runs at once from the table, over all tenants.
MAX_RUNNING = 64
SWEEP_SECONDS = 1.0
FailedHook = Callable[[FortnoxCommand, HandlerError], Awaitable[None]]


class Scheduler:
    def __init__(
        self,
        *,
        settings: Settings,
        service: str,
        topology: Topology,
        publisher: Publisher,
        store: DeferredStore,
        executor: Executor,
        limiter: RateLimiter,
        gate: TenantGate,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._service = service
        self._topology = topology
        self._publisher = publisher
        self.store = store
        self._executor = executor
        self._limiter = limiter
        self._gate = gate
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._running_rows: set[int] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New work was set aside: look at the table now rather than at the next interval."""
        self._wake.set()

    def backoff(self, attempts: int) -> float:
        return backoff(
            attempts,
            self._settings.fortnox_retry_base_seconds,
            self._settings.fortnox_retry_max_seconds,
        )

    async def run_forever(self) -> None:
        """Drain deferred commands until cancelled (one loop per replica)."""
        interval = self._settings.fortnox_scheduler_interval_seconds
        last_sweep = last_extend = -SWEEP_SECONDS
        clock = self._clock
        while True:
            try:
                if clock.monotonic() - last_sweep >= SWEEP_SECONDS:
                    last_sweep = clock.monotonic()
                    await self._sweep()
                if self._running_rows and clock.monotonic() - last_extend >= CLAIM_SECONDS / 3:
                    last_extend = clock.monotonic()
                    await self.store.extend_claims(sorted(self._running_rows))
                await self._turn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler turn failed")
                await clock.sleep(1.0)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def stop(self) -> None:
        """Let running commands finish (their rows stay claimed if we are cancelled)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=30)

    async def _sweep(self) -> None:
        parked, resumed = await self.store.sweep()
        if parked or resumed:
            log.info("deferred commands swept", parked=parked, resumed=resumed)
        FORTNOX_CONNECTIONS_NEEDING_RECONNECTION.set(
            await self.store.connections_needing_reconnection()
        )

    async def _turn(self) -> None:
        """One round-robin turn: at most one new command per tenant whose slot is near."""
        soon = self._settings.fortnox_defer_after_seconds
        heads = await self.store.tenants_waiting()
        for head in heads:
            if len(self._tasks) >= MAX_RUNNING:
                return
            if head.next_slot_in > soon or self._gate.full(head.tenant_id):
                continue
            row = await self.store.claim(head.tenant_id)
            if row is None or not self._gate.try_enter(head.tenant_id):
                if row is not None:
                    await self.store.reschedule(
                        row.id, reason=row.reason, attempts=row.attempts, due_in=0, error=None
                    )
                continue
            task = asyncio.create_task(self._run(row, head.tenant_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, row: DeferredCommand, tenant_id: str) -> None:
        self._running_rows.add(row.id)
        try:
            command = FortnoxCommand.model_validate_json(row.body)
            with _tracer.start_as_current_span(
                "process deferred command",
                context=tracing.extract(row.headers),
                kind=SpanKind.CONSUMER,
                attributes={"fortbridge.deferred_reason": row.reason, "fortnox.tenant": tenant_id},
            ):
                await self._attempt(row, command, tenant_id)
        except Exception:
            log.exception("deferred command crashed", command_id=row.command_id)
            with contextlib.suppress(Exception):
                await self._retry(row, None, TransientError("the writer crashed on this command"))
        finally:
            self._running_rows.discard(row.id)
            self._gate.leave(tenant_id)
            self._wake.set()

    async def _attempt(self, row: DeferredCommand, command: FortnoxCommand, tenant_id: str) -> None:
        outcome = await self._executor.run(command, received_at=row.created_at, tenant_id=tenant_id)
        store, error = self.store, outcome.error
        message = None if error is None else error.message
        if outcome.kind == "done":
            await store.done(row.id)
        elif outcome.kind == "held":  # the executor published the held result
            await store.reschedule(
                row.id,
                reason=PARKED,
                attempts=row.attempts,
                due_in=0,
                error=HELD_EXPLANATION,
                held_from_tenant=tenant_id,
            )
        elif outcome.kind == "park":
            await store.reschedule(
                row.id, reason=PARKED, attempts=row.attempts, due_in=0, error=message
            )
            COMMANDS_DEFERRED.labels(reason=PARKED).inc()
        elif outcome.kind == "billing":  # the executor published why it waits
            await store.reschedule(
                row.id, reason=BILLING, attempts=row.attempts, due_in=0, error=message
            )
            COMMANDS_DEFERRED.labels(reason=BILLING).inc()
        elif outcome.kind == "rate_limited":
            wait = await self._limiter.next_slot_in(row.tenant_id or "")
            await store.reschedule(
                row.id, reason=RATE_LIMIT, attempts=row.attempts, due_in=wait, error=message
            )
        elif outcome.kind == "wait":
            await store.reschedule(
                row.id, reason=RETRY, attempts=row.attempts, due_in=outcome.due_in, error=message
            )
        elif outcome.kind == "retry":
            assert error is not None
            await self._retry(row, command, error)
        else:  # failed: the executor recorded and published it
            assert error is not None
            await self._dead_letter(row, error, error.error_class, attempts=row.attempts + 1)
            await store.done(row.id)

    async def _retry(
        self, row: DeferredCommand, command: FortnoxCommand | None, exc: HandlerError
    ) -> None:
        attempts = row.attempts + 1
        if attempts < self._settings.amqp_max_attempts:
            await self.store.reschedule(
                row.id,
                reason=RETRY,
                attempts=attempts,
                due_in=self.backoff(attempts),
                error=exc.message,
            )
            return
        if command is not None:
            with contextlib.suppress(Exception):
                await self._executor.fail(command, exc)
        error_class = ErrorClass.TRANSIENT_EXHAUSTED if command else ErrorClass.UNEXPECTED
        await self._dead_letter(row, exc, error_class, attempts=attempts)
        await self.store.done(row.id)

    async def _dead_letter(
        self, row: DeferredCommand, exc: HandlerError, error_class: ErrorClass, *, attempts: int
    ) -> None:
        """A failed job, exactly like the consumer runner's (the replayer re-queues it)."""
        headers = dead_letter_headers(
            row.headers,
            exc,
            error_class,
            routing_key=row.routing_key,
            failed_queue=self._topology.queue_name(WRITER_COMMANDS),
            service=self._service,
            attempts=attempts,
        )
        await self._publisher.publish_raw(
            row.body,
            row.routing_key,
            exchange=self._topology.dead_letter_exchange,
            headers=headers,
            message_type=FortnoxCommand.schema_name(),
            message_id=row.message_id,
            keep_trace_headers=True,
        )
        log.error("deferred command failed", command_id=row.command_id, error=exc.message)
