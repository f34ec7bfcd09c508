"""A refund read from Shopify's Admin GraphQL plans exactly like the webhook that carried it.

Every refunds/create payload of the corpus (tests/fixtures/refunds) joins its order in the
Shopify simulator (``add_refund``, after the refunds before it), the order comes back through
services.ingest.order_fetch over loopback HTTP, and the refund converted from it must make the
mapper's planner decide exactly what the webhook's refund makes it decide: the credit (its
rows, shipping, freight, adjustments, caps and total) and the money-back payments, and the same
order state after it.

The corpus spells a shipping refund the legacy REST way (an ``order_adjustments`` entry of kind
``shipping_refund``); Shopify's GraphQL (2024-10 on) has it as a ``refundShippingLines`` entry
on the shipping line refunded, so the converted refund carries ``refund_shipping_lines`` in its
place. Both must credit the same row by the same amount.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from libs.common.errors import TransientError
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest.order_fetch import OrderTooLarge, fetch_order
from services.ingest.shopify_refunds import ORDER_ADJUSTMENTS, REFUND_TRANSACTIONS
from services.mapper.accounting import ShopSettings, UnmappableOrder, plan_event
from services.mapper.accounting.state import OrderState
from simulators.shopify import ShopifySimulator

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SHOP = "corpus.myshopify.com"
TOKEN = "simtok_refunds_0001"
REFUNDS = sorted(p for p in (FIXTURES / "refunds").glob("*.json") if ".expected" not in p.name)
ORDERS = {
    json.loads(p.read_text())["id"]: p
    for p in (FIXTURES / "orders").glob("*.json")
    if ".expected" not in p.name
}
SHIPPING = {"03", "04", "05", "06", "11", "15", "19"}  # refunds that refund shipping
MONEY_BACK = {"14", "15", "16", "17", "18", "19"}  # refunds with a refund transaction


def load(path: Path | str) -> dict[str, Any]:
    full = path if isinstance(path, Path) else FIXTURES / path
    return dict(json.loads(full.read_text()))


def planned(
    payload: dict[str, Any], settings: ShopSettings, state: OrderState | None
) -> dict[str, Any]:
    """Everything the planner decides for a refunds/create: commands in full, the state."""
    try:
        plan = plan_event(SHOP, "refunds/create", payload, settings, state, event_uid="event-1")
    except UnmappableOrder as exc:
        return {"error": exc.message, "code": exc.code}
    except TransientError as exc:
        return {"retry": exc.message}
    return {
        "commands": [command.model_dump(mode="json") for command in plan.commands],
        "state": None if plan.state is None else plan.state.model_dump(mode="json"),
        "skipped": plan.skipped,
    }


class Shopify:
    def __init__(self, sim: ShopifySimulator, admin: ShopifyAdmin) -> None:
        self.sim = sim
        self.admin = admin

    async def refund(self, order: dict[str, Any], refunds: list[dict[str, Any]]) -> dict[str, Any]:
        """Store ``order`` with ``refunds`` (in order), fetch it; its last refund, converted."""
        self.sim.add_order(SHOP, copy.deepcopy(order))
        for refund in refunds:
            self.sim.add_refund(SHOP, order["id"], copy.deepcopy(refund))
        fetched = await fetch_order(self.admin, SHOP, TOKEN, order["id"])
        assert fetched is not None
        [converted] = [r for r in fetched["refunds"] if r["id"] == refunds[-1]["id"]]
        return dict(converted)


@pytest.fixture
async def shopify() -> AsyncIterator[Shopify]:
    sim = ShopifySimulator(restore_rate=1000.0, bucket_size=1000.0)
    sim.add_shop(SHOP, access_token=TOKEN)
    async with sim.serve() as base_url, aiohttp.ClientSession() as http:
        yield Shopify(sim, ShopifyAdmin(http, sim.admin_url_template(base_url), "2025-07"))


def case_of(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The order as Shopify holds it when the refund is made, the refunds before it (and it),
    and the case's meta (.expected.json)."""
    meta = load(path.with_name(path.stem + ".expected.json"))
    refund = load(path)
    order = load(ORDERS[refund["order_id"]])
    earlier: list[dict[str, Any]] = []
    for step in meta["before"]:
        payload = load(step["file"])
        if step["topic"] == "refunds/create":
            earlier.append(payload)
        elif "line_items" in payload:
            order = payload  # the latest version of the order (paid, cancelled)
    return order, [*earlier, refund], meta


