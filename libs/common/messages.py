"""Versioned message schemas: what services say to each other over the broker.

Each schema has a name and a version (``shopify.event.v1``), carried in the message's ``type``
and ``x-fortbridge-schema`` header. A consumer accepts the versions it knows and refuses others
with a clear reason. Money is Decimal (serialised as a string); timestamps are aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """Base of every message: it names its shop and its schema."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_schema: ClassVar[str] = "message"
    version: ClassVar[int] = 1

    shop: str

    @classmethod
    def schema_name(cls) -> str:
        return f"{cls.message_schema}.v{cls.version}"


class ShopifyEvent(Message):
    """A verified, stored Shopify webhook (ingest -> mapper)."""

    message_schema: ClassVar[str] = "shopify.event"

    event_uid: str = Field(description="Ingest's id of the stored event.")
    topic: str
    webhook_id: str
    event_id: str | None = None
    api_version: str | None = None
    triggered_at: AwareDatetime | None = None
    received_at: AwareDatetime
    payload: dict[str, Any]
    batch_id: str | None = Field(
        default=None, description="A bulk sync this event belongs to (catalog sync progress)."
    )


class SourceRef(BaseModel):
    """The Shopify object a document comes from."""

    model_config = ConfigDict(frozen=True)

    type: Literal[
        "order", "refund", "product", "customer", "payout", "summary", "inventory", "backfill"
    ]
    id: str = Field(description="Shopify's numeric id as a string (ids reach 2^63).")
    name: str | None = Field(default=None, description="Human name, e.g. the order name #1001.")
    updated_at: AwareDatetime | None = None
    order_id: str | None = Field(
        default=None, description="The order a refund or payment belongs to (timeline key)."
    )

    @field_validator("id", "order_id", mode="before")
    @classmethod
    def _id_as_string(cls, value: Any) -> str | None:
        return None if value is None else str(value)

    @property
    def timeline_order_id(self) -> str:
        """The order whose timeline shows this object's documents."""
        return self.order_id or self.id


class CustomerDraft(BaseModel):
    """A customer to find or create in Fortnox; ``match_value`` is compared exactly."""

    model_config = ConfigDict(frozen=True)

    match_key: Literal["email", "organisation_number", "default"]
    match_value: str
    fields: dict[str, Any] = Field(description="Fortnox Customer fields for creation.")
    current_fields: list[str] = Field(
        default_factory=list,
        description="Of ``fields``, those kept current on a matched Fortnox customer (address, "
        "verified VAT number, the rules' customer templates): written only when they differ.",
    )
    vies_note: str | None = Field(
        default=None,
        description="The VIES consultation of the customer's VAT number (number, date, "
        "consultation id): Fortbridge's own line in the customer's Comments.",
    )


