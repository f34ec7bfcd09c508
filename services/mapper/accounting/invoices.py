"""An order's invoice: the create or update command and the per-order state it leaves."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from libs.common.messages import FortnoxCommand, SourceRef
from services.mapper.accounting.commands import (
    content_hash,
    document_command,
    external_reference,
    invoice_key,
    key_base,
    reconciled_rows,
    row_draft,
)
from services.mapper.accounting.money import ZERO, UnmappableOrder
from services.mapper.accounting.rows import OrderContent, order_content
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import DocumentKind, OrderState, RowState
from services.mapper.accounting.vat_numbers import VatCheck


def order_id_of(order: dict[str, Any]) -> str:
    order_id = order.get("id")
    if order_id is None or isinstance(order_id, bool | float):
        raise UnmappableOrder("the order has no integer id", code="missing_id")
    return str(order_id)


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 timestamp with offset as aware UTC (None when absent or naive)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise UnmappableOrder(f"{value!r} is not an ISO 8601 timestamp", code="bad_time") from exc
    if parsed.tzinfo is None:
        raise UnmappableOrder(f"timestamp {value!r} has no UTC offset", code="bad_time")
    return parsed.astimezone(UTC)


def shop_day(value: Any) -> str:
    """The day a Shopify timestamp names, as written (``2026-12-01T00:30:00+01:00`` ->
    ``2026-12-01``): Shopify writes times with the shop's offset, and the backfill and
    reconciliation paths convert theirs to the shop's zone, so this is the shop's own day."""
    return str(value or "")[:10]


def order_source(order: dict[str, Any]) -> SourceRef:
    return SourceRef(
        type="order",
        id=order_id_of(order),
        name=order.get("name"),
        updated_at=timestamp(order.get("updated_at")),
    )


def _header(content: OrderContent, settings: ShopSettings) -> dict[str, Any]:
    # The rules' fields first: what the order's arithmetic decides below always wins.
    fields: dict[str, Any] = dict(settings.document_fields)
    if content.pricing.currency_rate is not None:
        fields["CurrencyRate"] = content.pricing.currency_rate
        fields["CurrencyUnit"] = Decimal(1)
    if content.market == "eu_reverse":
        fields["EUQuarterlyReport"] = True
    if any(row.freight for row in content.rows):
        fields["Freight"] = content.freight
    return fields


def build_invoice(
    shop: str,
    order: dict[str, Any],
    settings: ShopSettings,
    *,
    original: bool = False,
    vat: VatCheck | None = None,
) -> tuple[list[Any], OrderState]:
    """The invoice's rows (reconciled to Shopify's total) and the state it starts."""
    order_id = order_id_of(order)
    content = order_content(order, settings, original=original, vat=vat)
    header = _header(content, settings)
    kind: DocumentKind = "order" if settings.document_kind == "order" else "invoice"
    drafts = [row_draft(row) for row in content.rows if not row.freight]
    name = str(order.get("name") or order_id)
    drafts = reconciled_rows(
        drafts,
        content.target,
        content.freight,
        vat_included=content.vat_included,
        currency=content.pricing.currency,
        settings=settings,
        what=f"order {name}",
    )
    rows = list(content.rows)
    if len(drafts) > len([r for r in rows if not r.freight]):
        rounding = drafts[-1]
        rows.append(
            RowState(
                key="rounding",
                kind="rounding",
                description=rounding.description,
                account=rounding.account_number,
                vat=ZERO,
                price=rounding.price,
                quantity=Decimal(1),
                amount=rounding.price,
            )
        )
    state = OrderState(
        order_id=order_id,
        name=order.get("name"),
        invoice_key=invoice_key(shop, order_id, kind),
        document_kind=kind,
        external_reference=external_reference(order_id),
        currency=content.pricing.currency,
        shop_currency=content.pricing.shop_currency,
        market=content.market,
        currency_rate=content.pricing.currency_rate,
        vat_included=content.vat_included,
        document_date=shop_day(order.get("created_at")),
        your_order_number=name[:30],
        customer=content.customer,
        fields=header,
        rows=rows,
        invoiced_total=content.target,
        content_hash=content_hash(rows, content.customer, header),
        last_updated_at=timestamp(order.get("updated_at")),
        notices=list(content.notices),
    )
    return drafts, state


def create_invoice(
    shop: str,
    order: dict[str, Any],
    settings: ShopSettings,
    event_uid: str | None,
    *,
    original: bool = False,
    vat: VatCheck | None = None,
) -> tuple[FortnoxCommand, OrderState]:
    drafts, state = build_invoice(shop, order, settings, original=original, vat=vat)
    command = document_command(
        shop,
        action="create_document",
        key=state.invoice_key,
        source=order_source(order),
        state=state,
        rows=drafts,
        external_ref=state.external_reference,
        fields=state.fields,
        total=state.invoiced_total,
        settings=settings,
        event_uid=event_uid,
        send_email=settings.send_email,
        notices=state.notices,
    )
    return command, state


def update_invoice(
    shop: str,
    order: dict[str, Any],
    settings: ShopSettings,
    state: OrderState,
    updated_at: datetime,
    event_uid: str | None,
    *,
    vat: VatCheck | None = None,
) -> tuple[FortnoxCommand | None, OrderState]:
    """The update command when the invoice's content changed (None when it did not)."""
    # The document keeps its kind (and key) whatever the rules say now.
    kind = state.document_kind
    drafts, fresh = build_invoice(
        shop, order, settings.model_copy(update={"document_kind": kind}), vat=vat
    )
    if fresh.content_hash == state.content_hash:
        return None, state.model_copy(update={"last_updated_at": updated_at})
    old = {row.key: row for row in state.rows}
    rows = []
    for row in fresh.rows:
        before = old.get(row.key)
        if before is None:
            rows.append(row)
            continue
        if row.kind != "rounding" and (
            before.credited_quantity > row.quantity or before.credited_amount > row.amount
        ):
            raise UnmappableOrder(
                f"order {fresh.your_order_number}: the edit leaves {row.description!r} below what "
                "was already refunded and credited; correct the invoice by hand",
                code="edit_below_credited",
            )
        rows.append(
            row.model_copy(
                update={
                    "credited_quantity": before.credited_quantity,
                    "credited_amount": before.credited_amount,
                    "credited_tax": before.credited_tax,
                }
            )
        )
    kept = {row.key for row in rows}
    for before in state.rows:
        if before.key not in kept and before.kind != "rounding" and before.credited_amount:
            raise UnmappableOrder(
                f"order {fresh.your_order_number}: the edit removes {before.description!r}, "
                "which was already refunded and credited; correct the invoice by hand",
                code="edit_below_credited",
            )
    new_state = fresh.model_copy(
        update={
            "rows": rows,
            "document_date": state.document_date,
            "credited_total": state.credited_total,
            "refunds": state.refunds,
            "payments": state.payments,
            "pending_refund_payments": state.pending_refund_payments,
            "last_updated_at": updated_at,
        }
    )
    key = f"{key_base(state)}:update:{updated_at.isoformat()}"
    command = document_command(
        shop,
        action="update_document",
        key=key,
        source=order_source(order),
        state=new_state,
        rows=drafts,
        external_ref=state.external_reference,
        fields=new_state.fields,
        total=new_state.invoiced_total,
        settings=settings,
        event_uid=event_uid,
        target=state.invoice_key,
        notices=new_state.notices,
    )
    return command, new_state


def invoice_command(
    shop: str, order: dict[str, Any], settings: ShopSettings, *, event_uid: str | None = None
) -> FortnoxCommand:
    """The create-invoice command for an order payload (what orders/create plans first)."""
    return create_invoice(shop, order, settings, event_uid)[0]