def states_before(
    meta: dict[str, Any], settings: ShopSettings, order: dict[str, Any]
) -> list[OrderState | None]:
    """The order's state when the refund is planned (for a refund before its order: none, and
    the state once the order came)."""
    state: OrderState | None = None
    for step in meta["before"]:
        state = plan_event(SHOP, step["topic"], load(step["file"]), settings, state).state
    if meta["before"]:
        return [state]
    return [None, plan_event(SHOP, "orders/create", order, settings, None).state]


@pytest.mark.parametrize("case", REFUNDS, ids=[p.name for p in REFUNDS])
async def test_every_fixture_refund_plans_the_same_through_graphql(
    shopify: Shopify, case: Path
) -> None:
    order, refunds, meta = case_of(case)
    rest = refunds[-1]
    converted = await shopify.refund(order, refunds)
    number = case.name[:2]
    # What the planner reads is there (else the plans below would match for the wrong reason).
    assert bool(converted["refund_shipping_lines"]) == (number in SHIPPING)
    assert bool(converted["transactions"]) == (number in MONEY_BACK)
    case_settings = ShopSettings.model_validate(meta.get("settings", {}))
    for settings in {case_settings.model_dump_json(): case_settings, "{}": ShopSettings()}.values():
        for state in states_before(meta, settings, order):
            expected = planned(rest, settings, state)
            assert planned(converted, settings, state) == expected


async def test_shipping_and_money_back_are_what_makes_the_plan(shopify: Shopify) -> None:
    """Without the refunded shipping or the refund transaction, the plan differs: the
    converted fields carry the shipping credit and the payment."""
    case = FIXTURES / "refunds/15_paid_full_refund_credits_and_pays_back.json"
    order, refunds, meta = case_of(case)
    converted = await shopify.refund(order, refunds)
    [state] = states_before(meta, ShopSettings(), order)
    full = planned(converted, ShopSettings(), state)
    actions = [c["action"] for c in full["commands"]]
    assert actions == ["reverse_document", "register_payment"]
    assert full["commands"][1]["payment"]["amount"] == "-536.00"
    no_shipping = planned({**converted, "refund_shipping_lines": []}, ShopSettings(), state)
    # A partial credit of the lines alone: the invoice's shipping row stays uncredited.
    assert [c["action"] for c in no_shipping["commands"]] == ["create_document", "register_payment"]
    assert no_shipping["state"] != full["state"]
    no_money = planned({**converted, "transactions": []}, ShopSettings(), state)
    assert [c["action"] for c in no_money["commands"]] == ["reverse_document"]


async def test_the_converted_refund_has_the_webhook_shape(shopify: Shopify) -> None:
    order, refunds, _ = case_of(
        FIXTURES / "refunds/19_refund_after_paid_cancel_pays_back_on_its_credit.json"
    )
    rest = refunds[-1]
    converted = await shopify.refund(order, refunds)
    for key in ("id", "admin_graphql_api_id", "order_id", "created_at", "note"):
        assert converted[key] == rest[key], key
    for item, rest_item in zip(
        converted["refund_line_items"], rest["refund_line_items"], strict=True
    ):
        for key in ("id", "line_item_id", "quantity", "restock_type", "subtotal", "total_tax"):
            assert item[key] == rest_item[key], key
        assert item["subtotal_set"] == rest_item["subtotal_set"]
        assert item["total_tax_set"] == rest_item["total_tax_set"]
    [ship] = converted["refund_shipping_lines"]
    [adjustment] = rest["order_adjustments"]
    assert ship["shipping_line_id"] == order["shipping_lines"][0]["id"]
    assert ship["subtotal_amount_set"]["shop_money"] == {"amount": "49.00", "currency_code": "SEK"}
    assert ship["total_tax_set"]["presentment_money"] == {"amount": "9.80", "currency_code": "SEK"}
    assert adjustment["amount"] == "-49.00"  # the legacy spelling of the same refund
    assert converted["order_adjustments"] == [] and converted["duties"] == []
    [tx] = converted["transactions"]
    [rest_tx] = rest["transactions"]
    for key in ("id", "kind", "status", "gateway", "amount", "currency", "processed_at"):
        assert tx[key] == rest_tx[key], key
    assert tx["amount_set"]["shop_money"] == {"amount": rest_tx["amount"], "currency_code": "SEK"}


async def test_a_discrepancy_comes_back_as_a_refund_discrepancy(shopify: Shopify) -> None:
    order, refunds, _ = case_of(FIXTURES / "refunds/07_goodwill_discrepancy.json")
    converted = await shopify.refund(order, refunds)
    [adjustment] = converted["order_adjustments"]
    [rest] = refunds[-1]["order_adjustments"]
    for key in ("id", "order_id", "refund_id", "kind", "reason", "amount", "tax_amount"):
        assert adjustment[key] == rest[key], key
    assert adjustment["amount_set"] == rest["amount_set"]
    assert adjustment["tax_amount_set"] == rest["tax_amount_set"]
    assert converted["refund_shipping_lines"] == []


