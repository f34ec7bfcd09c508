"""A Shopify order's current content as invoice rows (pure; the planner adds keys and state).

One row per line item (quantity = current quantity plus what refunds took away, because
refunds are credited separately and never change the invoice), with its discount allocations
(line and order-level discounts) as an AMOUNT discount; gift cards sold on the liability
account without VAT; one row per duty; shipping as rows or Freight; the tip as a VAT-free row.
Prices are in the document's price basis: VAT included exactly when Shopify's taxes_included.
A product row also carries the rules' row fields for its line item (``settings.line_fields``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from libs.common.messages import CustomerDraft
from services.mapper.accounting.articles import line_article
from services.mapper.accounting.customers import (
    company_details,
    customer_draft,
    destination_country,
)
from services.mapper.accounting.money import (
    ZERO,
    Pricing,
    UnmappableOrder,
    cents,
    pricing_for,
    quantity,
)
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import RowState
from services.mapper.accounting.totals import FREIGHT_VAT, row_amount
from services.mapper.accounting.vat import Market, market_for, sales_account, vat_rate
from services.mapper.accounting.vat_numbers import VatCheck, vat_charged

DESCRIPTION_LENGTH = 50


@dataclass(frozen=True)
class OrderContent:
    rows: list[RowState]
    target: Decimal = field(metadata={"doc": "Shopify's total in the document currency."})
    pricing: Pricing
    market: Market
    customer: CustomerDraft
    vat_included: bool
    notices: tuple[str, ...] = ()

    @property
    def freight(self) -> Decimal:
        return sum((r.amount for r in self.rows if r.freight), ZERO)


def _text(value: Any, fallback: str) -> str:
    return (str(value or "").strip() or fallback)[:DESCRIPTION_LENGTH]


def _sum(pricing: Pricing, entries: Iterable[dict[str, Any]], name: str, where: str) -> Decimal:
    return sum(
        (pricing.amount(entry, name, f"{where}[{i}]") for i, entry in enumerate(entries)), ZERO
    )


def line_key(item: dict[str, Any], index: int) -> str:
    """The row key of a line item: ``line:<line item id>`` (its index without an id)."""
    return f"line:{item.get('id', index)}"


def refunded_quantities(order: dict[str, Any]) -> dict[str, Decimal]:
    """Line item id -> quantity taken away by the refunds the payload lists."""
    out: dict[str, Decimal] = {}
    for refund in order.get("refunds") or []:
        for entry in refund.get("refund_line_items") or []:
            key = str(entry.get("line_item_id"))
            out[key] = out.get(key, ZERO) + quantity(entry.get("quantity"), "refund quantity")
    return out


def _line_rows(
    order: dict[str, Any],
    settings: ShopSettings,
    pricing: Pricing,
    market: Market,
    original: bool,
) -> list[RowState]:
    refunded = refunded_quantities(order)
    accounts = settings.accounts
    rows: list[RowState] = []
    for index, item in enumerate(order.get("line_items") or []):
        where = f"line_items[{index}]"
        ordered = quantity(item.get("quantity"), f"{where}.quantity")
        current = item.get("current_quantity")
        count = (
            ordered
            if current is None or original
            else quantity(current, f"{where}.current_quantity")
        )
        count = min(ordered, count + refunded.get(str(item.get("id")), ZERO))
        if count <= 0:
            continue
        price = pricing.amount(item, "price", where)
        allocations = item.get("discount_allocations") or []
        if allocations:
            discount = _sum(pricing, allocations, "amount", f"{where}.discount_allocations")
        else:
            discount = pricing.amount(item, "total_discount", where, default="0")
        tax = _sum(pricing, item.get("tax_lines") or [], "price", f"{where}.tax_lines")
        if count != ordered:  # an edit removed some: the discount and tax shrink in proportion
            discount, tax = cents(discount * count / ordered), cents(tax * count / ordered)
        title = item.get("name") or item.get("title")
        key = line_key(item, index)
        if item.get("gift_card"):
            rows.append(
                RowState(
                    key=key,
                    kind="gift_card",
                    description=_text(
                        title if "presentkort" in str(title).lower() else f"Presentkort {title}",
                        "Presentkort",
                    ),
                    account=accounts.gift_card_liability,
                    vat=ZERO,
                    price=price,
                    quantity=count,
                    discount=discount,
                    amount=row_amount(price, count, discount),
                    tax=tax,
                )
            )
            continue
        rate = vat_rate(item.get("tax_lines"), bool(item.get("taxable", True)))
        rows.append(
            RowState(
                key=key,
                kind="line",
                description=_text(title, "Artikel"),
                article_number=line_article(item, settings, where),
                account=sales_account(accounts, market, rate),
                vat=rate,
                price=price,
                quantity=count,
                discount=discount,
                amount=row_amount(price, count, discount),
                tax=tax,
                fields=settings.line_fields.get(key, {}),
            )
        )
        for d_index, duty in enumerate(item.get("duties") or []):
            d_where = f"{where}.duties[{d_index}]"
            amount = pricing.set_amount(duty.get("price_set"), f"{d_where}.price_set")
            rows.append(
                RowState(
                    key=f"duty:{duty.get('id', f'{index}-{d_index}')}",
                    kind="duty",
                    description=_text(f"Tull {title or ''}", "Tull"),
                    account=accounts.duties,
                    vat=vat_rate(duty.get("tax_lines")),
                    price=amount,
                    quantity=Decimal(1),
                    amount=amount,
                    tax=_sum(pricing, duty.get("tax_lines") or [], "price", f"{d_where}.tax_lines"),
                )
            )
    return rows


def _shipping_rows(
    order: dict[str, Any], settings: ShopSettings, pricing: Pricing, market: Market
) -> list[RowState]:
    lines = [line for line in order.get("shipping_lines") or [] if not line.get("is_removed")]
    rates = [vat_rate(line.get("tax_lines")) for line in lines]
    as_freight = settings.shipping_as == "freight" and all(r == FREIGHT_VAT for r in rates)
    rows = []
    for index, (line, rate) in enumerate(zip(lines, rates, strict=True)):
        where = f"shipping_lines[{index}]"
        price = pricing.amount(line, "price", where)
        discount = _sum(
            pricing,
            line.get("discount_allocations") or [],
            "amount",
            f"{where}.discount_allocations",
        )
        title = line.get("title")
        rows.append(
            RowState(
                key=f"shipping:{line.get('id', index)}",
                kind="shipping",
                description=_text(
                    f"{settings.shipping_description}: {title}" if title else None,
                    settings.shipping_description,
                ),
                account=settings.accounts.shipping
                or sales_account(settings.accounts, market, rate),
                vat=rate,
                price=price,
                quantity=Decimal(1),
                discount=discount,
                amount=row_amount(price, Decimal(1), discount),
                tax=_sum(pricing, line.get("tax_lines") or [], "price", f"{where}.tax_lines"),
                freight=as_freight,
            )
        )
    return rows


def order_content(
    order: dict[str, Any],
    settings: ShopSettings,
    *,
    original: bool = False,
    vat: VatCheck | None = None,
) -> OrderContent:
    """Rows, customer and Shopify's total for the order as it is now (without its refunds).

    ``original``: as ordered (quantities and ``total_price``), ignoring later edits; used when
    the first event seen for an order is its cancellation. ``vat``: what VIES said about the
    order's VAT number (the handler asks, vat_numbers.py); a reverse charge order whose number
    was not confirmed is booked with the shop's VAT, the amount paid including it, and says so
    in ``notices``. None: the caller vouches for the number (tests, previews).
    """
    pricing = pricing_for(
        order, settings.document_currency, settings.currency_rate, settings.home_currency
    )
    company, vat_number, _ = company_details(order, settings)
    market = market_for(
        destination_country(order, settings.home_country),
        settings.home_country,
        vat_charged(order),
        vat_number if company or vat_number else None,
    )
    vat_included = bool(order.get("taxes_included"))
    unverified = market == "eu_reverse" and vat is not None and not vat.valid
    if unverified:
        market = "sweden"
    rows = _line_rows(order, settings, pricing, market, original)
    if not rows:
        raise UnmappableOrder(
            f"order {order.get('name') or order.get('id')} has no line items to invoice",
            code="no_rows",
        )
    rows += _shipping_rows(order, settings, pricing, market)
    notices: list[str] = []
    if unverified and vat is not None:
        rows = [_with_shop_vat(row, settings) for row in rows]
        vat_included = True  # no VAT was charged: the amount paid is taken as including it
        notices.append(vat.notice(settings.home_vat_rate))
    tip = pricing.amount(order, "total_tip_received", "order", default="0")
    if tip:
        rows.append(
            RowState(
                key="tip",
                kind="tip",
                description="Dricks",
                account=settings.accounts.tips,
                vat=ZERO,
                price=tip,
                quantity=Decimal(1),
                amount=tip,
            )
        )
    computed = sum((r.amount + (ZERO if vat_included else r.tax) for r in rows), ZERO)
    if original or not order.get("refunds"):
        total_field = "current_total_price"
        if original or not order.get("current_total_price"):
            total_field = "total_price"
        shopify_total = pricing.amount(order, total_field, "order")
        if shopify_total != computed:
            raise UnmappableOrder(
                f"order {order.get('name') or order.get('id')}: its lines, discounts, shipping, "
                f"duties, tip and taxes add up to {computed} {pricing.currency} but Shopify's "
                f"total is {shopify_total}; refusing rather than posting a wrong invoice",
                code="total_mismatch",
            )
    return OrderContent(
        rows=rows,
        target=computed,
        pricing=pricing,
        market=market,
        customer=customer_draft(order, settings, market, vat=vat),
        vat_included=vat_included,
        notices=tuple(notices),
    )


def _with_shop_vat(row: RowState, settings: ShopSettings) -> RowState:
    """A goods or shipping row without VAT, booked with the shop's VAT instead."""
    if row.kind not in ("line", "shipping") or row.vat != ZERO or row.freight:
        return row
    rate = settings.home_vat_rate
    account = row.account
    if account is None or account == sales_account(settings.accounts, "sweden", ZERO):
        account = sales_account(settings.accounts, "sweden", rate)
    return row.model_copy(update={"vat": rate, "account": account})
