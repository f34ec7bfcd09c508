"""Products and customers to writer commands (pure): article numbers, versions, skips."""

from __future__ import annotations

from typing import Any

from libs.common.messages import ShopifyEvent, utcnow
from services.mapper.accounting import ShopSettings
from services.mapper.catalog import plan_catalog_event, skipped_result

SHOP = "demo.myshopify.com"


def event(topic: str, payload: dict[str, Any], batch_id: str | None = None) -> ShopifyEvent:
    return ShopifyEvent(
        shop=SHOP,
        event_uid="uid-1",
        topic=topic,
        webhook_id="wh-1",
        received_at=utcnow(),
        payload=payload,
        batch_id=batch_id,
    )


def product(variants: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": 7_000_000_000_001,
        "title": "Mugg",
        "updated_at": "2026-11-20T10:00:00+01:00",
        "variants": variants,
    }


def test_each_variant_becomes_an_article_with_the_reversible_sku_rule() -> None:
    plan = plan_catalog_event(
        event(
            "products/update",
            product(
                [
                    {"id": 1, "sku": "MUGG blå/L", "title": "L", "barcode": "7350000000019"},
                    {"id": 2, "sku": "MUGG-S", "title": "S", "barcode": "n/a"},
                ]
            ),
        ),
        ShopSettings(),
    )
    assert plan.command is not None and plan.skipped is None
    command = plan.command
    assert command.action == "sync_articles"
    assert [a.article_number for a in command.articles] == ["MUGG_20bl_C3_A5_2FL", "MUGG-S"]
    assert command.articles[0].fields == {
        "ArticleNumber": "MUGG_20bl_C3_A5_2FL",
        "Description": "Mugg - L",
        "EAN": "7350000000019",
    }
    assert "EAN" not in command.articles[1].fields
    # The key names the product's version: the same version is written once.
    assert command.document_key.endswith(":articles:2026-11-20T10:00:00+01:00")


def test_variants_without_sku_follow_the_shop_policy() -> None:
    variants = [{"id": 5, "sku": "", "title": "Default Title"}]
    by_id = plan_catalog_event(event("products/create", product(variants)), ShopSettings())
    assert by_id.command is not None
    assert [a.article_number for a in by_id.command.articles] == ["V5"]
    strict = ShopSettings(sku_policy="no_article")
    skipped = plan_catalog_event(
        event("products/create", product(variants), batch_id="b-1"), strict
    )
    assert skipped.command is None
    assert skipped.skipped and "SKU" in skipped.skipped
    result = skipped_result(event("products/create", product(variants), "b-1"), skipped)
    assert result is not None
    assert (result.status, result.batch_id, result.document_kind) == ("skipped", "b-1", "article")
    # Outside a bulk sync a skip needs no result.
    assert skipped_result(event("products/create", product(variants)), skipped) is None


def test_customers_match_by_email_with_vat_type_by_country() -> None:
    german_company = {
        "id": 8_000_000_000_001,
        "email": "Einkauf@Example.DE",
        "first_name": "Eva",
        "last_name": "Muster",
        "updated_at": "2026-11-20T10:00:00+01:00",
        "default_address": {"company": "Muster GmbH", "country_code": "DE", "city": "Berlin"},
    }
    plan = plan_catalog_event(event("customers/update", german_company), ShopSettings())
    assert plan.command is not None and plan.command.customer is not None
    customer = plan.command.customer
    assert (customer.match_key, customer.match_value) == ("email", "einkauf@example.de")
    assert customer.fields["Type"] == "COMPANY"
    assert customer.fields["VATType"] == "EUVAT"
    assert plan.command.action == "sync_customer"
    no_email = {**german_company, "email": None}
    skipped = plan_catalog_event(event("customers/update", no_email), ShopSettings())
    assert skipped.command is None and skipped.skipped == "the customer has no e-mail address"
