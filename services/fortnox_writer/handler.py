"""The writer's consumer: one Fortnox command in, exactly one document, one result out."""

from __future__ import annotations

from libs.common.errors import HandlerError, PermanentError, TransientError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, SyncResult
from libs.common.messaging import Delivery
from libs.common.service import Runtime
from libs.common.tracing import current_trace_id
from services.fortnox_writer import documents
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.documents import CreatedDocument, DocumentLedger
from services.fortnox_writer.leases import Leases
from services.fortnox_writer.masterdata import ARTICLE_NOT_FOUND, CUSTOMER_NOT_FOUND, MasterData
from services.fortnox_writer.ratelimit import RateLimiter

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

    async def __call__(self, delivery: Delivery) -> None:
        command = delivery.parse(FortnoxCommand)
        async with self._leases.hold(
            f"document:{command.document_key}", ttl=LEASE_TTL, wait=LEASE_TTL + 5
        ):
            try:
                await self._handle(command)
            except HandlerError as exc:
                if not isinstance(exc, TransientError):
                    await self._ledger.mark_failed(command.document_key, exc.message)
                    await self._publish_failure(command, exc)
                raise

    async def _handle(self, command: FortnoxCommand) -> None:
        document, customer = command.document, command.customer
        if command.action != "create_document" or document is None or customer is None:
            raise PermanentError(f"the writer cannot do {command.action} yet")
        record = await self._ledger.open(command)
        if record.status == "created" and record.document_number:
            await self._publish(
                command,
                "already_synced",
                CreatedDocument(record.document_number, record.fortnox_total),
            )
            return
        connection = await self._connections.get(command.shop)

        async def token(force: bool) -> str:
            return (await self._connections.get(command.shop, force_refresh=force)).access_token

        client = FortnoxClient(
            http=self._runtime.http,
            base_url=self._runtime.settings.fortnox_api_url,
            tenant_id=connection.tenant_id,
            token=token,
            limiter=self._limiter,
            timeout=self._runtime.settings.fortnox_timeout_seconds,
        )
        if record.attempts > 0:
            existing = await documents.find(client, document)
            if existing is not None:
                log.info("adopted document made by an earlier attempt", number=existing.number)
                await self._ledger.mark_created(command.document_key, existing)
                await self._publish(command, "synced", existing, calls=client.calls)
                return
        customer_number = await self._masterdata.customer_number(command.shop, client, customer)
        for article in command.articles:
            await self._masterdata.ensure_article(command.shop, client, article)
        await self._ledger.count_attempt(command.document_key)
        try:
            created = await documents.create(client, document, customer_number)
        except FortnoxApiError as exc:
            if exc.code == CUSTOMER_NOT_FOUND:
                await self._masterdata.forget_customer(command.shop, customer)
            elif exc.code == ARTICLE_NOT_FOUND:
                await self._masterdata.forget_articles(
                    command.shop, [article.article_number for article in command.articles]
                )
            else:
                raise
            raise TransientError(
                "a cached customer or article no longer exists in Fortnox; re-creating it",
                code=exc.code,
                source_message=exc.source_message,
            ) from exc
        await self._ledger.mark_created(command.document_key, created)
        await self._publish(command, "synced", created, calls=client.calls)

    async def _publish(
        self,
        command: FortnoxCommand,
        status: str,
        created: CreatedDocument,
        *,
        calls: int = 0,
    ) -> None:
        result = SyncResult(
            shop=command.shop,
            command_id=command.command_id,
            document_key=command.document_key,
            source=command.source,
            status=status,  # type: ignore[arg-type]
            document_kind=command.document.kind if command.document else "invoice",
            document_number=created.number,
            fortnox_total=created.total,
            expected_total=command.expected_total,
            currency=command.document.currency if command.document else None,
            trace_id=current_trace_id(),
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
        )
        try:
            await self._runtime.publisher.publish(result, "fortnox.result.failed")
        except Exception as publish_error:  # the failed job still records it
            log.warning("could not publish failure result", error=str(publish_error))
