"""The mapper's consumer: Shopify events in, Fortnox commands out, each event handled once.

Per event, in one transaction under an advisory lock on (shop, order): check the inbox, load
the shop's settings and the order's state, run the pure planner (services/mapper/accounting),
publish its commands (``fortnox.command.<action>``), store the new state and record the event.
Publishing before the commit is safe: a redelivery re-plans the same commands with the same
document keys, and the writer makes one document per key.

An EU business order without VAT names a VAT number: it is checked first, outside the
transaction (format, then VIES with a timeout, cached: services/mapper/vies.py), and the planner
books reverse charge only when the number is valid.
"""

from __future__ import annotations

from typing import Any

from libs.common.errors import PermanentError
from libs.common.logs import get_logger
from libs.common.messages import FortnoxCommand, Origin, ShopifyEvent, SourceRef, SyncResult
from libs.common.messaging import Delivery
from libs.common.service import Runtime
from libs.common.shops import is_uninstalled
from libs.common.tracing import current_trace_id
from services.mapper.accounting import SYNCED_TOPICS, order_id_for
from services.mapper.accounting.customers import destination_country
from services.mapper.accounting.payouts import PAYOUT_TOPIC, plan_payout
from services.mapper.accounting.planner import ORDER_TOPICS
from services.mapper.accounting.vat_numbers import VatCheck, number_to_check
from services.mapper.catalog import CATALOG_TOPICS, plan_catalog_event, skipped_result
from services.mapper.privacy import PRIVACY_TOPICS, apply_privacy
from services.mapper.rules.engine import plan_with_rules
from services.mapper.store import load_shop_settings, load_state, save_state
from services.mapper.summary import absorb, is_summarized
from services.mapper.vies import VatNumbers

log = get_logger(__name__)
SOURCE_HEADER = "x-fortbridge-source"
BACKFILL: Origin = "backfill"


def backfill_skipped(
    event: ShopifyEvent,
    delivery: Delivery,
    commands: list[FortnoxCommand],
    reason: str | None,
    order_id: str,
) -> SyncResult | None:
    """A backfill's order whose orders/create the rules make nothing of (a test order, a rule
    that skips it): a ``skipped`` result, so the backfill counts it instead of waiting for it.
    A document made later (on orders/paid, say) replaces the skip in the backfill's count."""
    if event.topic != "orders/create" or commands or event.batch_id is None:
        return None
    if _source(delivery) != BACKFILL:
        return None
    return SyncResult(
        shop=event.shop,
        command_id=f"{event.shop}:order:{order_id}:backfill-skipped",
        document_key=f"{event.shop}:order:{order_id}:backfill-skipped",
        source=SourceRef(type="order", id=order_id),
        status="skipped",
        action="create_document",
        explanation=reason or "the shop's rules make no document of this order",
        trace_id=current_trace_id(),
        batch_id=event.batch_id,
        origin=BACKFILL,
    )


def _source(delivery: Delivery) -> str | None:
    source = delivery.headers.get(SOURCE_HEADER)
    return source.decode() if isinstance(source, bytes) else source


def backfilled(
    commands: list[FortnoxCommand], event: ShopifyEvent, delivery: Delivery
) -> list[FortnoxCommand]:
    """A backfill's events (ingest's ``x-fortbridge-source: backfill``) make commands marked
    ``origin: backfill`` with the backfill's id, so the writer runs them behind live work,
    billing does not charge them and the backfill counts their results."""
    if _source(delivery) != BACKFILL:
        return commands
    stamp = {"origin": BACKFILL, "batch_id": event.batch_id}
    return [command.model_copy(update=stamp) for command in commands]


def routing_key(action: str) -> str:
    return f"fortnox.command.{action}"


