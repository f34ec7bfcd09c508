"""The writer's consumer: one Fortnox command in, exactly one document, one result out."""

from __future__ import annotations

from libs.common.errors import HandlerError, NeedsReconnection, TransientError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, SyncResult
from libs.common.messaging import Delivery
from libs.common.privacy import redaction_of
from libs.common.service import Runtime
from libs.common.tracing import current_trace_id
from services.fortnox_writer import privacy
from services.fortnox_writer.actions import CATALOG_KINDS, Actions, Session
from services.fortnox_writer.client import FortnoxClient
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.documents import CreatedDocument, DocumentLedger
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.masterdata import MasterData
from services.fortnox_writer.ratelimit import RateLimiter
from services.fortnox_writer.scheduler import CommandRunner

log = get_logger(__name__)

# A writer that dies holding a document frees it within this time (its heartbeat stops);
# a redelivered command waits that long for it rather than failing.
LEASE_TTL = 15.0


class CommandHandler:
    def __init__(
        self, runtime: Runtime, connections: ConnectionStore, limiter: RateLimiter
    ) -> None:
        self._runtime = runtime
        self._connections = connections
        self._limiter = limiter
        self._ledger = DocumentLedger(runtime.pool)
        self._leases = Leases(runtime.pool)
        self._masterdata = MasterData(runtime.pool, self._leases)
        # Runs a command now or sets it aside (rate limit, retry, parked); see scheduler.py.
        self.runner = CommandRunner(runtime, self, limiter)

    async def __call__(self, delivery: Delivery) -> None:
        redaction = redaction_of(delivery)
        if redaction is not None:
            await privacy.redact(self._runtime.pool, redaction)
            return
        await self.runner.receive(delivery)

    async def execute(self, command: FortnoxCommand) -> None:
        """Do the command now. Failures other than transient ones and parking are final."""
        async with self._leases.hold(
            f"document:{command.document_key}", ttl=LEASE_TTL, wait=LEASE_TTL + 5
        ):
            try:
                await self._handle(command)
            except NeedsReconnection as exc:
                reason = exc.explanation or exc.message
                if exc.source_message:
                    reason += f" (Fortnox said: {exc.source_message}, code {exc.code})"
                await self._connections.mark_needs_reconnection(command.shop, reason)
                raise
            except HandlerError as exc:
                if not isinstance(exc, TransientError):
                    await self.fail(command, exc)
                raise

    async def fail(self, command: FortnoxCommand, exc: HandlerError) -> None:
        """Record the failure and show it on the order's timeline."""
        await self._ledger.mark_failed(command.document_key, exc.message)
        await self._publish_failure(command, exc)

    async def _handle(self, command: FortnoxCommand) -> None:
        async def client() -> FortnoxClient:
            connection = await self._connections.get(command.shop)

            async def token(force: bool) -> str:
                current = await self._connections.get(command.shop, force_refresh=force)
                if current.tenant_id != connection.tenant_id:
                    # The shop switched companies mid-command: never finish it in the new one.
                    raise TransientError(
                        "the shop's Fortnox company changed while this command ran",
                        code="company_switched",
                    )
                return current.access_token

            return FortnoxClient(
                http=self._runtime.http,
                base_url=self._runtime.settings.fortnox_api_url,
                tenant_id=connection.tenant_id,
                token=token,
                limiter=self._limiter,
                timeout=self._runtime.settings.fortnox_timeout_seconds,
            )

        # Every action of the contract, exactly once: actions.py (create, reverse, payment),
        # updates.py, credits.py and payments.py.
        session = Session(client)
        actions = Actions(
            self._runtime.pool,
            self._ledger,
            self._leases,
            self._masterdata,
            settle_seconds=self._runtime.settings.fortnox_timeout_seconds,
        )
        outcome = await actions.run(command, session)
        await self._publish(
            command, outcome.status, outcome.document, calls=session.calls, kind=outcome.kind
        )

    async def _publish(
        self,
        command: FortnoxCommand,
        status: str,
        created: CreatedDocument,
        *,
        calls: int = 0,
        kind: str | None = None,
    ) -> None:
        currency = command.document.currency if command.document else None
        if command.action == "register_payment" and command.payment is not None:
            currency = command.payment.currency
        document_kind = kind or (command.document.kind if command.document else "invoice")
        result = SyncResult(
            shop=command.shop,
            command_id=command.command_id,
            document_key=command.document_key,
            source=command.source,
            status=status,  # type: ignore[arg-type]
            action=command.action,
            document_kind=document_kind,  # type: ignore[arg-type]
            document_number=created.number,
            fortnox_total=created.total,
            expected_total=command.expected_total,
            currency=currency,
            trace_id=current_trace_id(),
            rule_version=command.rule_version,
            batch_id=command.batch_id,
        )
        await self._runtime.publisher.publish(result, f"fortnox.result.{status}")
        log.info(
            "document synced",
            shop=command.shop,
            document_key=command.document_key,
            number=created.number,
            status=status,
            fortnox_calls=calls,
        )

    async def publish_parked(self, command: FortnoxCommand, reason: str | None) -> None:
        """Tell the timeline (and the order status) the command waits for a reconnection."""
        result = SyncResult(
            shop=command.shop,
            command_id=command.command_id,
            document_key=command.document_key,
            source=command.source,
            status="parked",
            action=command.action,
            document_kind=CATALOG_KINDS.get(  # type: ignore[arg-type]
                command.action, command.document.kind if command.document else "invoice"
            ),
            expected_total=command.expected_total,
            currency=command.document.currency if command.document else None,
            error_code="needs_reconnection",
            explanation=(
                f"the shop's Fortnox connection needs reconnecting ({reason})"
                if reason
                else "the shop's Fortnox connection needs reconnecting"
            )
            + "; this sync resumes by itself once it is reconnected",
            trace_id=current_trace_id(),
            rule_version=command.rule_version,
            batch_id=command.batch_id,
        )
        try:
            await self._runtime.publisher.publish(result, "fortnox.result.parked")
        except Exception as publish_error:  # the command stays parked all the same
            log.warning("could not publish parked result", error=str(publish_error))

    async def _publish_failure(self, command: FortnoxCommand, exc: HandlerError) -> None:
        result = SyncResult(
            shop=command.shop,
            command_id=command.command_id,
            document_key=command.document_key,
            source=command.source,
            status="failed",
            action=command.action,
            expected_total=command.expected_total,
            currency=command.document.currency if command.document else None,
            error_code=exc.code,
            error_message=exc.source_message or exc.message,
            explanation=exc.explanation,
            trace_id=current_trace_id(),
            rule_version=command.rule_version,
            batch_id=command.batch_id,
            document_kind=CATALOG_KINDS.get(command.action, "invoice"),  # type: ignore[arg-type]
        )
        try:
            await self._runtime.publisher.publish(result, "fortnox.result.failed")
        except Exception as publish_error:  # the failed job still records it
            log.warning("could not publish failure result", error=str(publish_error))
