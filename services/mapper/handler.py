"""The mapper's consumer: Shopify events in, Fortnox commands out, each event handled once."""

from __future__ import annotations

from libs.common.errors import PermanentError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, ShopifyEvent, SourceRef, SyncResult
from libs.common.messaging import Delivery
from libs.common.service import Runtime
from libs.common.tracing import current_trace_id
from services.mapper.order_invoice import MappingSettings, order_to_command

log = get_logger(__name__)

COMMAND_ROUTING_KEY = "fortnox.command.create_document"

# Topics this build turns into documents; the rest are recorded as skipped, with the reason.
SYNCED_TOPICS = {"orders/create"}


class EventHandler:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._settings = MappingSettings(
            guest_customer_name=runtime.settings.default_guest_customer_name
        )

    async def __call__(self, delivery: Delivery) -> None:
        event = delivery.parse(ShopifyEvent)
        pool = self._runtime.pool
        if await pool.fetchval(
            "SELECT 1 FROM mapper.processed_events WHERE event_uid = $1", event.event_uid
        ):
            log.info("event already handled", event_uid=event.event_uid)
            return
        if event.topic not in SYNCED_TOPICS:
            await self._record(event, "skipped", reason=f"topic {event.topic} is not synced")
            return
        try:
            command = order_to_command(
                event.shop, event.payload, self._settings, event_uid=event.event_uid
            )
        except PermanentError as exc:
            await self._report_unmappable(event, exc)
            raise
        await self._runtime.publisher.publish(
            command, COMMAND_ROUTING_KEY, message_id=command.command_id
        )
        await self._record(event, "command", command=command)
        log.info("command published", command_id=command.command_id, shop=event.shop)

    async def _record(
        self,
        event: ShopifyEvent,
        outcome: str,
        *,
        reason: str | None = None,
        command: FortnoxCommand | None = None,
    ) -> None:
        await self._runtime.pool.execute(
            """
            INSERT INTO mapper.processed_events
                (event_uid, shop, topic, outcome, reason, command_id)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_uid) DO NOTHING
            """,
            event.event_uid,
            event.shop,
            event.topic,
            outcome,
            reason,
            command.command_id if command else None,
        )

    async def _report_unmappable(self, event: ShopifyEvent, exc: PermanentError) -> None:
        order_id = event.payload.get("id")
        if order_id is None:
            return
        result = SyncResult(
            shop=event.shop,
            command_id=f"{event.shop}:order:{order_id}:mapping",
            document_key=f"{event.shop}:order:{order_id}:invoice",
            source=SourceRef(type="order", id=str(order_id), name=event.payload.get("name")),
            status="failed",
            error_code=exc.code,
            error_message=exc.message,
            explanation=f"The order could not be mapped to a Fortnox document: {exc.message}",
            trace_id=current_trace_id(),
        )
        await self._runtime.publisher.publish(result, "fortnox.result.failed")