class EventHandler:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._defaults = {"guest_customer_name": runtime.settings.default_guest_customer_name}
        self._vat = VatNumbers(runtime.pool, getattr(runtime, "http", None), runtime.settings)

    async def __call__(self, delivery: Delivery) -> None:
        event = delivery.parse(ShopifyEvent)
        pool = self._runtime.pool
        if await self._handled(pool, event):
            log.info("event already handled", event_uid=event.event_uid)
            return
        if event.topic in PRIVACY_TOPICS:
            async with pool.acquire() as conn, conn.transaction():
                done = await apply_privacy(conn, event)
                await self._record(conn, event, "privacy", reason=done)
            log.info("privacy webhook applied", shop=event.shop, topic=event.topic)
            return
        if await is_uninstalled(pool, event.shop):
            reason = "the shop uninstalled Fortbridge: nothing is synced for it"
            await self._record(pool, event, "skipped", reason=reason)
            return
        if event.topic in CATALOG_TOPICS:
            await self._catalog(event)
            return
        if event.topic == PAYOUT_TOPIC:
            await self._payout(event)
            return
        if event.topic not in SYNCED_TOPICS:
            await self._record(pool, event, "skipped", reason=f"topic {event.topic} is not synced")
            return
        order_id = order_id_for(event.topic, event.payload)
        if order_id is None:
            exc = PermanentError(f"the {event.topic} event names no order id", code="missing_id")
            await self._report_unmappable(event, exc)
            raise exc
        try:
            vat = await self._vat_check(event, order_id)
        except PermanentError as exc:  # e.g. the shop's stored settings are invalid
            await self._report_unmappable(event, exc)
            raise
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"mapper:{event.shop}:{order_id}",
            )
            if await self._handled(conn, event):
                return
            state = await load_state(conn, event.shop, order_id)
            try:
                # The shop's rules resolved to settings, planned, commands stamped with the
                # rule-set version (services/mapper/rules/engine.py).
                ruled = await plan_with_rules(conn, event, state, self._defaults, vat=vat)
            except PermanentError as exc:
                await self._report_unmappable(event, exc)
                raise
            plan = ruled.plan
            settings = ruled.resolution.settings
            if await is_summarized(conn, event.shop, order_id) or (
                state is None and settings.booking == "daily_summary"
            ):
                await self._summarize(conn, event, delivery, plan, settings, order_id, state)
                return
            for command in backfilled(plan.commands, event, delivery):
                await self._runtime.publisher.publish(
                    command, routing_key(command.action), message_id=command.command_id
                )
            if plan.state is not None and plan.state != state:
                await save_state(conn, event.shop, plan.state)
            ids = ",".join(c.command_id for c in plan.commands) or None
            outcome = "command" if plan.commands else "skipped"
            await self._record(conn, event, outcome, reason=plan.skipped, command_id=ids)
            skipped = backfill_skipped(event, delivery, plan.commands, plan.skipped, order_id)
            if skipped is not None:
                await self._runtime.publisher.publish(skipped, "fortnox.result.skipped")
        log.info(
            "event planned",
            shop=event.shop,
            topic=event.topic,
            commands=[c.command_id for c in plan.commands],
            skipped=plan.skipped,
        )

    async def _vat_check(self, event: ShopifyEvent, order_id: str) -> VatCheck | None:
        """What VIES says about the order's VAT number, when it decides the order's VAT (an
        event that may make or change the document); None when no number does."""
        pool = self._runtime.pool
        if event.topic not in ORDER_TOPICS and await load_state(pool, event.shop, order_id):
            return None  # a payment or cancellation of a document already made
        settings = await load_shop_settings(pool, event.shop, self._defaults)
        raw = number_to_check(event.payload, settings)
        if raw is None:
            return None
        home = settings.home_country
        return await self._vat.check(
            event.shop, raw, destination_country(event.payload, home), home
        )

    async def _catalog(self, event: ShopifyEvent) -> None:
        """A product or customer: one sync command, or a skip the bulk sync can count."""
        pool = self._runtime.pool
        settings = await load_shop_settings(pool, event.shop, self._defaults)
        plan = plan_catalog_event(event, settings)
        if plan.command is not None:
            await self._runtime.publisher.publish(
                plan.command,
                routing_key(plan.command.action),
                message_id=plan.command.command_id,
            )
        elif (result := skipped_result(event, plan)) is not None:
            await self._runtime.publisher.publish(result, "fortnox.result.skipped")
        outcome = "command" if plan.command else "skipped"
        command_id = plan.command.command_id if plan.command else None
        await self._record(pool, event, outcome, reason=plan.skipped, command_id=command_id)

    async def _summarize(
        self,
        conn: Any,
        event: ShopifyEvent,
        delivery: Delivery,
        plan: Any,
        settings: Any,
        order_id: str,
        state: Any,
    ) -> None:
        """Summary mode: the plan's documents become entries of the day's summary (summary.py)
        and the order's timeline says which summary holds it; nothing goes to Fortnox now."""
        results, late, reason = await absorb(conn, event, plan, settings, order_id)
        if _source(delivery) == BACKFILL:  # a backfill counts its summarized orders too
            stamp = {"origin": BACKFILL, "batch_id": event.batch_id}
            results = [result.model_copy(update=stamp) for result in results]
        for result in results:
            await self._runtime.publisher.publish(result, f"fortnox.result.{result.status}")
        for command in backfilled(late, event, delivery):
            await self._runtime.publisher.publish(
                command, routing_key(command.action), message_id=command.command_id
            )
        if plan.state is not None and plan.state != state:
            await save_state(conn, event.shop, plan.state)
        outcome = "summarized" if results or late else "skipped"
        await self._record(conn, event, outcome, reason=reason or plan.skipped)

    async def _payout(self, event: ShopifyEvent) -> None:
        """A Shopify Payments payout: one voucher command (accounting/payouts.py), or a skip.
        A payout that does not add up raises (a failed job, replayable)."""
        pool = self._runtime.pool
        settings = await load_shop_settings(pool, event.shop, self._defaults)
        plan = plan_payout(event.shop, event.payload, settings, event_uid=event.event_uid)
        if plan.command is not None:
            await self._runtime.publisher.publish(
                plan.command,
                routing_key(plan.command.action),
                message_id=plan.command.command_id,
            )
        outcome = "command" if plan.command else "skipped"
        command_id = plan.command.command_id if plan.command else None
        await self._record(pool, event, outcome, reason=plan.skipped, command_id=command_id)
        log.info(
            "payout planned", shop=event.shop, payout=event.payload.get("id"), skipped=plan.skipped
        )

    @staticmethod
    async def _handled(conn: Any, event: ShopifyEvent) -> bool:
        return bool(
            await conn.fetchval(
                "SELECT 1 FROM mapper.processed_events WHERE event_uid = $1", event.event_uid
            )
        )

    @staticmethod
    async def _record(
        conn: Any,
        event: ShopifyEvent,
        outcome: str,
        *,
        reason: str | None = None,
        command_id: str | None = None,
    ) -> None:
        await conn.execute(
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
            command_id,
        )

    async def _report_unmappable(self, event: ShopifyEvent, exc: PermanentError) -> None:
        order_id = order_id_for(event.topic, event.payload) or event.payload.get("id")
        if order_id is None:
            return
        refund = event.topic == "refunds/create" and event.payload.get("id") is not None
        # A refund's source names the refund and its order (the timeline is kept per order).
        source = (
            SourceRef(type="refund", id=event.payload["id"], order_id=str(order_id))
            if refund
            else SourceRef(type="order", id=str(order_id), name=event.payload.get("name"))
        )
        kind = f"refund:{event.payload['id']}:credit" if refund else f"order:{order_id}:invoice"
        result = SyncResult(
            shop=event.shop,
            command_id=f"{event.shop}:order:{order_id}:mapping",
            document_key=f"{event.shop}:{kind}",
            source=source,
            status="failed",
            error_code=exc.code,
            error_message=exc.message,
            explanation=f"The event could not be mapped to a Fortnox document: {exc.message}",
            trace_id=current_trace_id(),
        )
        await self._runtime.publisher.publish(result, "fortnox.result.failed")
