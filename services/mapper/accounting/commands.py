"""Fortnox commands from planned rows: keys, references, drafts and the rounding row."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from libs.common.messages import (
    ArticleDraft,
    CommandAction,
    CustomerDraft,
    DocumentDraft,
    FortnoxCommand,
    InvoiceRowDraft,
    PaymentDraft,
    SourceRef,
)
from services.mapper.accounting.articles import article_draft
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.state import DocumentKind, OrderState, RowState
from services.mapper.accounting.totals import reconcile


def invoice_key(shop: str, order_id: str, kind: str = "invoice") -> str:
    """The order's document key: ``...:invoice``, or ``...:order`` for a Fortnox order."""
    return f"{shop}:order:{order_id}:{kind}"


def key_base(state: OrderState) -> str:
    """``{shop}:order:{id}``: the prefix of the keys of the order's other documents."""
    return state.invoice_key.rsplit(":", 1)[0]


def external_reference(order_id: str) -> str:
    """ExternalInvoiceReference1 of an order's invoice: searched and compared exactly."""
    return f"shopify-{order_id}"


def rounding_row(settings: ShopSettings) -> InvoiceRowDraft:
    return InvoiceRowDraft(
        article_number=None,
        description="Öresavrundning",
        quantity=Decimal(1),
        price=Decimal(0),
        vat=Decimal(0),
        account_number=settings.accounts.rounding,
    )


def row_draft(row: RowState) -> InvoiceRowDraft:
    return InvoiceRowDraft(
        article_number=row.article_number,
        description=row.description,
        quantity=row.quantity,
        price=row.price,
        vat=row.vat,
        discount=row.discount,
        account_number=row.account,
        fields=row.fields,
    )


def content_hash(rows: list[RowState], customer: CustomerDraft, header: dict[str, Any]) -> str:
    body = json.dumps(
        [
            [r.content() for r in rows],
            # What the writer keeps current is not the document's content.
            customer.model_dump(mode="json", exclude={"current_fields", "vies_note"}),
            header,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def articles_for(rows: list[InvoiceRowDraft]) -> list[ArticleDraft]:
    found = {r.article_number: r.description for r in rows if r.article_number}
    return [article_draft(number, description) for number, description in found.items()]


def reconciled_rows(
    rows: list[InvoiceRowDraft],
    target: Decimal,
    freight: Decimal,
    *,
    vat_included: bool,
    currency: str,
    settings: ShopSettings,
    what: str,
) -> list[InvoiceRowDraft]:
    return reconcile(
        rows,
        target,
        vat_included=vat_included,
        freight=freight,
        round_to_whole=settings.round_to_whole_sek and currency == "SEK",
        max_rounding=settings.max_rounding,
        rounding_row=rounding_row(settings),
        what=what,
    )


def document_command(
    shop: str,
    *,
    action: CommandAction,
    key: str,
    source: SourceRef,
    state: OrderState,
    rows: list[InvoiceRowDraft],
    external_ref: str,
    fields: dict[str, Any],
    total: Decimal,
    settings: ShopSettings,
    event_uid: str | None,
    target: str | None = None,
    kind: DocumentKind | None = None,
    send_email: bool = False,
    notices: list[str] | None = None,
    document_date: str | None = None,
) -> FortnoxCommand:
    """A document of the order; dated ``document_date`` when given (a credit: the day of the
    refund or cancellation), else the order's own date."""
    return FortnoxCommand(
        shop=shop,
        command_id=f"{key}:v1",
        action=action,
        document_key=key,
        source=source,
        customer=state.customer,
        articles=articles_for(rows),
        document=DocumentDraft(
            kind=kind or state.document_kind,
            external_reference=external_ref,
            your_order_number=state.your_order_number,
            currency=state.currency,
            vat_included=state.vat_included,
            document_date=document_date or state.document_date,
            rows=rows,
            fields=fields,
            bookkeep=settings.bookkeep_invoices,
            send_email=send_email,
            rounding_account=settings.accounts.rounding,
        ),
        target_document_key=target,
        expected_total=total,
        event_uid=event_uid,
        notices=notices or [],
    )


def reverse_command(
    shop: str,
    key: str,
    source: SourceRef,
    state: OrderState,
    allow_cancel: bool,
    uid: str | None,
    credit_date: str | None = None,
) -> FortnoxCommand:
    return FortnoxCommand(
        shop=shop,
        command_id=f"{key}:v1",
        action="reverse_document",
        document_key=key,
        source=source,
        target_document_key=state.invoice_key,
        allow_cancel=allow_cancel,
        credit_date=credit_date,
        expected_total=-state.invoiced_total,
        event_uid=uid,
    )


def payment_command(
    shop: str,
    key: str,
    source: SourceRef,
    state: OrderState,
    payment: PaymentDraft,
    uid: str | None,
    target: str | None = None,
) -> FortnoxCommand:
    """A payment on the order's invoice, or on ``target`` (a refund's credit document)."""
    return FortnoxCommand(
        shop=shop,
        command_id=f"{key}:v1",
        action="register_payment",
        document_key=key,
        source=source,
        target_document_key=target or state.invoice_key,
        payment=payment,
        event_uid=uid,
    )