async def test_refunded_duties_and_named_shipping_lines_plan_the_same(shopify: Shopify) -> None:
    """A refund stored in the newer shape (refund_shipping_lines) and one refunding a duty."""
    order = load("orders/31_duties.json")
    [duty] = order["line_items"][0]["duties"]
    ship = order["shipping_lines"][0]
    ship_price = Decimal(ship["price"])
    refund = {
        "id": 8_200_000_000_031,
        "order_id": order["id"],
        "created_at": "2026-11-20T10:00:00+01:00",
        "note": None,
        "refund_line_items": [],
        "refund_shipping_lines": [
            {
                "id": 8_200_000_000_131,
                "shipping_line_id": ship["id"],
                "subtotal_amount_set": ship["price_set"],
                "total_tax_set": ship["tax_lines"][0]["price_set"],
            }
        ],
        "order_adjustments": [],
        "duties": [{"duty_id": duty["id"], "amount_set": duty["price_set"]}],
        "transactions": [],
    }
    converted = await shopify.refund(order, [refund])
    assert converted["duties"] == [{"duty_id": duty["id"], "amount_set": duty["price_set"]}]
    [line] = converted["refund_shipping_lines"]
    assert (line["shipping_line_id"], line["subtotal_amount_set"]) == (
        ship["id"],
        ship["price_set"],
    )
    state = plan_event(SHOP, "orders/create", order, ShopSettings(), None).state
    expected = planned(refund, ShopSettings(), state)
    credited = {row["key"]: row["credited_amount"] for row in expected["state"]["rows"]}
    assert Decimal(credited[f"duty:{duty['id']}"]) == Decimal(
        duty["price_set"]["shop_money"]["amount"]
    )
    assert Decimal(credited[f"shipping:{ship['id']}"]) == ship_price
    assert planned(converted, ShopSettings(), state) == expected


async def test_shipping_refunds_go_to_the_shipping_line_with_an_amount_left(
    shopify: Shopify,
) -> None:
    """Two shipping lines, refunded one after the other: each refund names its own line, and
    plans as the webhook does."""
    order = load("orders/25_two_shipping_lines.json")
    first, second = order["shipping_lines"]

    def shipping_refund(refund_id: int, ship: dict[str, Any]) -> dict[str, Any]:
        tax = ship["tax_lines"][0]["price_set"] if ship["tax_lines"] else None
        return {
            "id": refund_id,
            "order_id": order["id"],
            "created_at": "2026-11-20T10:00:00+01:00",
            "refund_line_items": [],
            "order_adjustments": [
                {
                    "id": refund_id * 100,
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                    "amount": f"-{ship['price']}",
                    "amount_set": negated(ship["price_set"]),
                    "tax_amount_set": negated(tax) if tax else None,
                }
            ],
            "transactions": [],
        }

    settings = ShopSettings()
    state = plan_event(SHOP, "orders/create", order, settings, None).state
    refunds = [
        shipping_refund(8_200_000_000_251, first),
        shipping_refund(8_200_000_000_252, second),
    ]
    for n, ship in enumerate((first, second)):
        converted = await shopify.refund(order, refunds[: n + 1])
        [line] = converted["refund_shipping_lines"]
        assert line["shipping_line_id"] == ship["id"]
        expected = planned(refunds[n], settings, state)
        assert planned(converted, settings, state) == expected
        state = OrderState.model_validate(expected["state"])


def negated(money_set: dict[str, Any]) -> dict[str, Any]:
    return {
        side: {**money, "amount": f"{-Decimal(money['amount']):.2f}"}
        for side, money in money_set.items()
    }


@pytest.mark.parametrize(
    ("field", "count", "reason"),
    [
        ("transactions", REFUND_TRANSACTIONS + 1, "transactions"),
        ("order_adjustments", ORDER_ADJUSTMENTS + 1, "order adjustments"),
    ],
)
async def test_a_refund_one_read_cannot_hold_is_refused(
    shopify: Shopify, field: str, count: int, reason: str
) -> None:
    order, refunds, _ = case_of(FIXTURES / "refunds/07_goodwill_discrepancy.json")
    rest = refunds[-1]
    if field == "transactions":
        tx = load("refunds/14_paid_partial_refund_pays_back.json")["transactions"][0]
        entries = [{**tx, "id": tx["id"] + i} for i in range(count)]
    else:
        entry = rest["order_adjustments"][0]
        entries = [{**entry, "id": entry["id"] + i} for i in range(count)]
    with pytest.raises(OrderTooLarge, match=reason):
        await shopify.refund(order, [{**rest, field: entries}])
