"""The shop settings admin API on the running mapper (real PostgreSQL and RabbitMQ): versioned
changes with optimistic concurrency and history, 422s listing every problem with its field, and
a preview of a draft beside the saved settings."""

from __future__ import annotations

from typing import Any

import pytest

from services.mapper.rules.store import save_order_payload
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

SETTINGS = "/admin/api/integrations/fortnox/settings.json"
PREVIEW = "/admin/api/integrations/fortnox/settings/preview.json"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("mapper",))


async def call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with stack.http.request(
        method, stack.url("mapper", path), json=body, params={"shop": stack.shop}
    ) as response:
        return response.status, await response.json()


async def history(stack: Stack) -> list[tuple[int, str]]:
    rows = await stack.pool.fetch(
        "SELECT version, change FROM mapper.shop_settings_versions WHERE shop = $1"
        " ORDER BY version",
        stack.shop,
    )
    return [(row["version"], row["change"]) for row in rows]


async def test_a_shop_that_never_changed_its_settings_reads_the_defaults(stack: Stack) -> None:
    status, body = await call(stack, "GET", SETTINGS)
    assert status == 200, body
    assert body["version"] == 0 and body["updated_by"] is None
    assert body["settings"] == body["defaults"]
    assert body["settings"]["document_kind"] == "invoice"
    assert body["settings"]["trigger"] == "create"
    assert body["settings"]["accounts"]["sweden"] == {"25": 3001, "12": 3002, "6": 3003, "0": 3004}
    assert body["settings"]["payment_modes"]["klarna"] == "KLARNA"
    assert "company_keys" not in body["settings"]  # internal settings are not the merchant's


async def test_a_change_makes_a_new_version_kept_in_the_history(stack: Stack) -> None:
    change = {
        "document_kind": "order",
        "trigger": "paid",
        "bookkeep_invoices": True,
        "accounts": {"eu_vat": 3107},
        "payment_modes": {"klarna": "KLARNA2", "swish": "SWISH"},
    }
    status, body = await call(stack, "PUT", SETTINGS, {"settings": change, "version": 0})
    assert status == 200, body
    assert body["version"] == 1 and body["updated_by"] == "operator"
    settings = body["settings"]
    assert (settings["document_kind"], settings["trigger"]) == ("order", "paid")
    assert settings["bookkeep_invoices"] is True
    assert settings["accounts"]["eu_vat"] == 3107
    assert settings["accounts"]["sweden"]["25"] == 3001  # an account left out keeps its value
    assert settings["payment_modes"] == {"klarna": "KLARNA2", "swish": "SWISH"}  # replaced whole

    # Field by field: a second change keeps the first one's other fields.
    second = {"settings": {"accounts": {"sweden": {"25": 3011}}}, "version": 1}
    status, body = await call(stack, "PUT", SETTINGS, second)
    assert status == 200, body
    assert body["version"] == 2
    assert body["settings"]["accounts"]["sweden"] == {"25": 3011}
    assert body["settings"]["accounts"]["eu_vat"] == 3107
    assert body["settings"]["document_kind"] == "order"
    assert await history(stack) == [
        (1, "update accounts, bookkeep_invoices, document_kind, payment_modes, trigger"),
        (2, "update accounts"),
    ]
    status, read = await call(stack, "GET", SETTINGS)
    assert read["version"] == 2 and read["settings"] == body["settings"]


async def test_a_change_from_a_stale_version_is_refused_and_nothing_is_written(
    stack: Stack,
) -> None:
    status, _ = await call(stack, "PUT", SETTINGS, {"settings": {"trigger": "paid"}, "version": 0})
    assert status == 200
    # Someone else read version 0 too and saves after the first change.
    status, body = await call(
        stack, "PUT", SETTINGS, {"settings": {"document_kind": "none"}, "version": 0}
    )
    assert status == 409, body
    assert "version 1" in body["error"] and "nothing was saved" in body["error"]
    assert body["version"] == 1 and body["settings"]["trigger"] == "paid"
    status, read = await call(stack, "GET", SETTINGS)
    assert read["version"] == 1 and read["settings"]["document_kind"] == "invoice"
    assert [version for version, _ in await history(stack)] == [1]


async def test_every_problem_is_listed_with_its_field_and_nothing_is_stored(stack: Stack) -> None:
    bad = {
        "trigger": "shipped",
        "accounts": {"eu_vat": 12, "sweden": {"25": 3001, "abc": 3002}},
        "payment_modes": {"klarna": ""},
        "guest_customer_name": "",
        "document_kind": None,
        "colour": "blue",
    }
    status, body = await call(stack, "PUT", SETTINGS, {"settings": bad})
    assert status == 422, body
    paths = {problem["path"] for problem in body["errors"]}
    assert {
        "version",
        "settings.trigger",
        "settings.accounts.eu_vat",
        "settings.accounts.sweden",
        "settings.guest_customer_name",
        "settings.colour",
    } <= paths
    assert all(problem["message"] for problem in body["errors"])
    # Only type problems are found before the nulls and gateways are checked: fix those first.
    status, body = await call(
        stack,
        "PUT",
        SETTINGS,
        {"settings": {"document_kind": None, "payment_modes": {"klarna": ""}}, "version": 0},
    )
    assert status == 422, body
    assert {p["path"] for p in body["errors"]} == {
        "settings.document_kind",
        "settings.payment_modes.klarna",
    }
    assert await history(stack) == []
    too_many = {"payment_modes": {f"gateway{n}": "KORT" for n in range(51)}}
    status, body = await call(stack, "PUT", SETTINGS, {"settings": too_many, "version": 0})
    assert status == 422 and body["errors"][0]["path"] == "settings.payment_modes"
    rates = {"accounts": {"sweden": {str(n): 3001 for n in range(21)}}}
    status, body = await call(stack, "PUT", SETTINGS, {"settings": rates, "version": 0})
    assert status == 422 and body["errors"][0]["path"] == "settings.accounts.sweden"


