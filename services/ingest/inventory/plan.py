"""What Shopify's levels make of Fortnox's stock (pure): Shopify as the source.

An item's Fortnox quantity is its available quantity summed over the mapped locations (every
location when none is mapped). Its article number follows the article sync's rule: the SKU
through the reversible rule, else ``V<variant id>`` when the SKU policy is ``variant_id``.
An item without one, a SKU too long for Fortnox, or several items whose SKUs make one article
number (which level would be Fortnox's?) is a problem with its reason, not a stock to set.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from libs.common.article_numbers import MAX_LENGTH, article_number
from services.ingest.inventory.shopify_stock import Item
from services.ingest.inventory.store import InventoryConfig, Problem

NO_SKU = "the variant has no SKU, so it has no Fortnox article"
TOO_LONG = f"the SKU is longer than Fortnox's {MAX_LENGTH}-character article number"
SHARED = "several variants have this SKU: Fortnox has one stock per article"


@dataclass
class StockPlan:
    wanted: dict[str, Decimal] = field(default_factory=dict)  # article number -> quantity
    problems: list[Problem] = field(default_factory=list)
    fine: list[str] = field(default_factory=list)  # problem keys that no longer apply


def number_for(config: InventoryConfig, item: Item) -> tuple[str | None, str | None]:
    """The item's article number, or why it has none."""
    if item.sku:
        number = article_number(item.sku)
    elif config.sku_policy == "variant_id" and item.variant_id is not None:
        number = f"V{item.variant_id}"
    else:
        return None, NO_SKU
    if len(number) > MAX_LENGTH:
        return None, TOO_LONG
    return number, None


def quantity_for(config: InventoryConfig, item: Item) -> Decimal:
    mapped = config.locations
    return Decimal(sum(qty for loc, qty in item.levels.items() if not mapped or loc in mapped))


def plan_fortnox_stock(config: InventoryConfig, items: list[Item]) -> StockPlan:
    plan = StockPlan()
    by_number: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        number, reason = number_for(config, item)
        if number is None:
            key = f"item:{item.id}"
            plan.problems.append(
                Problem(key, reason or "", item.sku or None, quantity_for(config, item))
            )
            continue
        by_number[number].append(item)
    for number, sharing in by_number.items():
        if len(sharing) > 1:
            plan.problems += [
                Problem(f"item:{i.id}", SHARED, i.sku or None, quantity_for(config, i))
                for i in sharing
            ]
            continue
        plan.wanted[number] = quantity_for(config, sharing[0])
        plan.fine.append(f"item:{sharing[0].id}")
    return plan
