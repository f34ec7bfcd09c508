"""A shop's accounting settings: how Shopify concepts become Fortnox documents.

Every field has a default that suits a Swedish webshop using the BAS chart of accounts, so a
shop without stored settings is synced correctly. Per-shop overrides are JSON in
``mapper.shop_settings`` (the shop's default); the rules engine (services/mapper/rules) applies
the first matching rule's actions on top of them for each order. docs/accounting.md explains
each setting for the merchant's accountant, docs/rules.md the rules.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SalesAccounts(BaseModel):
    """BAS sales accounts per market and VAT rate (percent as a string key, e.g. "25")."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sweden: dict[str, int] = Field(
        default_factory=lambda: {"25": 3001, "12": 3002, "6": 3003, "0": 3004},
        description="Goods sold in Sweden, by VAT rate.",
    )
    eu_vat: int = Field(default=3106, description="EU consumers charged VAT (OSS).")
    eu_vat_free: int = Field(default=3108, description="EU sales without VAT (reverse charge).")
    export: int = Field(default=3105, description="Sales outside the EU.")
    gift_card_liability: int = Field(
        default=2420, description="Gift cards sold: a debt, not revenue."
    )
    shipping: int | None = Field(
        default=None, description="Shipping rows; None: the goods' account."
    )
    tips: int = Field(default=3990, description="Tips collected with the order (no VAT).")
    duties: int = Field(default=3990, description="Import duties collected with the order.")
    rounding: int = Field(default=3740, description="Öres- och kronutjämning: rounding rows.")