async def test_a_combination_that_cannot_work_is_refused_by_its_field(stack: Stack) -> None:
    status, body = await call(
        stack, "PUT", SETTINGS, {"settings": {"article_number_source": "metafield"}, "version": 0}
    )
    assert status == 422, body
    assert [p["path"] for p in body["errors"]] == ["settings.article_metafield"]
    change = {"article_number_source": "metafield", "article_metafield": "fortnox_article"}
    status, body = await call(stack, "PUT", SETTINGS, {"settings": change, "version": 0})
    assert status == 200, body
    # Shipping on the goods' account is a null the merchant may choose.
    change = {"accounts": {"shipping": None}}
    status, body = await call(stack, "PUT", SETTINGS, {"settings": change, "version": 1})
    assert status == 200 and body["settings"]["accounts"]["shipping"] is None


async def test_the_preview_shows_what_a_draft_changes_before_it_is_saved(stack: Stack) -> None:
    order = order_payload(lines=[LineSpec("Kaffe", "89.00", 1, "0.25", "COFFEE")])
    order["payment_gateway_names"] = ["klarna"]
    await save_order_payload(stack.pool, stack.shop, str(order["id"]), "orders/create", order)
    draft = {
        "document_kind": "order",
        "accounts": {"sweden": {"25": 3011}},
        "payment_modes": {"klarna": "KLARNA-FAKTURA"},
    }
    status, body = await call(
        stack, "POST", PREVIEW, {"settings": draft, "order_id": str(order["id"])}
    )
    assert status == 200, body
    assert body["saved"]["document_kind"] == "invoice" and body["draft"]["document_kind"] == "order"
    assert body["saved"]["payment_modes"] == {"klarna": "KLARNA"}
    assert body["draft"]["payment_modes"] == {"klarna": "KLARNA-FAKTURA"}
    changes = {change["path"]: (change["saved"], change["draft"]) for change in body["changes"]}
    assert changes["document_kind"] == ("invoice", "order")
    assert changes["documents[0].document.rows[0].account_number"] == (3001, 3011)
    assert changes["payment_modes.klarna"] == ("KLARNA", "KLARNA-FAKTURA")
    assert "documents[0].document.rows[0].price" not in changes  # unchanged values are not listed
    # Nothing was saved.
    status, read = await call(stack, "GET", SETTINGS)
    assert read["version"] == 0 and read["settings"]["document_kind"] == "invoice"
    # A draft with problems is refused like a change, by field.
    status, body = await call(
        stack, "POST", PREVIEW, {"settings": {"trigger": "later"}, "order": order}
    )
    assert status == 422 and body["errors"][0]["path"] == "settings.trigger"
    status, body = await call(stack, "POST", PREVIEW, {"settings": {}, "order_id": "42"})
    assert status == 404


async def test_payout_accounts_are_validated_and_changed_field_by_field(stack: Stack) -> None:
    status, body = await call(stack, "GET", SETTINGS)
    assert body["settings"]["payouts"]["enabled"] is False
    assert body["settings"]["payouts"]["clearing_account"] == 1580
    bad = {"payouts": {"fee_account": 64, "voucher_series": "A B", "bank_account": None}}
    status, body = await call(stack, "PUT", SETTINGS, {"settings": bad, "version": 0})
    assert status == 422, body
    assert {p["path"] for p in body["errors"]} == {
        "settings.payouts.fee_account",
        "settings.payouts.voucher_series",
    }
    change = {"payouts": {"enabled": True, "fee_account": 6570}}
    status, body = await call(stack, "PUT", SETTINGS, {"settings": change, "version": 0})
    assert status == 200, body
    change = {"payouts": {"bank_account": 1940}}
    status, body = await call(stack, "PUT", SETTINGS, {"settings": change, "version": 1})
    assert status == 200, body
    payouts = body["settings"]["payouts"]
    assert (payouts["enabled"], payouts["fee_account"], payouts["bank_account"]) == (
        True,
        6570,
        1940,
    )
    status, body = await call(
        stack, "PUT", SETTINGS, {"settings": {"payouts": {"bank_account": None}}, "version": 2}
    )
    assert status == 422 and body["errors"][0]["path"] == "settings.payouts.bank_account"
