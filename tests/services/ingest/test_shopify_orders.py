"""An order read from Shopify's Admin GraphQL plans exactly like the webhook that carried it.

Every order payload of the corpus (tests/fixtures/orders, and the full orders among the edits)
goes into the Shopify simulator, comes back through services.ingest.order_fetch over loopback
HTTP (ORDER_QUERY, line item pages, the real ShopifyAdmin client) and through the conversion
to the REST shape; the mapper's pure planner must then make the same commands and leave the
same order state as from the original REST payload: rows, amounts, VAT, accounts, currency,
rate, customer, keys and content hash.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from libs.common.errors import TransientError
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest.order_fetch import (
    OrderTooLarge,
    ShopifyRefused,
    ShopifyUnavailable,
    fetch_order,
)
from services.ingest.shopify_orders import (
    LINE_ITEMS_PER_PAGE,
    LINE_ITEMS_QUERY,
    LINE_ITEMS_QUERY_COST,
    ORDER_QUERY,
    ORDER_QUERY_COST,
    REFUND_LINE_ITEMS,
    SHIPPING_LINES,
    amount,
    local_time,
    rest_order,
    shop_zone,
)
from services.mapper.accounting import ShopSettings, UnmappableOrder, plan_event
from services.mapper.accounting.state import OrderState
from simulators.shopify import ShopifySimulator
from simulators.shopify.document import parse_operation
from simulators.shopify.schema import validate
from simulators.shopify.throttle import estimate_cost

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SHOP = "corpus.myshopify.com"
TOKEN = "simtok_orders_0001"
ORDERS = sorted(p for p in (FIXTURES / "orders").glob("*.json") if ".expected" not in p.name)
FULL_EDITS = sorted(
    p
    for p in (FIXTURES / "edits").glob("*.json")
    if ".expected" not in p.name and "line_items" in json.loads(p.read_text())
)
# A float in a REST payload is refused (fixture 36); GraphQL money is always a Decimal string.
FLOAT_MONEY = "36_float_money_refused.json"


@dataclass
class Shopify:
    sim: ShopifySimulator
    admin: ShopifyAdmin

    async def fetch(self, order: dict[str, Any]) -> dict[str, Any] | None:
        self.sim.add_order(SHOP, order)
        return await fetch_order(self.admin, SHOP, TOKEN, order["id"])


@pytest.fixture
async def shopify() -> AsyncIterator[Shopify]:
    # A Plus-sized bucket: the corpus is read back to back.
    sim = ShopifySimulator(restore_rate=1000.0, bucket_size=1000.0)
    sim.add_shop(SHOP, access_token=TOKEN)
    async with sim.serve() as base_url, aiohttp.ClientSession() as http:
        yield Shopify(sim, ShopifyAdmin(http, sim.admin_url_template(base_url), "2025-07"))


def load(path: Path | str) -> dict[str, Any]:
    full = path if isinstance(path, Path) else FIXTURES / path
    return dict(json.loads(full.read_text()))


def meta_of(path: Path) -> dict[str, Any]:
    return load(path.with_name(path.stem + ".expected.json"))


def planned(
    topic: str, payload: dict[str, Any], settings: ShopSettings, state: OrderState | None = None
) -> dict[str, Any]:
    """Everything the planner decides: its commands (in full) and the state it leaves."""
    try:
        plan = plan_event(SHOP, topic, payload, settings, state, event_uid="event-1")
    except UnmappableOrder as exc:
        return {"error": exc.message, "code": exc.code}
    except TransientError as exc:
        return {"retry": exc.message}
    return {
        "commands": [command.model_dump(mode="json") for command in plan.commands],
        "state": None if plan.state is None else plan.state.model_dump(mode="json"),
        "skipped": plan.skipped,
    }


def without_floats(value: Any) -> Any:
    """The payload as Shopify's GraphQL gives it: every float money amount a decimal string."""
    if isinstance(value, dict):
        return {
            k: (f"{v:.2f}" if isinstance(v, float) and k != "rate" else without_floats(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [without_floats(item) for item in value]
    return value


@pytest.mark.parametrize("case", ORDERS, ids=[p.name for p in ORDERS])
async def test_every_fixture_order_plans_the_same_through_graphql(
    shopify: Shopify, case: Path
) -> None:
    rest = load(case)
    fetched = await shopify.fetch(rest)
    assert fetched is not None
    case_settings = ShopSettings.model_validate(meta_of(case).get("settings", {}))
    for settings in (ShopSettings(), case_settings):
        expected = planned("orders/create", rest, settings)
        if case.name == FLOAT_MONEY:
            assert expected["code"] == "bad_money"  # the webhook's float is refused ...
            expected = planned("orders/create", without_floats(rest), settings)
            assert "commands" in expected  # ... GraphQL's decimal string is not
        assert planned("orders/create", fetched, settings) == expected


@pytest.mark.parametrize("case", FULL_EDITS, ids=[p.name for p in FULL_EDITS])
async def test_later_versions_of_an_order_plan_the_same_through_graphql(
    shopify: Shopify, case: Path
) -> None:
    """Updates, edits, refunds in the order, cancellations and payments (transactions)."""
    meta = meta_of(case)
    settings = ShopSettings.model_validate(meta.get("settings", {}))
    state: OrderState | None = None
    for step in meta.get("before", []):
        state = plan_event(SHOP, step["topic"], load(step["file"]), settings, state).state
    rest = load(case)
    fetched = await shopify.fetch(rest)
    assert fetched is not None
    expected = planned(meta["topic"], rest, settings, state)
    assert planned(meta["topic"], fetched, settings, state) == expected


async def test_the_converted_payload_has_the_webhook_shape(shopify: Shopify) -> None:
    rest = load("orders/19_presentment_eur_explicit_rate.json")
    fetched = await shopify.fetch(rest)
    assert fetched is not None
    for key in ("id", "name", "email", "currency", "presentment_currency", "taxes_included"):
        assert fetched[key] == rest[key], key
    for key in ("total_price", "current_total_price", "subtotal_price", "total_tax"):
        assert fetched[key] == rest[key], key
        assert fetched[f"{key}_set"] == rest[f"{key}_set"], key
    assert fetched["created_at"] == rest["created_at"]  # the shop's offset, like the webhook
    assert fetched["financial_status"] == "paid" and fetched["fulfillment_status"] is None
    line, rest_line = fetched["line_items"][0], rest["line_items"][0]
    for key in ("id", "variant_id", "product_id", "sku", "name", "quantity", "price", "price_set"):
        assert line[key] == rest_line[key], key
    assert line["tax_lines"][0] == {
        key: rest_line["tax_lines"][0][key]
        for key in ("title", "price", "price_set", "rate", "channel_liable")
    }
    assert (
        line["discount_allocations"][0]["amount_set"]
        == (rest_line["discount_allocations"][0]["amount_set"])
    )
    ship = fetched["shipping_lines"][0]
    assert ship["id"] == rest["shipping_lines"][0]["id"]
    assert ship["price_set"] == rest["shipping_lines"][0]["price_set"]
    assert fetched["customer"]["email"] == rest["customer"]["email"]
    assert fetched["billing_address"]["country_code"] == "SE"


async def test_absent_customer_and_addresses_come_back_null(shopify: Shopify) -> None:
    fetched = await shopify.fetch(load("orders/10_guest_null_customer_and_addresses.json"))
    assert fetched is not None
    assert fetched["customer"] is None
    assert fetched["billing_address"] is None and fetched["shipping_address"] is None


async def test_note_attributes_tags_and_refunds_come_back(shopify: Shopify) -> None:
    rest = load("orders/12_company_with_organisation_number.json")
    fetched = await shopify.fetch({**rest, "tags": "b2b, vip"})
    assert fetched is not None
    assert fetched["note_attributes"] == rest["note_attributes"]
    assert fetched["tags"] == "b2b, vip"
    refunded = load("edits/04_update_after_refund_unchanged.json")
    fetched = await shopify.fetch(refunded)
    assert fetched is not None
    [refund] = fetched["refunds"]
    [item] = refund["refund_line_items"]
    rest_item = refunded["refunds"][0]["refund_line_items"][0]
    assert (item["line_item_id"], item["quantity"]) == (
        rest_item["line_item_id"],
        rest_item["quantity"],
    )
    assert item["subtotal_set"] == rest_item["subtotal_set"]


def test_the_queries_stay_under_shopifys_cost_limit() -> None:
    for query, variables, cost in (
        (ORDER_QUERY, {"id": "gid://shopify/Order/1"}, ORDER_QUERY_COST),
        (LINE_ITEMS_QUERY, {"id": "gid://shopify/Order/1", "after": "x"}, LINE_ITEMS_QUERY_COST),
    ):
        operation = parse_operation(query, variables)
        validate(operation)  # every field exists on the simulator's Admin schema
        assert estimate_cost(operation) == cost
        assert cost < 1000


async def test_an_order_over_one_page_of_line_items_is_read_page_by_page(
    shopify: Shopify,
) -> None:
    rest = load("orders/38_over_500_rows_refused.json")
    shopify.sim.requests.clear()
    fetched = await shopify.fetch(rest)
    assert fetched is not None
    assert [line["id"] for line in fetched["line_items"]] == [
        line["id"] for line in rest["line_items"]
    ]
    pages = -(-len(rest["line_items"]) // LINE_ITEMS_PER_PAGE)
    records = shopify.sim.requests
    assert [r.operation for r in records] == ["fortbridgeOrder"] + ["fortbridgeOrderLineItems"] * (
        pages - 1
    )
    assert all(r.requested_cost < 1000 and not r.throttled for r in records)


async def test_an_order_one_read_cannot_hold_is_refused_not_cut_short(
    shopify: Shopify,
) -> None:
    rest = load("orders/25_two_shipping_lines.json")
    ship = rest["shipping_lines"][0]
    ships = [{**ship, "id": ship["id"] + i} for i in range(SHIPPING_LINES + 1)]
    with pytest.raises(OrderTooLarge, match="shipping lines"):
        await shopify.fetch({**rest, "shipping_lines": ships})
    refunded = load("edits/04_update_after_refund_unchanged.json")
    refund = refunded["refunds"][0]
    item = refund["refund_line_items"][0]
    items = [{**item, "id": item["id"] + i} for i in range(REFUND_LINE_ITEMS + 1)]
    with pytest.raises(OrderTooLarge, match="refund"):
        await shopify.fetch({**refunded, "refunds": [{**refund, "refund_line_items": items}]})


async def test_unknown_order_is_none(shopify: Shopify) -> None:
    assert await fetch_order(shopify.admin, SHOP, TOKEN, 123456789) is None


async def test_a_revoked_token_is_refused_as_revoked(shopify: Shopify) -> None:
    with pytest.raises(ShopifyRefused) as refused:
        await fetch_order(shopify.admin, SHOP, "simtok_not_the_shops", 1)
    assert refused.value.revoked


async def test_shopify_errors_and_outages_are_unavailable(shopify: Shopify) -> None:
    shopify.sim.faults.add("status", status=503, shop=SHOP)
    with pytest.raises(ShopifyUnavailable):
        await fetch_order(shopify.admin, SHOP, TOKEN, 1)
    shopify.sim.faults.add("drop", shop=SHOP)
    with pytest.raises(ShopifyUnavailable):
        await fetch_order(shopify.admin, SHOP, TOKEN, 1)
    async with aiohttp.ClientSession() as http:
        nowhere = ShopifyAdmin(http, "http://127.0.0.1:9/{shop}/{version}", "2025-07")
        with pytest.raises(ShopifyUnavailable):
            await fetch_order(nowhere, SHOP, TOKEN, 1)


def test_times_and_money_in_the_webhook_spelling() -> None:
    stockholm = shop_zone("Europe/Stockholm")
    # Just after midnight in Stockholm is the day before in UTC: the date must be the shop's.
    assert local_time("2026-11-14T23:30:00Z", stockholm) == "2026-11-15T00:30:00+01:00"
    assert local_time("2026-07-01T10:00:00Z", stockholm) == "2026-07-01T12:00:00+02:00"
    assert local_time(None, stockholm) is None
    assert shop_zone("Not/AZone") is shop_zone(None)
    assert [amount(v) for v in ("186.9", "0.0", "12", "1.005", None)] == [
        "186.90",
        "0.00",
        "12.00",
        "1.005",
        "0.00",
    ]


def test_statuses_and_missing_parts_in_rest_spelling() -> None:
    payload = rest_order(
        {
            "id": "gid://shopify/Order/42",
            "legacyResourceId": "42",
            "displayFinancialStatus": "PARTIALLY_REFUNDED",
            "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
            "currencyCode": "SEK",
            "tags": ["a", "b"],
        },
        "Europe/Stockholm",
    )
    assert payload["id"] == 42
    assert payload["financial_status"] == "partially_refunded"
    assert payload["fulfillment_status"] == "partial"
    assert payload["presentment_currency"] == "SEK"
    assert payload["tags"] == "a, b"
    assert payload["customer"] is None and payload["billing_address"] is None
    assert payload["line_items"] == [] and payload["refunds"] == []
    assert payload["total_tip_received"] == "0.00"
    unfulfilled = rest_order({"legacyResourceId": "1", "displayFulfillmentStatus": "UNFULFILLED"})
    assert unfulfilled["fulfillment_status"] is None
