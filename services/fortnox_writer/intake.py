"""The writer's queue consumer: admission, then run the command now or set it aside.

Nothing waits in the broker: a command that cannot run soon (admission.py) is stored in
``deferred_commands`` (one committed INSERT, unique on the command id) and only then acked; the
scheduler runs it later. A command run now goes to the executor; what it says happened decides
the rest: set aside for a retry, parked, held back for the company it was made for (a company
switch, switching.py), or raised for the consumer runner to dead-letter.
Shopify's redact webhooks (forwarded to the writer's queue) are applied here too (privacy.py),
and so are the app_subscriptions webhooks of usage billing (subscriptions.py).
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, ShopifyEvent
from libs.common.messaging import Delivery
from libs.common.metrics import COMMANDS_DEFERRED
from libs.common.privacy import redaction_of
from libs.common.settings import Settings
from services.fortnox_writer import privacy, results
from services.fortnox_writer.admission import Admission, Arrival, TenantGate, is_background
from services.fortnox_writer.deferred import (
    BILLING,
    HELD_EXPLANATION,
    PARKED,
    RATE_LIMIT,
    RETRY,
    DeferredStore,
    backoff,
)
from services.fortnox_writer.executor import Executor
from services.fortnox_writer.subscriptions import Subscriptions, subscription_event_of

log = get_logger(__name__)


class CommandIntake:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        settings: Settings,
        store: DeferredStore,
        admission: Admission,
        gate: TenantGate,
        executor: Executor,
        wake_scheduler: Callable[[], None],
        subscriptions: Subscriptions | None = None,
    ) -> None:
        self._subscriptions = subscriptions
        self._pool = pool
        self._settings = settings
        self._store = store
        self._admission = admission
        self._gate = gate
        self._executor = executor
        self._wake_scheduler = wake_scheduler

    async def __call__(self, delivery: Delivery) -> None:
        """Returns once it is safe to ack: done, set aside, or raised for a failed job."""
        redaction = redaction_of(delivery)
        if redaction is not None:
            await privacy.redact(self._pool, redaction)
            return
        event = subscription_event_of(delivery)
        if event is not None:
            await self._subscription_news(event)
            return
        arrival = Arrival.of(delivery)
        command = arrival.command
        facts, aside = await self._admission.decide(arrival)
        tenant = facts.tenant_id
        if aside is not None and aside.held_from_tenant is not None:
            await self._set_aside(
                delivery,
                command,
                tenant,
                PARKED,
                error=aside.explanation,
                held_from_tenant=aside.held_from_tenant,
            )
            await self._executor.publish(results.held(command, "parked", HELD_EXPLANATION))
            return
        if aside is not None:
            await self._set_aside(delivery, command, tenant, aside.reason)
            if aside.reason == PARKED:
                await self._executor.publish_parked(command, aside.explanation)
            return
        assert tenant is not None
        if not self._gate.try_enter(tenant):
            await self._set_aside(delivery, command, tenant, RATE_LIMIT)
            return
        try:
            outcome = await self._executor.run(command, received_at=facts.now, tenant_id=tenant)
        finally:
            self._gate.leave(tenant)
        error = outcome.error
        message = None if error is None else error.message
        if outcome.kind == "done":
            return
        if outcome.kind == "held":  # the executor published the held result
            await self._set_aside(
                delivery, command, tenant, PARKED, error=HELD_EXPLANATION, held_from_tenant=tenant
            )
        elif outcome.kind == "park":
            await self._set_aside(delivery, command, tenant, PARKED, error=message)
        elif outcome.kind == "billing":  # the executor published why it waits
            await self._set_aside(delivery, command, tenant, BILLING, error=message)
        elif outcome.kind == "rate_limited":
            await self._set_aside(delivery, command, tenant, RATE_LIMIT, error=message)
        elif outcome.kind == "wait":
            await self._set_aside(
                delivery, command, tenant, RETRY, attempts=delivery.attempt, due_in=outcome.due_in
            )
        elif outcome.kind == "retry":
            assert error is not None
            attempt = delivery.attempt + 1
            if attempt >= self._settings.amqp_max_attempts:
                await self._executor.fail(command, error)
                raise error  # the consumer dead-letters it as transient_exhausted
            await self._set_aside(delivery, command, tenant, RETRY, attempts=attempt, error=message)
        else:  # failed: recorded and published; the consumer dead-letters it
            assert error is not None
            raise error

    async def _subscription_news(self, event: ShopifyEvent) -> None:
        """app_subscriptions/* (subscriptions.py): ACTIVE releases the shop's work waiting on
        billing; another status tells each waiting order why it still waits."""
        if self._subscriptions is None:
            return
        waiting = await self._subscriptions.apply(event)
        if waiting:
            blocked = await self._executor.billing.blocked(event.shop)
            for command in waiting:
                explanation = None if blocked is None else blocked.explanation
                await self._executor.publish(results.billing_wait(command, explanation))
        self._wake_scheduler()

    async def _set_aside(
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
        stored = await self._store.put(
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
            background=is_background(command),
        )
        if stored:
            COMMANDS_DEFERRED.labels(reason=reason).inc()
        self._wake_scheduler()

    def _backoff(self, attempts: int) -> float:
        return backoff(
            attempts,
            self._settings.fortnox_retry_base_seconds,
            self._settings.fortnox_retry_max_seconds,
        )
