"""A bulk catalog sync's filter: at most 250 ids, each a 64-bit Shopify id, so a request can
neither make a huge Shopify query nor store a huge filter; bodies that are not JSON (including
integers past Python's digit limit) are 400, not a server error."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.catalog.routes import MAX_ID, MAX_IDS, parse_filter
from tests.conftest import StackFactory
from tests.support.stack import Stack


@pytest.mark.parametrize(
    "ids",
    [
        ["1" * 100_000],  # digits, but no Shopify id
        [str(MAX_ID + 1)],
        [0],
        [True],
        ["٣"],  # a digit, not an ASCII one
        list(range(1, MAX_IDS + 2)),
    ],
)
def test_ids_are_shopify_ids_and_few(ids: list[Any]) -> None:
    with pytest.raises(ValueError, match="ids:"):
        parse_filter({"ids": ids})


def test_good_ids_pass() -> None:
    assert parse_filter({"ids": [1, str(MAX_ID)]}) == {"ids": ["1", str(MAX_ID)]}


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest",))


async def test_an_integer_of_thousands_of_digits_is_a_bad_body(stack: Stack) -> None:
    body = '{"ids": [' + "9" * 5000 + "]}"
    async with stack.http.post(
        stack.url("ingest", "/admin/api/products/fortnox_sync.json"),
        params={"shop": stack.shop},
        data=body,
        headers={**stack.admin_headers(), "Content-Type": "application/json"},
    ) as response:
        assert response.status == 400, await response.text()
