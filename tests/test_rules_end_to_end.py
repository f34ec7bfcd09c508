"""Through all five services: the rule "orders tagged B2B become Fortnox orders with terms 30
days and cost centre WEB" changes what the Fortnox simulator receives for a tagged order, and
not for an untagged one (a normal invoice on the shop's default terms); a rule's row and
customer templates reach the invoice rows and the new customer in the simulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from fortbridge.localstack import CLIENT_ID, REDIRECT_URI
from libs.common.crypto import TokenCipher
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.switching import connect_with_code
from services.mapper.store import save_shop_settings
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

pytestmark = pytest.mark.slow

RULES = "/admin/api/integrations/fortnox/mapping_rules"
B2B_RULE = {
    "name": "B2B orders become Fortnox orders",
    "conditions": {"field": "tags", "op": "contains", "value": "B2B"},
    "actions": {"document_kind": "order", "terms_of_payment": "30", "cost_center": "WEB"},
}


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    stack = await stack_factory()
    await connect_with_order_scope(stack)
    return stack


async def connect_with_order_scope(stack: Stack) -> None:
    """The merchant consents to the order scope too (Fortnox orders live under /3/orders)."""
    scopes = ["invoice", "order", "customer", "article", "payment", "companyinformation"]
    code = stack.fortnox.issue_authorization_code(CLIENT_ID, stack.tenant_id, REDIRECT_URI, scopes)
    cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
    store = ConnectionStore(stack.pool, cipher, stack.http, stack.settings)
    await connect_with_code(
        store, stack.http, stack.settings, shop=stack.shop, code=code, redirect_uri=REDIRECT_URI
    )


def orders_for(stack: Stack, order_id: int) -> list[Any]:
    orders = stack.fortnox.tenant(stack.tenant_id).orders.values()
    return [o for o in orders if o.get("ExternalInvoiceReference1") == f"shopify-{order_id}"]


async def test_a_b2b_rule_makes_tagged_orders_fortnox_orders(stack: Stack) -> None:
    async with stack.pool.acquire() as conn:  # the shop's default terms: 10 days
        await save_shop_settings(conn, stack.shop, {"document_fields": {"TermsOfPayment": "10"}})
    async with stack.http.post(
        stack.url("mapper", f"{RULES}.json"),
        params={"shop": stack.shop},
        json={"mapping_rule": B2B_RULE},
    ) as response:
        assert response.status == 201, await response.text()

    tagged = order_payload(tags="B2B, Wholesale")
    plain = order_payload(tags="Retail")
    async with stack.http.post(
        stack.url("mapper", f"{RULES}/preview.json"),
        params={"shop": stack.shop},
        json={"order": tagged},
    ) as response:
        preview = await response.json()
    assert preview["matched_rule"]["name"] == B2B_RULE["name"]
    assert stack.fortnox.tenant(stack.tenant_id).orders == {}  # a preview sends nothing

    await stack.send_order(tagged)
    await stack.send_order(plain)
    await stack.wait_for(
        lambda: (
            len(orders_for(stack, tagged["id"])) == 1 and len(stack.invoices_for(plain["id"])) == 1
        ),
        timeout=30,
    )

    [order] = orders_for(stack, tagged["id"])
    assert order.get("TermsOfPayment") == "30"
    assert order.get("CostCenter") == "WEB"
    assert order.total == Decimal(tagged["total_price"])
    assert stack.invoices_for(tagged["id"]) == []  # an order, not an invoice

    [invoice] = stack.invoices_for(plain["id"])
    assert invoice.get("TermsOfPayment") == "10"
    assert not invoice.get("CostCenter")
    assert orders_for(stack, plain["id"]) == []
    assert await stack.failed_jobs() == []


TEMPLATE_RULE = {
    "name": "Projects per line, phone on the customer",
    "actions": {
        "row_fields": {"Project": "{{ property.project | default: 'WEB' | upcase }}", "Unit": "st"},
        "customer_fields": {
            "Phone1": "{{ billing_address.phone | digits }}",
            "Comments": "Shopify {{ name }}",
        },
    },
}


async def test_row_and_customer_templates_reach_fortnox(stack: Stack) -> None:
    async with stack.http.post(
        stack.url("mapper", f"{RULES}.json"),
        params={"shop": stack.shop},
        json={"mapping_rule": TEMPLATE_RULE},
    ) as response:
        assert response.status == 201, await response.text()
    async with stack.http.post(  # an identity field is refused, naming its path
        stack.url("mapper", f"{RULES}.json"),
        params={"shop": stack.shop},
        json={
            "mapping_rule": {"name": "x", "actions": {"customer_fields": {"CustomerNumber": "1"}}}
        },
    ) as response:
        assert response.status == 422
        refused = await response.json()
    assert refused["errors"][0]["path"] == "mapping_rule.actions.customer_fields.CustomerNumber"

    lines = [
        LineSpec("Mugg", "100.00", 1, "0.25", "MUG-1", properties=(("project", "p-42"),)),
        LineSpec("Bok", "50.00", 1, "0.06", "BOOK-1"),
    ]
    order = order_payload(lines=lines, email="templates@example.com")
    order["billing_address"]["phone"] = "+46 70-123 45 67"
    await stack.send_order(order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)

    [invoice] = stack.invoices_for(order["id"])
    rows = {row["ArticleNumber"]: row for row in invoice.rows if row.get("ArticleNumber")}
    assert rows["MUG-1"]["Project"] == "P-42" and rows["MUG-1"]["Unit"] == "st"
    assert rows["BOOK-1"]["Project"] == "WEB"
    shipping = [row for row in invoice.rows if not row.get("ArticleNumber")]
    assert shipping and all(not row.get("Project") for row in shipping)
    assert invoice.total == Decimal(order["total_price"])
    customer = stack.fortnox.tenant(stack.tenant_id).customers[invoice.get("CustomerNumber")]
    assert customer.fields["Phone1"] == "46701234567"
    assert customer.fields["Comments"] == f"Shopify {order['name']}"
    assert customer.fields["Email"] == "templates@example.com"
    assert await stack.failed_jobs() == []


async def test_a_template_too_costly_for_one_order_fails_that_order_only(stack: Stack) -> None:
    """Issue 12 at run time: a rule whose template grows on orders with a certain PO saves
    (harmless on the sample order); such an order becomes a failed job that names the rule, the
    field and the cap, and the shop's other order is invoiced as usual."""
    template = "{{ note_attributes | where: 'name', 'PO' | map: 'value' | first" + (
        " | replace: 'Z', 'ZZZZZZZZZZ'" * 6 + " }}"
    )
    rule = {"name": "PO in remarks", "actions": {"fields": {"Remarks": template}}}
    async with stack.http.post(
        stack.url("mapper", f"{RULES}.json"),
        params={"shop": stack.shop},
        json={"mapping_rule": rule},
    ) as response:
        assert response.status == 201, await response.text()
    costly = order_payload()
    costly["note_attributes"] = [{"name": "PO", "value": "ZZZZ"}]
    fine = order_payload()
    fine["note_attributes"] = [{"name": "PO", "value": "4711"}]
    await stack.send_order(costly)
    await stack.send_order(fine)

    await stack.wait_for(lambda: len(stack.invoices_for(fine["id"])) == 1, timeout=30)
    [invoice] = stack.invoices_for(fine["id"])
    assert invoice.get("Remarks") == "4711"
    found: list[dict[str, Any]] = []
    for _ in range(100):
        found = await stack.failed_jobs()
        if found:
            break
        await asyncio.sleep(0.2)
    [job] = found
    assert job["object"]["id"] == str(costly["id"]) and job["service"] == "mapper"
    assert job["error_code"] == "template_limit"
    assert job["cause"]["title"] == "A mapping rule's template is too costly for the order"
    assert (
        "'PO in remarks'" in job["explanation"] and "actions.fields.Remarks" in job["explanation"]
    )
    assert "would make a text of" in job["explanation"]
    assert stack.invoices_for(costly["id"]) == []
