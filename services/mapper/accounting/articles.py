"""SKU -> Fortnox article number, by a documented, reversible rule.

Fortnox article numbers are at most 50 characters; this rule keeps only characters every Fortnox
company accepts: ASCII letters, digits, ``-`` and ``.``. Every other character (including ``_``
itself, spaces, å ä ö, ``/``) becomes ``_`` followed by the two upper-case hex digits of each of
its UTF-8 bytes: ``"Mugg blå/L"`` -> ``"Mugg_20bl_C3_A5_2FL"``. Because ``_`` is always escaped,
``sku_from_article_number`` gives back the exact SKU. Most SKUs pass unchanged. The rule itself
lives in ``libs/common/article_numbers.py`` (ingest's inventory sync uses it too).
"""

from __future__ import annotations

from typing import Any

from libs.common.article_numbers import MAX_LENGTH, article_number, sku_from_article_number
from libs.common.messages import ArticleDraft
from services.mapper.accounting.money import UnmappableOrder
from services.mapper.accounting.settings import ShopSettings

__all__ = [
    "MAX_LENGTH",
    "article_draft",
    "article_number",
    "line_article",
    "sku_from_article_number",
]


def line_article(item: dict[str, Any], settings: ShopSettings, where: str) -> str | None:
    """The article number of a line item per the shop's SKU policy (None: a row without one)."""
    sku = _source_value(item, settings)
    if sku:
        number = article_number(sku)
    elif settings.sku_policy == "fail":
        raise UnmappableOrder(
            f"{where} ({item.get('title') or 'untitled'}) has no SKU and the shop's policy is to "
            "refuse lines without SKU",
            code="missing_sku",
        )
    elif settings.sku_policy == "variant_id" and item.get("variant_id") is not None:
        number = f"V{item['variant_id']}"
    else:
        return None
    if len(number) > MAX_LENGTH:
        raise UnmappableOrder(
            f"{where} has SKU {sku!r}, which is longer than Fortnox's {MAX_LENGTH}-character "
            "article number once encoded",
            code="sku_too_long",
        )
    return number


def _source_value(item: dict[str, Any], settings: ShopSettings) -> str:
    """The line's value from the shop's article number source (empty: fall back)."""
    source = settings.article_number_source
    if source == "sku":
        return str(item.get("sku") or "").strip()
    if source == "variant_id":
        value = item.get("variant_id")
        return "" if value is None else f"V{value}"
    if source == "barcode":
        return str(item.get("barcode") or "").strip()
    key = (settings.article_metafield or "").strip().lower()
    for entry in [*(item.get("properties") or []), *(item.get("metafields") or [])]:
        if isinstance(entry, dict):
            name = str(entry.get("key") or entry.get("name") or "").strip().lower()
            if name == key and str(entry.get("value") or "").strip():
                return str(entry["value"]).strip()
    return ""


def article_draft(number: str, description: str) -> ArticleDraft:
    return ArticleDraft(
        article_number=number,
        fields={"ArticleNumber": number, "Description": description},
    )
