"""The rules around the planner: resolve the shop's rules for an event, plan, stamp the version.

Used by the handler (inside its per-order transaction) and by the preview (read only). The
order the rules look at is the event's own payload for order topics and, for a refund, the
latest order payload the mapper kept (rules.store), so a refund follows its order's rule.
A template of the matched rule that fails on the order raises RuleTemplateFailed (a
PermanentError): the handler fails that order alone, as a failed job that explains it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from libs.common.messages import ShopifyEvent
from services.mapper.accounting import OrderState, Plan, ShopSettings, order_id_for, plan_event
from services.mapper.accounting.vat_numbers import VatCheck
from services.mapper.rules.actions import Resolution, resolve
from services.mapper.rules.history import record_use
from services.mapper.rules.store import current_rule_set, load_order_payload, save_order_payload
from services.mapper.store import load_shop_settings


@dataclass(frozen=True)
class RuledPlan:
    plan: Plan
    resolution: Resolution


async def resolution_for(
    conn: Any,
    shop: str,
    order: dict[str, Any] | None,
    defaults: dict[str, Any],
) -> Resolution:
    """The shop's current rules applied to ``order`` on top of its stored settings."""
    settings: ShopSettings = await load_shop_settings(conn, shop, defaults)
    rule_set = await current_rule_set(conn, shop)
    return resolve(rule_set, order, settings)


def stamped(plan: Plan, resolution: Resolution) -> Plan:
    """Every command carries the rule-set version; a skip names the rule that decided it."""
    commands = [c.model_copy(update={"rule_version": resolution.version}) for c in plan.commands]
    skipped = plan.skipped
    if skipped and resolution.rule is not None:
        skipped = f"{skipped} [{resolution.describe()}]"
    return replace(plan, commands=commands, skipped=skipped)


async def plan_with_rules(
    conn: Any,
    event: ShopifyEvent,
    state: OrderState | None,
    defaults: dict[str, Any],
    *,
    vat: VatCheck | None = None,
) -> RuledPlan:
    """Plan ``event`` under the shop's current rules, keeping its payload for later events;
    ``vat`` is what VIES said about the order's VAT number (services/mapper/vies.py)."""
    order_id = order_id_for(event.topic, event.payload)
    order: dict[str, Any] | None = event.payload
    if event.topic == "refunds/create":
        order = None if order_id is None else await load_order_payload(conn, event.shop, order_id)
    elif order_id is not None:
        await save_order_payload(conn, event.shop, order_id, event.topic, event.payload)
    resolution = await resolution_for(conn, event.shop, order, defaults)
    plan = plan_event(
        event.shop,
        event.topic,
        event.payload,
        resolution.settings,
        state,
        event_uid=event.event_uid,
        vat=vat,
    )
    if plan.commands:  # the version stays in the history while its commands may be in flight
        await record_use(conn, event.shop, resolution.version)
    return RuledPlan(stamped(plan, resolution), resolution)
