"""The status written to the order's metafield stays small whatever an error brings."""

from __future__ import annotations

import json

from libs.common.messages import SourceRef, SyncResult
from services.timeline.handler import MAX_STATUS_MESSAGE, describe, status_message
from simulators.shopify.metafields import value_limit


def result(message: str) -> SyncResult:
    return SyncResult(
        shop="s.myshopify.com",
        command_id="c1",
        document_key="shopify-order-1",
        source=SourceRef(type="order", id="1"),
        status="failed",
        error_code="2000428",
        error_message=message,
    )


def test_a_short_message_is_kept_whole() -> None:
    failed = result("Kunden finns inte")
    assert status_message(failed) == describe(failed)


def test_a_huge_error_message_is_cut_before_it_reaches_the_metafield() -> None:
    failed = result("ö" * 200_000)
    text = status_message(failed)
    assert len(text) == MAX_STATUS_MESSAGE and text.endswith("…")
    assert len(json.dumps({"message": text}).encode()) < value_limit("json")
