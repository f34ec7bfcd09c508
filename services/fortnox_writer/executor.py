"""Run one command: lease its document, run its operation, publish its result.

The executor is the one place that turns what an operation did into what happens next, as a
:class:`Disposition` the intake (a command from the queue) and the scheduler (a command set
aside) both apply:

- done: the result is published (synced, already_synced, skipped);
- park: Fortnox refused the shop's connection; it is marked ``needs_reconnection`` and a
  ``parked`` result tells the timeline; the command waits for the reconnection;
- held: the shop was switched to another Fortnox company than the one the command was admitted
  for (before it started, or while it ran and before it needed a new token): it is not finished
  in the new company; a ``parked`` result says so and the caller holds it back for the previous
  company (``held_from_tenant``) until the merchant releases or discards it (switching.py);
- rate_limited: Fortnox answered 429 (the client already pushed the tenant's next slot out);
- wait: "not yet" (an earlier attempt's outcome is settling, another writer holds the
  document): retried after ``due_in`` without using up an attempt;
- retry: a transient failure; the caller counts the attempt and retries with backoff or, when
  attempts run out, calls :meth:`Executor.fail` and dead-letters it;
- billing: a new invoice or order the shop cannot be charged for now (no trial credit left and
  no usable subscription, docs/billing.md); a ``parked`` result with ``billing_required`` says
  why and how to continue, and the caller sets it aside (reason ``billing``) until billing is
  possible again (a subscription approved, a cap raised: subscriptions.py);
- failed: a permanent failure, already recorded in the ledger and published as ``failed``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from libs.common.errors import HandlerError, NeedsReconnection, TransientError
from libs.common.logs import get_logger
from libs.common.messages import CommandAction, FortnoxCommand, SyncResult
from libs.common.service import Runtime
from services.fortnox_writer import results
from services.fortnox_writer.article_register import ArticleRegister
from services.fortnox_writer.billing_ledger import BILLING_REQUIRED, BillingLedger
from services.fortnox_writer.client import FortnoxClient
from services.fortnox_writer.clock import Clock
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.customer_register import CustomerRegister
from services.fortnox_writer.deferred import HELD_EXPLANATION
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.ledger import DocumentLedger
from services.fortnox_writer.links import DocumentLinks
from services.fortnox_writer.operations import Operation, Run, Session, Steps, operations_for
from services.fortnox_writer.operations.base import refuse_self_target
from services.fortnox_writer.ratelimit import RateLimiter

log = get_logger(__name__)

# A writer that dies holding a document frees it within this time (its heartbeat stops);
# a redelivered command waits that long for it rather than failing.
LEASE_TTL = 15.0
TARGET_LEASE_TTL = 15.0
TARGET_LEASE_WAIT = 20.0
# Transient errors that mean "not yet" rather than "failed", with their default wait; a
# ``retry_after`` in the error's details overrides it.
WAITING_CODES = {"settling": 5.0, "busy": 1.0}
# The shop's Fortnox company is not the one the command was admitted for any more.
COMPANY_SWITCHED = "company_switched"

DispositionKind = Literal[
    "done", "park", "held", "rate_limited", "wait", "retry", "billing", "failed"
]


@dataclass(frozen=True)
class Disposition:
    kind: DispositionKind
    error: HandlerError | None = None
    due_in: float = 0.0
    reason: str | None = None  # why the shop must reconnect (park)


DONE = Disposition("done")


def waiting_time(exc: TransientError) -> float | None:
    if exc.code not in WAITING_CODES:
        return None
    retry_after = exc.details.get("retry_after")
    return float(retry_after) if isinstance(retry_after, int | float) else WAITING_CODES[exc.code]


class Executor:
    def __init__(
        self,
        runtime: Runtime,
        connections: ConnectionStore,
        limiter: RateLimiter,
        leases: Leases,
        clock: Clock,
        billing: BillingLedger | None = None,
        start_subscription: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        settings = runtime.settings
        self.billing = billing or BillingLedger(runtime.pool, settings)
        self._start_subscription = start_subscription
        self._runtime = runtime
        self._connections = connections
        self._limiter = limiter
        self._leases = leases
        self.ledger = DocumentLedger(runtime.pool)
        customers = CustomerRegister(
            runtime.pool,
            leases,
            timezone=settings.fortnox_timezone,
            overlap_seconds=settings.fortnox_register_overlap_seconds,
            settle_seconds=settings.fortnox_timeout_seconds,
        )
        steps = Steps(
            self.ledger,
            DocumentLinks(runtime.pool),
            customers,
            ArticleRegister(runtime.pool, leases),
            clock,
            settle_seconds=settings.fortnox_timeout_seconds,
            fortnox_zone=ZoneInfo(settings.fortnox_timezone),
            billing=self.billing,
        )
        self._operations: dict[CommandAction, Operation] = operations_for(
            steps, leases, connections
        )

    async def run(
        self, command: FortnoxCommand, *, received_at: datetime, tenant_id: str
    ) -> Disposition:
        """Run the command now, in the Fortnox company ``tenant_id`` it was admitted for (the
        intake's) or set aside for (the scheduler's); never raises a HandlerError (it becomes
        the disposition)."""
        try:
            session = Session(lambda: self._client(command.shop, tenant_id))
            async with self._locked(command):
                outcome = await self._operations[command.action].run(
                    Run(command, session, received_at)
                )
            await self._publish(
                results.done(
                    command,
                    outcome.status,
                    outcome.kind,
                    outcome.document,
                    explanation=outcome.explanation,
                    stock=outcome.stock,
                    warehouse_module=outcome.warehouse_module,
                    found=outcome.found,
                )
            )
            log.info(
                "document synced",
                shop=command.shop,
                document_key=command.document_key,
                number=outcome.document.number,
                status=outcome.status,
                fortnox_calls=session.calls,
            )
            return DONE
        except NeedsReconnection as exc:
            reason = exc.explanation or exc.message
            if exc.source_message:
                reason += f" (Fortnox said: {exc.source_message}, code {exc.code})"
            await self._connections.mark_needs_reconnection(command.shop, reason)
            await self.publish_parked(command, exc.explanation or exc.message)
            return Disposition("park", exc, reason=exc.message)
        except TransientError as exc:
            if exc.code == BILLING_REQUIRED:
                return await self._billing_wait(command, exc)
            if exc.code == COMPANY_SWITCHED:
                await self.publish(results.held(command, "parked", HELD_EXPLANATION))
                return Disposition("held", exc)
            if exc.code == "429":
                return Disposition("rate_limited", exc)
            wait = waiting_time(exc)
            if wait is not None:
                return Disposition("wait", exc, due_in=wait)
            return Disposition("retry", exc)
        except HandlerError as exc:
            await self.fail(command, exc)
            return Disposition("failed", exc)

    async def _billing_wait(self, command: FortnoxCommand, exc: TransientError) -> Disposition:
        """The shop cannot be charged now: make sure a subscription waits for the merchant's
        approval (its confirmation URL is how to continue), say so on the order, set aside."""
        if exc.details.get("billing_state") == "subscription_needed" and self._start_subscription:
            try:
                await self._start_subscription(command.shop)
            except Exception as error:  # the work waits all the same; the app can start it
                log.warning("could not start a subscription", shop=command.shop, error=str(error))
        blocked = await self.billing.blocked(command.shop)
        if blocked is None:  # approved meanwhile: run it again soon
            return Disposition("wait", exc, due_in=0.2)
        await self.publish(results.billing_wait(command, blocked.explanation))
        return Disposition("billing", exc)

    @contextlib.asynccontextmanager
    async def _locked(self, command: FortnoxCommand) -> AsyncIterator[None]:
        """The command's document lease, and its target's (serialized with the target's
        creation and every other command on it)."""
        async with self._leases.hold(
            f"document:{command.document_key}", ttl=LEASE_TTL, wait=LEASE_TTL + 5
        ):
            target = command.target_document_key
            if target is None:
                yield
                return
            refuse_self_target(command)
            async with self._leases.hold(
                f"document:{target}", ttl=TARGET_LEASE_TTL, wait=TARGET_LEASE_WAIT
            ):
                yield

    async def _client(self, shop: str, tenant_id: str) -> FortnoxClient:
        """A client of the company ``tenant_id``. Every request takes its token here, so none
        goes out once the shop is connected to another company, whether it was switched before
        the command started or while it ran: ``company_switched`` instead."""
        settings = self._runtime.settings

        async def token(refused: str | None) -> str:
            current = await self._connections.get(shop, refused_token=refused)
            if current.tenant_id != tenant_id:
                # Never start or finish in the new company what was meant for the previous one.
                raise TransientError(
                    f"the shop's Fortnox company changed from {tenant_id} to {current.tenant_id}",
                    code=COMPANY_SWITCHED,
                )
            return current.access_token

        return FortnoxClient(
            http=self._runtime.http,
            base_url=settings.fortnox_api_url,
            tenant_id=tenant_id,
            token=token,
            limiter=self._limiter,
            timeout=settings.fortnox_timeout_seconds,
        )

    async def fail(self, command: FortnoxCommand, exc: HandlerError) -> None:
        """Record the failure and show it on the order's timeline; a create that made nothing
        releases its reserved charge."""
        await self.ledger.mark_failed(command.document_key, exc.message)
        record = await self.ledger.get(command.document_key)
        if record is None or not record.made:
            await self.billing.release(command)
        await self._publish(results.failed(command, exc), quiet=True)

    async def publish_parked(self, command: FortnoxCommand, reason: str | None) -> None:
        """Tell the timeline (and the order status) the command waits for a reconnection."""
        await self._publish(results.parked(command, reason), quiet=True)

    async def publish(self, result: SyncResult) -> None:
        """Publish a result the caller made (a command held back at admission); the command is
        kept all the same if this fails."""
        await self._publish(result, quiet=True)

    async def _publish(self, result: SyncResult, *, quiet: bool = False) -> None:
        try:
            await self._runtime.publisher.publish(result, f"fortnox.result.{result.status}")
        except Exception as exc:
            if not quiet:
                raise
            # A failed or parked command is kept (failed job, parked row) all the same.
            log.warning("could not publish result", status=result.status, error=str(exc))
