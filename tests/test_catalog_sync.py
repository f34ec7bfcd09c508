"""Bulk product and customer syncs through the running stack: pages, progress, articles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StackFactory
from tests.support.stack import Stack

PRODUCT_BASE = 7_000_000_000_000
CUSTOMER_BASE = 8_000_000_000_000


def product(n: int, *, variants: int = 1, sku: bool = True) -> dict[str, Any]:
    product_id = PRODUCT_BASE + n
    return {
        "id": product_id,
        "title": f"Mugg {n}",
        "status": "active",
        "tags": "",
        "created_at": "2026-11-01T10:00:00+01:00",
        "updated_at": "2026-11-20T10:00:00+01:00",
        "variants": [
            {
                "id": product_id * 10 + v,
                "product_id": product_id,
                "title": "Default Title" if variants == 1 else f"Storlek {v}",
                "sku": f"MUG-{n}-{v}" if sku else "",
                "barcode": None,
                "price": "149.00",
                "taxable": True,
                "position": v + 1,
            }
            for v in range(variants)
        ],
    }


def customer(n: int, *, email: bool = True) -> dict[str, Any]:
    return {
        "id": CUSTOMER_BASE + n,
        "email": f"kund{n}@example.com" if email else None,
        "first_name": "Kund",
        "last_name": str(n),
        "created_at": "2026-11-01T10:00:00+01:00",
        "updated_at": "2026-11-20T10:00:00+01:00",
        "tags": "",
        "default_address": {"country_code": "SE", "city": "Lund", "zip": "22100"},
    }


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest", "mapper", "fortnox_writer"))


async def call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with stack.http.request(
        method, stack.url("ingest", path), params={"shop": stack.shop}, json=body
    ) as response:
        return response.status, await response.json()


async def finished(stack: Stack, kind: str) -> dict[str, Any]:
    result: dict[str, Any] = {}

    async def done() -> bool:
        status, body = await call(stack, "GET", f"/admin/api/{kind}/fortnox_sync_status.json")
        assert status == 200, body
        result.update(body["fortnox_sync"])
        return bool(result["status"] != "running")

    await stack.wait_for(done, timeout=90)
    return result


async def test_product_sync_makes_one_article_per_variant_and_counts_progress(
    stack: Stack,
) -> None:
    for n in range(12):
        stack.shopify.add_product(stack.shop, product(n))
    stack.shopify.add_product(stack.shop, product(90, variants=2))
    stack.shopify.add_product(stack.shop, product(91, variants=0))
    status, body = await call(stack, "POST", "/admin/api/products/fortnox_sync.json")
    assert status == 202, body
    assert body["fortnox_sync"]["status"] == "running"
    again, conflict = await call(stack, "POST", "/admin/api/products/fortnox_sync.json")
    assert again == 409
    assert conflict["fortnox_sync"]["id"] == body["fortnox_sync"]["id"]

    job = await finished(stack, "products")
    assert job["status"] == "finished"
    assert (job["total"], job["done"], job["skipped"], job["failed"]) == (14, 13, 1, 0)
    articles = stack.fortnox.tenant(stack.tenant_id).articles
    expected = {f"MUG-{n}-0" for n in range(12)} | {"MUG-90-0", "MUG-90-1"}
    assert set(articles) == expected
    assert articles["MUG-90-1"].fields["Description"] == "Mugg 90 - Storlek 1"
    # One list call to learn which articles exist, then one call per article.
    calls = [r for r in stack.fortnox.requests_for(stack.tenant_id) if "/3/articles" in r.path]
    assert len(calls) == len(expected) + 1


async def test_a_second_sync_of_the_same_catalog_writes_nothing_again(stack: Stack) -> None:
    for n in range(3):
        stack.shopify.add_product(stack.shop, product(n))
    await call(stack, "POST", "/admin/api/products/fortnox_sync.json")
    first = await finished(stack, "products")
    assert first["done"] == 3
    writes = len(stack.fortnox.requests_for(stack.tenant_id))
    status, _ = await call(stack, "POST", "/admin/api/products/fortnox_sync.json", {"ids": []})
    assert status == 422
    await call(stack, "POST", "/admin/api/products/fortnox_sync.json")
    second = await finished(stack, "products")
    assert second["id"] != first["id"]
    assert second["done"] == 3
    assert len(stack.fortnox.requests_for(stack.tenant_id)) == writes


async def test_customer_sync_by_ids(stack: Stack) -> None:
    for n in range(4):
        stack.shopify.add_customer(stack.shop, customer(n))
    stack.shopify.add_customer(stack.shop, customer(9, email=False))
    ids = [CUSTOMER_BASE + 1, CUSTOMER_BASE + 2, CUSTOMER_BASE + 9]
    status, body = await call(stack, "POST", "/admin/api/customers/fortnox_sync.json", {"ids": ids})
    assert status == 202, body
    job = await finished(stack, "customers")
    assert (job["total"], job["done"], job["skipped"]) == (3, 2, 1)
    customers = stack.fortnox.tenant(stack.tenant_id).customers.values()
    emails = {c.fields.get("Email") for c in customers}
    assert {"kund1@example.com", "kund2@example.com"} <= emails
    assert "kund0@example.com" not in emails


async def test_status_before_any_sync_is_404_and_bad_filters_are_422(stack: Stack) -> None:
    status, _ = await call(stack, "GET", "/admin/api/customers/fortnox_sync_status.json")
    assert status == 404
    for body in ({"ids": ["abc"]}, {"updated_since": "yesterday"}, {"ids": "1"}, [1]):
        status, error = await call(stack, "POST", "/admin/api/products/fortnox_sync.json", body)
        assert status == 422, body
        reasons = {"ids", "updated_since", "the body must be a JSON object"}
        assert error["error"].split(":")[0] in reasons
