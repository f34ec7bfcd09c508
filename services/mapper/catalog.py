"""Products and customers to Fortnox articles and customers (webhooks and bulk syncs).

A product becomes one ``sync_articles`` command holding an article per variant (article number
by the shop's SKU rule, see accounting/articles.py); a customer becomes one ``sync_customer``
command (matched by e-mail or organisation number, like an order's customer). Each command's
key names the object's version (its updated_at), so each version is written once. Prices and
stock are not written here: Fortnox takes sales prices from price lists, and stock direction is
the merchant's choice (see docs/accounting.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from libs.common.messages import (
    ArticleDraft,
    FortnoxCommand,
    ShopifyEvent,
    SourceRef,
    SyncResult,
)
from libs.common.tracing import current_trace_id
from services.mapper.accounting.articles import MAX_LENGTH, article_number
from services.mapper.accounting.customers import customer_draft
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.vat import market_for

CATALOG_TOPICS = frozenset(
    {"products/create", "products/update", "customers/create", "customers/update"}
)
MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class CatalogPlan:
    command: FortnoxCommand | None
    skipped: str | None = None
    source: SourceRef | None = None


def _variant_number(variant: dict[str, Any], settings: ShopSettings) -> str | None:
    sku = str(variant.get("sku") or "").strip()
    if sku:
        number = article_number(sku)
    elif settings.sku_policy == "variant_id" and variant.get("id") is not None:
        number = f"V{variant['id']}"
    else:
        return None
    return number if len(number) <= MAX_LENGTH else None


def _description(product: dict[str, Any], variant: dict[str, Any]) -> str:
    title = str(product.get("title") or "").strip()
    variant_title = str(variant.get("title") or "").strip()
    if variant_title and variant_title != "Default Title":
        title = f"{title} - {variant_title}" if title else variant_title
    return (title or f"Shopify variant {variant.get('id')}")[:MAX_DESCRIPTION]


def plan_product(
    shop: str, payload: dict[str, Any], settings: ShopSettings, event: ShopifyEvent
) -> CatalogPlan:
    source = SourceRef(type="product", id=payload["id"], name=payload.get("title"), updated_at=None)
    articles: dict[str, ArticleDraft] = {}
    left_out = 0
    for variant in payload.get("variants") or []:
        number = _variant_number(variant, settings)
        if number is None:
            left_out += 1
            continue
        fields: dict[str, Any] = {
            "ArticleNumber": number,
            "Description": _description(payload, variant),
        }
        barcode = str(variant.get("barcode") or "").strip()
        if barcode.isdigit() and len(barcode) in (8, 12, 13, 14):
            fields["EAN"] = barcode
        articles.setdefault(number, ArticleDraft(article_number=number, fields=fields))
    if not articles:
        reason = "no variant has a SKU (or a usable variant id) to make an article number from"
        return CatalogPlan(None, skipped=reason, source=source)
    version = payload.get("updated_at") or event.event_uid
    command = FortnoxCommand(
        shop=shop,
        command_id=f"{shop}:product:{payload['id']}:articles:{version}:{event.event_uid}",
        action="sync_articles",
        document_key=f"{shop}:product:{payload['id']}:articles:{version}",
        source=source,
        articles=list(articles.values()),
        event_uid=event.event_uid,
        batch_id=event.batch_id,
    )
    skipped = f"{left_out} variant(s) without SKU left out" if left_out else None
    return CatalogPlan(command, skipped=skipped, source=source)


def plan_customer(
    shop: str, payload: dict[str, Any], settings: ShopSettings, event: ShopifyEvent
) -> CatalogPlan:
    name = " ".join(str(p) for p in (payload.get("first_name"), payload.get("last_name")) if p)
    source = SourceRef(type="customer", id=payload["id"], name=name or None)
    address = dict(payload.get("default_address") or {})
    order_like = {"email": payload.get("email"), "customer": payload, "billing_address": address}
    draft = customer_draft(order_like, settings, "sweden")
    if draft.match_key == "default":
        return CatalogPlan(None, skipped="the customer has no e-mail address", source=source)
    company = address.get("company")
    vat_number = draft.fields.get("VATNumber")
    market = market_for(address.get("country_code"), settings.home_country, False, vat_number)
    draft = customer_draft(order_like, settings, market)
    if company and "Type" in draft.fields:
        draft = draft.model_copy(update={"fields": {**draft.fields, "Type": "COMPANY"}})
    version = payload.get("updated_at") or event.event_uid
    command = FortnoxCommand(
        shop=shop,
        command_id=f"{shop}:customer:{payload['id']}:customer:{version}:{event.event_uid}",
        action="sync_customer",
        document_key=f"{shop}:customer:{payload['id']}:customer:{version}",
        source=source,
        customer=draft,
        event_uid=event.event_uid,
        batch_id=event.batch_id,
    )
    return CatalogPlan(command, source=source)


def plan_catalog_event(event: ShopifyEvent, settings: ShopSettings) -> CatalogPlan:
    """The command for a product or customer event (pure)."""
    if not isinstance(event.payload.get("id"), int):
        return CatalogPlan(None, skipped=f"the {event.topic} event names no numeric id")
    if event.topic.startswith("products/"):
        return plan_product(event.shop, event.payload, settings, event)
    return plan_customer(event.shop, event.payload, settings, event)


def skipped_result(event: ShopifyEvent, plan: CatalogPlan) -> SyncResult | None:
    """A result for a skipped item of a bulk sync, so the sync's progress counts it."""
    if event.batch_id is None or plan.source is None:
        return None
    product = plan.source.type == "product"
    return SyncResult(
        shop=event.shop,
        command_id=f"{event.shop}:{plan.source.type}:{plan.source.id}:skipped",
        document_key=f"{event.shop}:{plan.source.type}:{plan.source.id}:skipped",
        source=plan.source,
        status="skipped",
        action="sync_articles" if product else "sync_customer",
        document_kind="article" if product else "customer",
        explanation=plan.skipped,
        trace_id=current_trace_id(),
        batch_id=event.batch_id,
    )
