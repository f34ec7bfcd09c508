"""What the mapper remembers per order: what was invoiced per row and what was credited.

Stored as JSONB in ``mapper.order_state`` (one row per shop and order), read and written by the
handler around the pure planner. Credits are tracked per row so that no refund, cancellation or
later refund ever credits more than was invoiced.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.common.messages import CustomerDraft, PaymentDraft, SourceRef
from services.mapper.accounting.vat import Market

DocumentKind = Literal["invoice", "order"]
RowKind = Literal["line", "gift_card", "shipping", "tip", "duty", "rounding", "adjustment"]
ZERO = Decimal("0")


class RowState(BaseModel):
    """One invoice row (or the Freight header amount) and what has been credited from it."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="line:<line item id>, shipping:<id>, tip, duty:<id>, rounding")
    kind: RowKind
    description: str
    article_number: str | None = None
    account: int | None = None
    vat: Decimal
    price: Decimal = Field(description="Unit price in the document's price basis.")
    quantity: Decimal
    discount: Decimal = ZERO
    amount: Decimal = Field(description="Row total as Fortnox computes it (price basis).")
    tax: Decimal = Field(default=ZERO, description="Shopify's tax on the row (document currency).")
    freight: bool = Field(
        default=False, description="Carried in the Freight header field, not a row."
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description="Other Fortnox row fields (rule templates: Project, CostCenter, ...).",
    )
    credited_quantity: Decimal = ZERO
    credited_amount: Decimal = ZERO
    credited_tax: Decimal = ZERO

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.credited_quantity

    @property
    def remaining_amount(self) -> Decimal:
        return self.amount - self.credited_amount

    @property
    def remaining_tax(self) -> Decimal:
        return self.tax - self.credited_tax

    def content(self) -> tuple[object, ...]:
        content: tuple[object, ...] = (
            self.key,
            self.description,
            self.article_number,
            self.account,
            str(self.vat),
            str(self.price),
            str(self.quantity),
            str(self.discount),
            self.freight,
        )
        # Only when set, so the content hash of rows stored before row fields is unchanged.
        return (*content, sorted(self.fields.items())) if self.fields else content


class PendingRefundPayments(BaseModel):
    """A refund's money paid back, planned before the order's invoice was paid through
    Fortbridge: registered on its credit document once orders/paid registers the invoice's
    payments (refund_payments.py), so the payments do not depend on the events' order."""

    model_config = ConfigDict(frozen=True)

    refund_id: str
    target: str = Field(description="The key of the refund's credit document.")
    source: SourceRef = Field(description="The refund, as its payment commands name it.")
    payments: list[PaymentDraft] = Field(description="Negative payments, one per transaction.")


class OrderState(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_id: str
    name: str | None = None
    invoice_key: str
    document_kind: DocumentKind = Field(
        default="invoice", description="The order's Fortnox document: an invoice or an order."
    )
    external_reference: str
    currency: str
    shop_currency: str
    market: Market = "sweden"
    currency_rate: Decimal | None = None
    vat_included: bool
    document_date: str
    your_order_number: str
    customer: CustomerDraft
    fields: dict[str, Any] = Field(default_factory=dict, description="Invoice header fields.")
    rows: list[RowState]
    invoiced_total: Decimal
    credited_total: Decimal = ZERO
    content_hash: str
    last_updated_at: AwareDatetime | None = None
    full_credit_used: bool = Field(
        default=False, description="Fortnox's one credit (or cancel) used."
    )
    cancelled: bool = False
    cancel_document: bool = Field(
        default=False,
        description="orders/cancelled made a credit document (key ``...:cancel``): a later "
        "refund's money back is registered on it.",
    )
    refunds: list[str] = Field(default_factory=list, description="Refund ids already credited.")
    payments: list[str] = Field(default_factory=list, description="Payment references sent.")
    notices: list[str] = Field(
        default_factory=list,
        description="Warnings about the order's document (a VAT number VIES did not confirm).",
    )
    pending_refund_payments: list[PendingRefundPayments] = Field(
        default_factory=list,
        description="Money paid back by refunds planned before the invoice was paid through "
        "Fortbridge, waiting for orders/paid.",
    )

    @property
    def remaining_total(self) -> Decimal:
        return self.invoiced_total - self.credited_total

    @property
    def anything_credited(self) -> bool:
        return self.credited_total != 0 or any(
            row.credited_quantity or row.credited_amount for row in self.rows
        )
