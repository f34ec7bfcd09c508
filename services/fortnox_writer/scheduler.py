"""Fair scheduling of Fortnox commands across tenants, without holding broker messages.

A command from the queue runs at once only if its shop is connected, its tenant has no backlog,
the tenant's next rate-limit slot is near (``FORTNOX_DEFER_AFTER_SECONDS``) and this replica runs
fewer than ``PER_TENANT`` commands of that tenant. Otherwise it is stored in
``deferred_commands`` and acked (deferred.py). Each replica's scheduler then drains the table
round-robin over tenants, one command per tenant per turn, claiming a tenant's oldest command
only when that tenant's slot comes due. A heavy tenant's backlog therefore waits in PostgreSQL
for its own slots, and a light tenant's command never queues behind it.

Outcomes of a deferred command: done (row deleted); transient error (retried with exponential
backoff and jitter, at most ``AMQP_MAX_ATTEMPTS`` times, then a failed job); 429 (retried at the
tenant's next slot, which the client pushed a whole window out); permanent error (a failed job
at once, with Fortnox's code and message and the English explanation); needs reconnection
(parked until the shop reconnects, then resumed by the sweep).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanKind

from libs.common import tracing
from libs.common.errors import ErrorClass, HandlerError, NeedsReconnection, TransientError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand
from libs.common.messaging import WRITER_COMMANDS, Delivery
from libs.common.messaging.consumer import ATTEMPT_HEADER, ERROR_HEADER_PREFIX, FAILED_QUEUE_HEADER
from libs.common.messaging.publisher import PUBLISHED_AT_HEADER
from libs.common.metrics import COMMANDS_DEFERRED, FORTNOX_CONNECTIONS_NEEDING_RECONNECTION
from services.fortnox_writer.deferred import (
    CLAIM_SECONDS,
    HELD_EXPLANATION,
    PARKED,
    RATE_LIMIT,
    RETRY,
    Admission,
    DeferredCommand,
    DeferredStore,
    backoff,
)
from services.fortnox_writer.ratelimit import RateLimiter
from services.fortnox_writer.switching import held_result

if TYPE_CHECKING:
    from libs.common.service import Runtime
    from services.fortnox_writer.handler import CommandHandler

log = get_logger(__name__)
_tracer = tracing.get_tracer(__name__)

# Commands of one tenant a replica runs at once; more would only wait for the same slots.
PER_TENANT = 2
# Commands a replica runs at once from the table, over all tenants.
MAX_RUNNING = 64
SWEEP_SECONDS = 1.0
# Transient errors that mean "not yet" rather than "failed" (an earlier attempt's outcome is
# settling, another writer holds the document): retried after a while, attempts not used up.
# A ``retry_after`` in the error's details overrides the wait.
WAITING_CODES = {"settling": 5.0, "busy": 1.0}


def _made_before_switch(delivery: Delivery, admission: Admission) -> bool:
    """The command was published before the shop's last Fortnox company switch."""
    if admission.switched_at is None or admission.switched_from_tenant is None:
        return False
    value = delivery.headers.get(PUBLISHED_AT_HEADER)
    try:
        published_ms = int(value.decode() if isinstance(value, bytes) else str(value))
    except (TypeError, ValueError):
        return False  # no publish time (an old message): only a replay re-publishes without it
    return published_ms < admission.switched_at.timestamp() * 1000


def waiting_time(exc: TransientError) -> float | None:
    if exc.code not in WAITING_CODES:
        return None
    retry_after = exc.details.get("retry_after")
    return float(retry_after) if isinstance(retry_after, int | float) else WAITING_CODES[exc.code]


class TenantGate:
    """How many commands of each tenant this replica runs right now."""

    def __init__(self, per_tenant: int) -> None:
        self._per_tenant = per_tenant
        self._running: Counter[str] = Counter()

    def try_enter(self, tenant_id: str) -> bool:
        if self._running[tenant_id] >= self._per_tenant:
            return False
        self._running[tenant_id] += 1
        return True

    def leave(self, tenant_id: str) -> None:
        self._running[tenant_id] -= 1
        if self._running[tenant_id] <= 0:
            del self._running[tenant_id]

    def full(self, tenant_id: str) -> bool:
        return self._running[tenant_id] >= self._per_tenant

    @property
    def total(self) -> int:
        return sum(self._running.values())