class ArticleDraft(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_number: str
    fields: dict[str, Any]


class InvoiceRowDraft(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_number: str | None
    description: str
    quantity: Decimal
    price: Decimal = Field(description="Unit price, with or without VAT as the document says.")
    vat: Decimal = Field(description="VAT rate in percent, e.g. 25.")
    discount: Decimal = Decimal("0")
    discount_type: Literal["AMOUNT", "PERCENT"] = "AMOUNT"
    account_number: int | None = None
    fields: dict[str, Any] = Field(
        default_factory=dict,
        description="Other Fortnox row fields (Project, CostCenter, Unit, Description); "
        "never the amounts, VAT, account or article.",
    )


class DocumentDraft(BaseModel):
    """The Fortnox document to create: header fields and rows.

    A refund booked as a negative invoice is a DocumentDraft with negative quantities whose
    ``fields`` carry ``ExternalInvoiceReference2`` = the original document's reference.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["invoice", "order"] = "invoice"
    external_reference: str = Field(description="ExternalInvoiceReference1: our exact-once key.")
    your_order_number: str
    currency: str
    vat_included: bool
    document_date: str
    rows: list[InvoiceRowDraft]
    fields: dict[str, Any] = Field(default_factory=dict, description="Other header fields.")
    bookkeep: bool = Field(default=False, description="Bookkeep the invoice once created.")
    send_email: bool = Field(default=False, description="E-mail the invoice once created.")
    rounding_account: int | None = Field(
        default=None,
        description="Where the writer books an öre correction when Fortnox's totals differ "
        "from the command's expected_total: the 0 % row on this account (added if absent).",
    )


class PaymentDraft(BaseModel):
    """An invoice payment to register (Fortnox /3/invoicepayments)."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal = Field(description="Amount in the document's currency.")
    currency: str
    currency_rate: Decimal | None = Field(
        default=None, description="SEK per unit of ``currency``; None: Fortnox's rate."
    )
    payment_date: str
    mode_of_payment: str = Field(description="Fortnox ModeOfPayment code, e.g. CARD.")
    mode_of_payment_account: int | None = None
    bookkeep: bool = False
    reference: str = Field(description="The Shopify transaction id (exactly-once key part).")


# Where a command comes from when it is not live work (billing does not charge a backfill).
Origin = Literal["backfill"]


class VoucherRowDraft(BaseModel):
    """One voucher row: an account debited or credited (never both), in the voucher's currency."""

    model_config = ConfigDict(frozen=True)

    account: int = Field(ge=1000, le=9999)
    debit: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    description: str = ""

    @model_validator(mode="after")
    def _one_side(self) -> VoucherRowDraft:
        if self.debit < 0 or self.credit < 0 or (self.debit and self.credit):
            raise ValueError("a voucher row is a debit or a credit, not negative, not both")
        return self


class VoucherDraft(BaseModel):
    """A Fortnox voucher (/3/vouchers) to create once, e.g. for a Shopify Payments payout.

    Amounts are in ``currency``; the writer converts another currency than SEK at Fortnox's rate
    of ``transaction_date`` (/3/currencies, when its Date is that day) and books any öre left
    over on ``rounding_account``; the Description then names the currency, the first row's
    amount (a payout's bank row) and the rate.
    ``reference`` is the exact-once key, written as the voucher's Description: Fortnox vouchers
    have no external reference field.
    """

    model_config = ConfigDict(frozen=True)

    series: str = Field(min_length=1, max_length=10)
    transaction_date: str
    reference: str = Field(min_length=1, max_length=200)
    currency: str
    rows: list[VoucherRowDraft] = Field(min_length=2)
    rounding_account: int = 3740

    @model_validator(mode="after")
    def _balanced(self) -> VoucherDraft:
        debit = sum((row.debit for row in self.rows), Decimal("0"))
        credit = sum((row.credit for row in self.rows), Decimal("0"))
        if debit != credit:
            raise ValueError(f"the voucher does not balance: debit {debit}, credit {credit}")
        return self


CommandAction = Literal[
    "create_document",  # invoice or order (also a negative invoice for a later refund)
    "reverse_document",  # cancel if unbooked (when allowed), else credit, the target
    "update_document",  # update the target if unbooked, else credit it and re-invoice
    "register_payment",  # an invoice payment on the target
    "sync_articles",  # create or update a product's articles (bulk sync and product webhooks)
    "sync_customer",  # create or update a customer (bulk sync and customer webhooks)
    "create_voucher",  # a voucher (a Shopify Payments payout) exactly once
    "set_stock",  # set articles' QuantityInStock (inventory sync, Shopify as the source)
    "read_stock",  # list articles changed since a time, with stock (Fortnox as the source)
    "find_documents",  # look up invoices by ExternalInvoiceReference1 (a backfill's dry run)
]


class StockLevel(BaseModel):
    """An article's stock: what to set in Fortnox, or what Fortnox has (inventory sync)."""

    model_config = ConfigDict(frozen=True)

    article_number: str
    quantity: Decimal
    stock_point: str | None = Field(
        default=None, description="The Fortnox stock point (warehouse module) it belongs to."
    )


def _invoices_only() -> list[Literal["invoice", "order"]]:
    return ["invoice"]


class FortnoxCommand(Message):
    """One thing to do in Fortnox for a Shopify object (mapper -> fortnox_writer).

    ``document_key`` names the result, one per key ever: ``{shop}:order:{id}:invoice``,
    ``{shop}:refund:{id}:credit``, ``{shop}:order:{id}:payment:{transaction}``, and so on.
    ``target_document_key`` names an earlier document the action applies to.
    """

    message_schema: ClassVar[str] = "fortnox.command"

    command_id: str
    action: CommandAction = "create_document"
    document_key: str = Field(description="(shop, source, kind): one document per key, ever.")
    source: SourceRef
    customer: CustomerDraft | None = None
    articles: list[ArticleDraft] = Field(default_factory=list)
    document: DocumentDraft | None = None
    target_document_key: str | None = None
    allow_cancel: bool = Field(
        default=True, description="reverse_document: cancel an unbooked target (else credit)."
    )
    credit_date: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="reverse_document: the day the credit belongs to (the shop's day of the refund "
        "or cancellation); a credit invoice Fortnox dated later is re-dated while unbooked. None: "
        "Fortnox's date stands.",
    )
    payment: PaymentDraft | None = None
    voucher: VoucherDraft | None = None
    expected_total: Decimal | None = None
    event_uid: str | None = None
    rule_version: int | None = None
    batch_id: str | None = None
    origin: Origin | None = Field(
        default=None,
        description="``backfill``: a past order imported on request (runs behind live work and "
        "is not billed); None: live.",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="Warnings for the order's timeline and status (e.g. a VAT number VIES "
        "did not confirm, so the sale is booked with VAT).",
    )
    stock: list[StockLevel] = Field(default_factory=list, description="set_stock: what to set.")
    references: list[str] = Field(
        default_factory=list,
        description="find_documents: the ExternalInvoiceReference1 values to look up.",
    )
    find_kinds: list[Literal["invoice", "order"]] = Field(
        default_factory=_invoices_only,
        min_length=1,
        description="find_documents: the Fortnox documents a reference is looked up among, in "
        "order (the next only when the one before has none).",
    )
    stock_since: str | None = Field(
        default=None,
        description="read_stock: Fortnox lastmodified (YYYY-MM-DD HH:MM:SS, Swedish time); "
        "None: every article.",
    )

    @model_validator(mode="after")
    def _fields_for_action(self) -> FortnoxCommand:
        needs: dict[str, tuple[str, ...]] = {
            "create_document": ("customer", "document"),
            "reverse_document": ("target_document_key",),
            "update_document": ("target_document_key", "customer", "document"),
            "register_payment": ("target_document_key", "payment"),
            "sync_articles": (),
            "sync_customer": ("customer",),
            "create_voucher": ("voucher",),
            "set_stock": (),
            "read_stock": (),
            "find_documents": (),
        }
        missing = [name for name in needs[self.action] if getattr(self, name) is None]
        if self.action == "sync_articles" and not self.articles:
            missing.append("articles")
        if self.action == "set_stock" and not self.stock:
            missing.append("stock")
        if self.action == "find_documents" and not self.references:
            missing.append("references")
        if missing:
            raise ValueError(f"action {self.action} needs {', '.join(missing)}")
        return self


# summarized: the order is booked in a daily summary document (summary mode), made when the
# day closes; the result's document_key names that summary.
SyncStatus = Literal["synced", "already_synced", "failed", "skipped", "parked", "summarized"]
ResultKind = Literal[
    "invoice", "order", "credit", "payment", "article", "customer", "voucher", "stock"
]


class SyncResult(Message):
    """What happened to a command (fortnox_writer -> timeline)."""

    message_schema: ClassVar[str] = "fortnox.result"

    command_id: str
    document_key: str
    source: SourceRef
    status: SyncStatus
    action: CommandAction = "create_document"
    document_kind: ResultKind = "invoice"
    document_number: str | None = None
    fortnox_total: Decimal | None = None
    expected_total: Decimal | None = None
    currency: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    explanation: str | None = None
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    trace_id: str | None = None
    rule_version: int | None = None
    batch_id: str | None = None
    origin: Origin | None = None
    notices: list[str] = Field(
        default_factory=list, description="The command's warnings (FortnoxCommand.notices)."
    )
    stock: list[StockLevel] = Field(
        default_factory=list, description="read_stock: the articles Fortnox listed, with stock."
    )
    warehouse_module: bool | None = Field(
        default=None, description="set_stock/read_stock: whether the company uses Fortnox Lager."
    )
    references: list[str] = Field(
        default_factory=list, description="find_documents: the references looked up."
    )
    found: dict[str, str] = Field(
        default_factory=dict,
        description="find_documents: each reference Fortnox has an invoice of -> its number.",
    )


SCHEMAS: dict[str, type[Message]] = {
    model.schema_name(): model for model in (ShopifyEvent, FortnoxCommand, SyncResult)
}
