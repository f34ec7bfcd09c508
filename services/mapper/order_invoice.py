"""Shopify order -> Fortnox invoice command, as pure functions: data and settings in, a plan out.

This is the walking skeleton's mapping: customer by e-mail (guests get the shop's default
customer), one row per line item with the SKU as ArticleNumber, a shipping row, VAT rates from the
tax lines, VATIncluded from taxes_included, the shop currency. The full accounting rules (OSS,
gift cards, rounding rows, refunds) are a later, separate module.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from libs.common.errors import PermanentError
from libs.common.messages import (
    ArticleDraft,
    CustomerDraft,
    DocumentDraft,
    FortnoxCommand,
    InvoiceRowDraft,
    SourceRef,
)

CENT = Decimal("0.01")
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class MappingSettings:
    """The shop's mapping choices (rules per shop replace these defaults later)."""

    guest_customer_name: str = "Shopify guest"
    shipping_description: str = "Frakt"


class UnmappableOrder(PermanentError):
    """The order cannot become a document; the message says why, in plain English."""


def money(value: Any, field: str) -> Decimal:
    """A Shopify money string as Decimal; refuse floats and garbage with the field's name."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise UnmappableOrder(f"{field} must be a decimal string, got {value!r}", code="bad_money")
    try:
        amount = Decimal(str(value))
    except ArithmeticError as exc:
        raise UnmappableOrder(f"{field} is not a number: {value!r}", code="bad_money") from exc
    if not amount.is_finite():
        raise UnmappableOrder(f"{field} is not a finite number: {value!r}", code="bad_money")
    return amount


def vat_rate(tax_lines: list[dict[str, Any]] | None, taxable: bool = True) -> Decimal:
    """The VAT percentage of a line from its tax lines (0.25 -> 25); untaxed lines are 0."""
    if not taxable or not tax_lines:
        return Decimal("0")
    total = sum((Decimal(str(line.get("rate", 0))) for line in tax_lines), Decimal("0"))
    return (total * HUNDRED).normalize()


def external_reference(order_id: str) -> str:
    """ExternalInvoiceReference1 of an order's document: searched and compared exactly."""
    return f"shopify-{order_id}"


def document_key(shop: str, order_id: str, kind: str = "invoice") -> str:
    return f"{shop}:order:{order_id}:{kind}"


def _customer(order: dict[str, Any], settings: MappingSettings) -> CustomerDraft:
    customer = order.get("customer") or {}
    email = (order.get("email") or customer.get("email") or "").strip().lower()
    billing = order.get("billing_address") or {}
    if not email:
        return CustomerDraft(
            match_key="default",
            match_value=settings.guest_customer_name,
            fields={"Name": settings.guest_customer_name, "Type": "PRIVATE"},
        )
    name = (
        billing.get("company")
        or " ".join(
            part for part in (customer.get("first_name"), customer.get("last_name")) if part
        )
        or billing.get("name")
        or email
    )
    fields: dict[str, Any] = {
        "Name": name,
        "Email": email,
        "Type": "COMPANY" if billing.get("company") else "PRIVATE",
    }
    for fortnox_field, shopify_field in (
        ("Address1", "address1"),
        ("Address2", "address2"),
        ("ZipCode", "zip"),
        ("City", "city"),
        ("CountryCode", "country_code"),
        ("Phone1", "phone"),
    ):
        if billing.get(shopify_field):
            fields[fortnox_field] = billing[shopify_field]
    return CustomerDraft(match_key="email", match_value=email, fields=fields)


def _discount(item: dict[str, Any], field: str) -> Decimal:
    allocations = item.get("discount_allocations") or []
    allocated = sum(
        (money(a.get("amount"), f"{field}.discount_allocations.amount") for a in allocations),
        Decimal("0"),
    )
    return allocated if allocations else money(item.get("total_discount", "0"), field)


def _rows(order: dict[str, Any], settings: MappingSettings) -> list[InvoiceRowDraft]:
    rows = []
    for index, item in enumerate(order.get("line_items") or []):
        field = f"line_items[{index}]"
        quantity = Decimal(str(item.get("current_quantity", item.get("quantity", 0))))
        if quantity <= 0:
            continue
        sku = (item.get("sku") or "").strip() or None
        rows.append(
            InvoiceRowDraft(
                article_number=sku,
                description=str(item.get("title") or item.get("name") or sku or "Item")[:50],
                quantity=quantity,
                price=money(item.get("price"), f"{field}.price"),
                vat=vat_rate(item.get("tax_lines"), bool(item.get("taxable", True))),
                discount=_discount(item, field),
            )
        )
    for index, line in enumerate(_shipping_lines(order)):
        field = f"shipping_lines[{index}]"
        price = money(line.get("price"), f"{field}.price")
        rows.append(
            InvoiceRowDraft(
                article_number=None,
                description=f"{settings.shipping_description}: {line.get('title') or ''}"[:50],
                quantity=Decimal("1"),
                price=price,
                vat=vat_rate(line.get("tax_lines")),
                discount=_discount(line, field) if line.get("discount_allocations") else Decimal(0),
            )
        )
    return rows


def _shipping_lines(order: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in order.get("shipping_lines") or [] if not line.get("is_removed")]


def document_total(rows: list[InvoiceRowDraft], vat_included: bool) -> Decimal:
    """The total Fortnox will compute: per-row rounding, VAT added per rate unless included."""
    total = Decimal("0")
    by_rate: dict[Decimal, Decimal] = {}
    for row in rows:
        net = (row.price * row.quantity - row.discount).quantize(CENT, ROUND_HALF_UP)
        total += net
        by_rate[row.vat] = by_rate.get(row.vat, Decimal("0")) + net
    if not vat_included:
        total += sum(
            (
                (amount * rate / HUNDRED).quantize(CENT, ROUND_HALF_UP)
                for rate, amount in by_rate.items()
            ),
            Decimal("0"),
        )
    return total


def order_to_command(
    shop: str, order: dict[str, Any], settings: MappingSettings, *, event_uid: str | None = None
) -> FortnoxCommand:
    """The create-invoice command for an orders/create payload."""
    order_id = order.get("id")
    if order_id is None or isinstance(order_id, bool | float):
        raise UnmappableOrder("the order has no integer id", code="missing_id")
    order_id = str(order_id)
    rows = _rows(order, settings)
    if len(rows) == len(_shipping_lines(order)):
        raise UnmappableOrder(
            f"order {order.get('name') or order_id} has no line items to invoice", code="no_rows"
        )
    currency = order.get("currency")
    if not currency:
        raise UnmappableOrder("the order has no currency", code="missing_currency")
    created_at = str(order.get("created_at") or "")
    articles = {
        row.article_number: ArticleDraft(
            article_number=row.article_number,
            fields={"ArticleNumber": row.article_number, "Description": row.description},
        )
        for row in rows
        if row.article_number
    }
    key = document_key(shop, order_id)
    return FortnoxCommand(
        shop=shop,
        command_id=f"{key}:v1",
        document_key=key,
        source=SourceRef(
            type="order",
            id=order_id,
            name=order.get("name"),
            updated_at=order.get("updated_at") or None,
        ),
        customer=_customer(order, settings),
        articles=list(articles.values()),
        document=DocumentDraft(
            external_reference=external_reference(order_id),
            your_order_number=str(order.get("name") or order_id)[:30],
            currency=currency,
            vat_included=bool(order.get("taxes_included")),
            document_date=created_at[:10],
            rows=rows,
        ),
        expected_total=money(
            order.get("current_total_price", order.get("total_price")), "current_total_price"
        ),
        event_uid=event_uid,
    )