class PayoutSettings(BaseModel):
    """How a Shopify Payments payout is booked: one voucher (accounting/payouts.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=False,
        description="Book each paid Shopify Payments payout as a Fortnox voucher. Needs the "
        "mode of payment of shopify_payments (KORT) to use the clearing account in Fortnox.",
    )
    voucher_series: str = Field(
        default="A", min_length=1, max_length=10, description="Fortnox voucher series."
    )
    clearing_account: int = Field(
        default=1580,
        ge=1000,
        le=9999,
        description="Where the customers' card payments wait until paid out (BAS 1580).",
    )
    fee_account: int = Field(
        default=6064, ge=1000, le=9999, description="Shopify Payments fees (no VAT)."
    )
    bank_account: int = Field(
        default=1930, ge=1000, le=9999, description="The bank account payouts reach."
    )
    adjustment_account: int = Field(
        default=6990,
        ge=1000,
        le=9999,
        description="Adjustments, disputes and chargebacks (BAS 6990, other external costs).",
    )
    reserve_account: int = Field(
        default=1680,
        ge=1000,
        le=9999,
        description="Funds Shopify holds in reserve (BAS 1680, other current receivables).",
    )


class ShopSettings(BaseModel):
    """Everything the planner needs to know about a shop's choices."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home_country: str = "SE"
    home_currency: str = "SEK"
    home_vat_rate: Decimal = Field(
        default=Decimal(25),
        description="The shop's VAT rate (percent): an EU business order without VAT whose VAT "
        "number VIES did not confirm is booked with it, the amount paid including it.",
    )
    shipping_as: Literal["row", "freight"] = Field(
        default="row",
        description="A shipping row (any VAT rate) or Fortnox's Freight header field (25 % "
        "only: other rates fall back to a row).",
    )
    shipping_description: str = "Frakt"
    document_currency: Literal["presentment", "shop"] = Field(
        default="presentment", description="Invoice in the customer's currency or the shop's."
    )
    currency_rate: Literal["explicit", "fortnox"] = Field(
        default="explicit",
        description="explicit: CurrencyRate from the order's shop/presentment amounts; "
        "fortnox: leave it out so Fortnox uses the rate of the invoice date.",
    )
    accounts: SalesAccounts = Field(default_factory=lambda: SalesAccounts())
    sku_policy: Literal["variant_id", "no_article", "fail"] = Field(
        default="variant_id",
        description="A line without SKU: article = variant id, no article, or fail.",
    )
    guest_customer_name: str = "Shopify guest"
    company_keys: tuple[str, ...] = ("company", "company_name", "företag", "foretag")
    vat_number_keys: tuple[str, ...] = (
        "vat_number",
        "vat",
        "vat_id",
        "momsregistreringsnummer",
        "momsnummer",
    )
    organisation_number_keys: tuple[str, ...] = (
        "organisation_number",
        "organisationsnummer",
        "org_number",
        "orgnr",
    )
    cancel_unbooked_on_refund: bool = Field(
        default=True,
        description="A full refund of an unbooked invoice cancels it instead of crediting.",
    )
    bookkeep_invoices: bool = False
    bookkeep_payments: bool = False
    payment_modes: dict[str, str] = Field(
        default_factory=lambda: {
            "shopify_payments": "KORT",
            "paypal": "PAYPAL",
            "klarna": "KLARNA",
            "manual": "BG",
            "bank_deposit": "BG",
            "cash": "KONTANT",
        },
        description="Fortnox ModeOfPayment code per Shopify gateway.",
    )
    default_payment_mode: str = "KORT"
    gift_card_payment_mode: str = "PRESENTKORT"
    round_to_whole_sek: bool = Field(
        default=False, description="The Fortnox company rounds SEK invoice totals to whole kronor."
    )
    max_rounding: Decimal = Field(
        default=Decimal("1.00"),
        description="Largest rounding row the planner adds before refusing.",
    )
    # What the rules engine (services/mapper/rules) decides per order; defaults = no rules.
    document_kind: Literal["invoice", "order", "none"] = Field(
        default="invoice", description="A Fortnox invoice, a Fortnox order, or no document."
    )
    trigger: Literal["create", "paid", "fulfilled"] = Field(
        default="create", description="When the document is made: order created, paid, fulfilled."
    )
    send_email: bool = Field(default=False, description="E-mail the invoice once created.")
    article_number_source: Literal["sku", "barcode", "variant_id", "metafield"] = Field(
        default="sku",
        description="Where a line's article number comes from; empty falls back to sku_policy.",
    )
    article_metafield: str | None = Field(
        default=None, description="The line property / metafield key (article_number_source)."
    )
    customer_match: Literal["email", "organisation_number"] = Field(
        default="organisation_number",
        description="organisation_number: companies with one are matched by it, others by "
        "e-mail; email: always by e-mail when there is one.",
    )
    document_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Fortnox header fields (terms of payment, cost centre, templates).",
    )
    customer_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Fortnox fields of a customer Fortbridge creates (rule templates, "
        "rendered); never the guest customer, never the field the customer is matched by.",
    )
    payouts: PayoutSettings = Field(default_factory=lambda: PayoutSettings())
    booking: Literal["per_order", "daily_summary"] = Field(
        default="per_order",
        description="per_order: a document per order; daily_summary: the day's orders as one "
        "document per day, currency and VAT profile (accounting/summaries.py).",
    )
    summary_close_time: str = Field(
        default="00:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="When a summary day ends, HH:MM in summary_timezone.",
    )
    summary_timezone: str = Field(
        default="Europe/Stockholm", description="The shop's time zone for summary days."
    )
    summary_customer_name: str = Field(
        default="Shopify dagsförsäljning",
        min_length=1,
        max_length=200,
        description="The Fortnox customer of the summary documents.",
    )
    inventory_source: Literal["shopify", "fortnox", "none"] = Field(
        default="none",
        description="Where stock is kept: Shopify's available quantities set Fortnox's stock "
        "(shopify), Fortnox's stock sets Shopify's (fortnox), or no inventory sync (none).",
    )
    inventory_locations: dict[str, str] = Field(
        default_factory=dict,
        description="Shopify location id -> Fortnox stock point code. Shopify as source: only "
        "these locations count (none listed: all); Fortnox as source: the one location Fortnox's "
        "stock is written to (none listed: the shop's first location).",
    )
    line_fields: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Extra Fortnox row fields per line item row key (line:<line item id>), "
        "rendered by the rules engine for this order.",
    )

    @field_validator("summary_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name (e.g. Europe/Stockholm)") from None
        return value

    def payment_mode(self, gateway: str | None) -> str:
        if gateway == "gift_card":
            return self.gift_card_payment_mode
        return self.payment_modes.get(gateway or "", self.default_payment_mode)
