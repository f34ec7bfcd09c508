"""Accounting rules as pure functions: Shopify data + shop settings + order state -> a plan.

Modules, by what they hold: ``settings`` (the shop's choices), ``money`` (reading amounts in the
document currency), ``vat`` (rates, markets, accounts), ``customers``, ``articles``, ``rows``
(an order's content as rows), ``totals`` (Fortnox's arithmetic, rounding rows, limits),
``state`` (what was invoiced and credited), ``invoices``, ``refunds``, ``payments``,
``commands`` (keys and drafts) and ``planner`` (one event -> commands). docs/accounting.md
describes the rules for an accountant.
"""

from services.mapper.accounting.invoices import invoice_command
from services.mapper.accounting.money import UnmappableOrder
from services.mapper.accounting.planner import SYNCED_TOPICS, Plan, order_id_for, plan_event
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import OrderState

__all__ = [
    "SYNCED_TOPICS",
    "OrderState",
    "Plan",
    "ShopSettings",
    "UnmappableOrder",
    "invoice_command",
    "order_id_for",
    "plan_event",
]