class CommandRunner:
    def __init__(self, runtime: Runtime, handler: CommandHandler, limiter: RateLimiter) -> None:
        self._runtime = runtime
        self._handler = handler
        self._limiter = limiter
        self._settings = runtime.settings
        self.store = DeferredStore(runtime.pool, f"writer-{uuid.uuid4().hex[:12]}")
        self._gate = TenantGate(PER_TENANT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._running_rows: set[int] = set()
        self._wake = asyncio.Event()

    # --- from the queue ----------------------------------------------------------------------
    async def receive(self, delivery: Delivery) -> None:
        """Run the command now, or store it for later; returns once it is safe to ack."""
        command = delivery.parse(FortnoxCommand)
        admission = await self.store.admission(command.shop)
        tenant = admission.tenant_id
        if _made_before_switch(delivery, admission):
            # Made for the company the shop was connected to before a switch: held back until
            # the merchant releases it (switching.py), never sent to the new company unseen.
            await self._defer(
                delivery,
                command,
                tenant,
                PARKED,
                error=HELD_EXPLANATION,
                held_from_tenant=admission.switched_from_tenant,
            )
            result = held_result(command, "parked", HELD_EXPLANATION)
            try:
                await self._runtime.publisher.publish(result, "fortnox.result.parked")
            except Exception as publish_error:  # the command stays held all the same
                log.warning("could not publish held result", error=type(publish_error).__name__)
            return
        if tenant is None or not admission.connected:
            await self._defer(delivery, command, tenant, PARKED)
            await self._handler.publish_parked(command, admission.reason)
            return
        if (
            admission.backlog
            or admission.next_slot_in > self._settings.fortnox_defer_after_seconds
            or not self._gate.try_enter(tenant)
        ):
            await self._defer(delivery, command, tenant, RATE_LIMIT)
            return
        try:
            await self._handler.execute(command)
        except NeedsReconnection as exc:
            await self._defer(delivery, command, tenant, PARKED, error=exc.message)
            await self._handler.publish_parked(command, exc.explanation or exc.message)
        except TransientError as exc:
            attempt = delivery.attempt + 1
            wait = waiting_time(exc)
            if exc.code == "429":
                await self._defer(delivery, command, tenant, RATE_LIMIT, error=exc.message)
            elif wait is not None:
                await self._defer(
                    delivery, command, tenant, RETRY, attempts=delivery.attempt, due_in=wait
                )
            elif attempt >= self._settings.amqp_max_attempts:
                raise  # the consumer dead-letters it as transient_exhausted
            else:
                await self._defer(
                    delivery, command, tenant, RETRY, attempts=attempt, error=exc.message
                )
        finally:
            self._gate.leave(tenant)

    async def _defer(
        self,
        delivery: Delivery,
        command: FortnoxCommand,
        tenant_id: str | None,
        reason: str,
        *,
        attempts: int = 0,
        error: str | None = None,
        due_in: float | None = None,
        held_from_tenant: str | None = None,
    ) -> None:
        if due_in is None:
            due_in = self._backoff(attempts) if reason == RETRY else 0.0
        stored = await self.store.put(
            command_id=command.command_id,
            shop=command.shop,
            tenant_id=tenant_id,
            document_key=command.document_key,
            routing_key=delivery.routing_key,
            message_id=delivery.message_id,
            body=delivery.body,
            headers=delivery.headers,
            reason=reason,
            attempts=attempts,
            due_in=due_in,
            error=error,
            held_from_tenant=held_from_tenant,
        )
        if stored:
            COMMANDS_DEFERRED.labels(reason=reason).inc()
        self._wake.set()

    def _backoff(self, attempts: int) -> float:
        return backoff(
            attempts,
            self._settings.fortnox_retry_base_seconds,
            self._settings.fortnox_retry_max_seconds,
        )

    # --- from the table ----------------------------------------------------------------------
    async def run_forever(self) -> None:
        """Drain deferred commands until cancelled (one loop per replica)."""
        interval = self._settings.fortnox_scheduler_interval_seconds
        last_sweep = last_extend = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - last_sweep >= SWEEP_SECONDS:
                    last_sweep = loop.time()
                    await self._sweep()
                if self._running_rows and loop.time() - last_extend >= CLAIM_SECONDS / 3:
                    last_extend = loop.time()
                    await self.store.extend_claims(sorted(self._running_rows))
                await self._turn()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler turn failed")
                await asyncio.sleep(1.0)
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
                await self._attempt(row, command)
        except Exception:
            log.exception("deferred command crashed", command_id=row.command_id)
            with contextlib.suppress(Exception):
                await self._retry(row, None, "the writer crashed on this command")
        finally:
            self._running_rows.discard(row.id)
            self._gate.leave(tenant_id)
            self._wake.set()

    async def _attempt(self, row: DeferredCommand, command: FortnoxCommand) -> None:
        try:
            await self._handler.execute(command)
        except NeedsReconnection as exc:
            await self.store.reschedule(
                row.id, reason=PARKED, attempts=row.attempts, due_in=0, error=exc.message
            )
            COMMANDS_DEFERRED.labels(reason=PARKED).inc()
            await self._handler.publish_parked(command, exc.explanation or exc.message)
            return
        except TransientError as exc:
            if exc.code == "429":
                wait = await self._limiter.next_slot_in(row.tenant_id or "")
                await self.store.reschedule(
                    row.id, reason=RATE_LIMIT, attempts=row.attempts, due_in=wait, error=exc.message
                )
                return
            waiting = waiting_time(exc)
            if waiting is not None:
                await self.store.reschedule(
                    row.id, reason=RETRY, attempts=row.attempts, due_in=waiting, error=exc.message
                )
                return
            await self._retry(row, command, exc.message, exc)
            return
        except HandlerError as exc:  # permanent: execute() recorded and published it
            await self._dead_letter(row, exc, exc.error_class)
            await self.store.done(row.id)
            return
        await self.store.done(row.id)

    async def _retry(
        self,
        row: DeferredCommand,
        command: FortnoxCommand | None,
        error: str,
        exc: HandlerError | None = None,
    ) -> None:
        attempts = row.attempts + 1
        if attempts < self._settings.amqp_max_attempts:
            await self.store.reschedule(
                row.id, reason=RETRY, attempts=attempts, due_in=self._backoff(attempts), error=error
            )
            return
        failure = exc or TransientError(error, code="unexpected")
        if command is not None:
            with contextlib.suppress(Exception):
                await self._handler.fail(command, failure)
        error_class = ErrorClass.TRANSIENT_EXHAUSTED if exc else ErrorClass.UNEXPECTED
        await self._dead_letter(row, failure, error_class, attempts=attempts)
        await self.store.done(row.id)

    async def _dead_letter(
        self,
        row: DeferredCommand,
        exc: HandlerError,
        error_class: ErrorClass,
        *,
        attempts: int | None = None,
    ) -> None:
        """A failed job, exactly like the consumer runner's (the replayer re-queues it)."""
        topology = self._runtime.topology
        headers: dict[str, Any] = {
            **row.headers,
            f"{ERROR_HEADER_PREFIX}class": str(error_class),
            f"{ERROR_HEADER_PREFIX}message": exc.message[:2000],
            f"{ERROR_HEADER_PREFIX}explanation": exc.explanation[:2000],
            FAILED_QUEUE_HEADER: topology.queue_name(WRITER_COMMANDS),
            f"{ERROR_HEADER_PREFIX}service": self._runtime.name,
            f"{ERROR_HEADER_PREFIX}attempts": attempts or row.attempts + 1,
            f"{ERROR_HEADER_PREFIX}at": datetime.now(UTC).isoformat(),
        }
        headers.pop(ATTEMPT_HEADER, None)
        if exc.code is not None:
            headers[f"{ERROR_HEADER_PREFIX}code"] = exc.code
        if exc.source_message:
            headers[f"{ERROR_HEADER_PREFIX}source-message"] = exc.source_message[:2000]
        await self._runtime.publisher.publish_raw(
            row.body,
            row.routing_key,
            exchange=topology.dead_letter_exchange,
            headers=headers,
            message_type=FortnoxCommand.schema_name(),
            message_id=row.message_id,
            keep_trace_headers=True,
        )
        log.error("deferred command failed", command_id=row.command_id, error=exc.message)
