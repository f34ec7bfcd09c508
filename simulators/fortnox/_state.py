"""In-memory state of the simulated Fortnox: integrations, tenants, tokens and documents.

Documents keep their writable fields in ``fields`` (normalised: numbers as Decimal, dates as
``YYYY-MM-DD`` strings, numbers-as-strings such as CustomerNumber as ``str``) plus typed
attributes for the read-only state Fortnox computes (booked, balance, totals, references).
``to_json()`` on each document is exactly what ``GET /3/<resource>/<id>`` answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from simulators.fortnox.documents import clean, invoice_json, order_json
from simulators.fortnox.listing import modified_now
from simulators.fortnox.totals import DocumentTotals, VatRounding

ALL_SCOPES: frozenset[str] = frozenset(
    {
        "invoice",
        "order",
        "customer",
        "article",
        "payment",
        "companyinformation",
        "settings",
        "currency",
        "price",
        "bookkeeping",
        "print",
        "warehouse",
    }
)

# A new Fortnox company has 25, 12 and 6 % (fortnox.md); 0 % and OSS rates are set up by the
# merchant (whether Fortnox needs 0 % set up is undocumented: the strict answer is simulated).
DEFAULT_VAT_RATES: frozenset[Decimal] = frozenset({Decimal("25"), Decimal("12"), Decimal("6")})
# The registers a new company starts with (simulators/fortnox/registers.py): a BAS chart with
# the accounts Fortbridge's default settings use, and a few common modes and terms of payment.
DEFAULT_ACCOUNTS: dict[int, str] = {
    1510: "Kundfordringar",
    1580: "Fordringar för kontokort och kuponger",
    1680: "Andra kortfristiga fordringar",
    1910: "Kassa",
    1930: "Företagskonto / checkkonto / affärskonto",
    2420: "Förskott från kunder",
    2611: "Utgående moms på försäljning inom Sverige, 25 %",
    2621: "Utgående moms på försäljning inom Sverige, 12 %",
    2631: "Utgående moms på försäljning inom Sverige, 6 %",
    3001: "Försäljning inom Sverige, 25 % moms",
    3002: "Försäljning inom Sverige, 12 % moms",
    3003: "Försäljning inom Sverige, 6 % moms",
    3004: "Försäljning inom Sverige, momsfri",
    3105: "Försäljning varor till land utanför EU",
    3106: "Försäljning varor till annat EU-land, momspliktig",
    3108: "Försäljning varor till annat EU-land, momsfri",
    3740: "Öres- och kronutjämning",
    3990: "Övriga ersättningar och intäkter",
    6064: "Factoringavgifter",
    6990: "Övriga externa kostnader",
}
DEFAULT_MODES_OF_PAYMENT: dict[str, tuple[str, int]] = {
    "BG": ("Bankgiro", 1930),
    "PG": ("Plusgiro", 1930),
    "KONT": ("Kontant", 1910),
    "KORT": ("Kortbetalning", 1580),
    "AG": ("Autogiro", 1930),
}
DEFAULT_TERMS_OF_PAYMENT: dict[str, str] = {
    "0": "Kontant",
    "10": "10 dagar netto",
    "15": "15 dagar netto",
    "20": "20 dagar netto",
    "30": "30 dagar netto",
}
DEFAULT_CURRENCIES: frozenset[str] = frozenset({"SEK", "EUR", "USD", "NOK", "DKK", "GBP"})
DEFAULT_CURRENCY_RATES: dict[str, Decimal] = {
    "SEK": Decimal("1"),
    "EUR": Decimal("11.50"),
    "USD": Decimal("10.50"),
    "NOK": Decimal("1.00"),
    "DKK": Decimal("1.54"),
    "GBP": Decimal("13.40"),
}

RefreshState = Literal["active", "used", "revoked"]


@dataclass
class Client:
    """A registered integration (OAuth client)."""

    client_id: str
    client_secret: str
    scopes: frozenset[str] = ALL_SCOPES
    redirect_uris: frozenset[str] = frozenset()  # empty: any redirect_uri accepted


@dataclass
class AccessToken:
    token: str
    client_id: str
    tenant_id: str
    scopes: frozenset[str]
    expires_at: float  # simulator clock (monotonic)
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    client_id: str
    tenant_id: str
    scopes: frozenset[str]
    expires_at: float
    state: RefreshState = "active"


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    tenant_id: str
    redirect_uri: str
    scopes: frozenset[str]
    expires_at: float
    used: bool = False


@dataclass
class Customer:
    customer_number: str
    fields: dict[str, Any]
    updated_at: datetime = field(default_factory=modified_now)

    @property
    def name(self) -> str:
        return str(self.fields.get("Name") or "")

    @property
    def currency(self) -> str:
        return str(self.fields.get("Currency") or "SEK")


@dataclass
class Article:
    article_number: str
    fields: dict[str, Any]
    updated_at: datetime = field(default_factory=modified_now)

    @property
    def vat(self) -> Decimal | None:
        value = self.fields.get("VAT")
        return value if isinstance(value, Decimal) else None


@dataclass
class Invoice:
    document_number: int
    fields: dict[str, Any]  # header fields (without InvoiceRows)
    rows: list[dict[str, Any]]
    totals: DocumentTotals
    booked: bool = False
    cancelled: bool = False
    credit: bool = False
    credit_invoice_reference: int = 0  # on the original: number of its credit invoice
    invoice_reference: int = 0  # on a credit invoice: number of the credited invoice
    order_reference: int = 0
    paid: Decimal = Decimal("0")  # sum of payments, in the invoice currency
    final_pay_date: str | None = None
    sent: bool = False
    emails: list[str] = field(default_factory=list)  # addresses e-mailed, one per send
    updated_at: datetime = field(default_factory=modified_now)

    @property
    def customer_number(self) -> str:
        return str(self.fields.get("CustomerNumber", ""))

    @property
    def currency(self) -> str:
        return str(self.fields.get("Currency", "SEK"))

    @property
    def total(self) -> Decimal:
        return self.totals.total

    @property
    def total_vat(self) -> Decimal:
        return self.totals.total_vat

    @property
    def balance(self) -> Decimal:
        return self.totals.total - self.paid

    def get(self, name: str) -> Any:
        """A header field as stored, e.g. ``inv.get("ExternalInvoiceReference1")``."""
        return self.fields.get(name)

    def to_json(self, base_url: str = "") -> dict[str, Any]:
        """What ``GET /3/invoices/{n}`` answers inside ``{"Invoice": ...}``."""
        return invoice_json(self, base_url)


@dataclass
class Order:
    document_number: int
    fields: dict[str, Any]  # header fields (without OrderRows)
    rows: list[dict[str, Any]]
    totals: DocumentTotals
    cancelled: bool = False
    invoice_reference: int = 0
    updated_at: datetime = field(default_factory=modified_now)

    @property
    def customer_number(self) -> str:
        return str(self.fields.get("CustomerNumber", ""))

    @property
    def total(self) -> Decimal:
        return self.totals.total

    def get(self, name: str) -> Any:
        return self.fields.get(name)

    def to_json(self, base_url: str = "") -> dict[str, Any]:
        """What ``GET /3/orders/{n}`` answers inside ``{"Order": ...}``."""
        return order_json(self, base_url)


@dataclass
class Payment:
    number: int
    invoice_number: int
    amount: Decimal  # SEK
    amount_currency: Decimal  # invoice currency
    currency: str
    currency_rate: Decimal
    currency_unit: Decimal
    fields: dict[str, Any]  # remaining writable fields (PaymentDate, ModeOfPayment, ...)
    booked: bool = False
    updated_at: datetime = field(default_factory=modified_now)


@dataclass
class Voucher:
    series: str
    number: int
    year: int
    fields: dict[str, Any]
    rows: list[dict[str, Any]]
    updated_at: datetime = field(default_factory=modified_now)

    @property
    def transaction_date(self) -> str:
        return str(self.fields.get("TransactionDate") or "")

    def to_json(self, base_url: str) -> dict[str, Any]:
        """What ``GET /3/vouchers/{series}/{number}`` answers inside ``{"Voucher": ...}``."""
        rows = [
            {
                "Account": row["Account"],
                "CostCenter": row.get("CostCenter") or "",
                "Credit": row.get("Credit") or Decimal("0"),
                "Debit": row.get("Debit") or Decimal("0"),
                "Description": row.get("Description") or "",
                "Project": row.get("Project") or "",
                "Quantity": row.get("Quantity") or Decimal("0"),
                "Removed": False,
                "TransactionInformation": row.get("TransactionInformation") or "",
            }
            for row in self.rows
        ]
        out = {
            "ApprovalState": 0,
            "Comments": "",
            "CostCenter": "",
            "Description": "",
            "Project": "",
            "ReferenceNumber": "",
            "ReferenceType": "MANUAL",
            **clean(self.fields),
            "@url": f"{base_url}/3/vouchers/{self.series}/{self.number}?financialyear={self.year}",
            "VoucherNumber": self.number,
            "VoucherRows": rows,
            "VoucherSeries": self.series,
            "Year": self.year,
        }
        return dict(sorted(out.items()))


@dataclass
class Tenant:
    """One Fortnox company (database)."""

    tenant_id: str
    company_name: str
    organization_number: str
    vat_rates: set[Decimal]
    currencies: set[str]
    licences: set[str]
    round_to_whole_sek: bool = False
    vat_rounding: VatRounding = "per_rate"  # how Fortnox rounds VAT (undocumented; totals.py)
    currency_rates: dict[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_CURRENCY_RATES))
    # A day's rate set by a test (currency, YYYY-MM-DD); other days follow ``rate_on``'s rule.
    daily_rates: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    # The day of the newest rate Fortnox has (None: today's). Rates are published on business
    # days (the day's rate in the afternoon): on a weekend, or a morning, the newest is an
    # earlier day's, and a document of a later date gets that newest rate.
    rates_dated: date | None = None
    customers: dict[str, Customer] = field(default_factory=dict)
    articles: dict[str, Article] = field(default_factory=dict)
    invoices: dict[int, Invoice] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    payments: dict[int, Payment] = field(default_factory=dict)
    vouchers: dict[tuple[str, int, int], Voucher] = field(default_factory=dict)  # series, year, n
    missing_accounts: set[int] = field(default_factory=set)  # accounts the company lacks
    next_row_id: int = 1
    # Registers (registers.py): account number -> (description, active, VAT code);
    # mode of payment code -> (description, account); terms of payment code -> description.
    accounts: dict[int, tuple[str, bool, str]] = field(
        default_factory=lambda: {n: (d, True, "") for n, d in DEFAULT_ACCOUNTS.items()}
    )
    modes_of_payment: dict[str, tuple[str, int]] = field(
        default_factory=lambda: dict(DEFAULT_MODES_OF_PAYMENT)
    )
    terms_of_payment: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TERMS_OF_PAYMENT))
    # Fortnox Lager (the warehouse module): when active, stock moves through warehouse
    # documents only and an article's QuantityInStock is not writable (warehouse.py).
    warehouse_module: bool = False
    stock_points: dict[str, str] = field(default_factory=lambda: {"LAGER": "Huvudlager"})

    @property
    def database_number(self) -> int:
        return int(self.tenant_id)

    def has_account(self, number: Any) -> bool:
        """Is the account in the company's chart (``accounts``, less ``missing_accounts``)?"""
        try:
            account = int(number)
        except (TypeError, ValueError):
            return False
        return account in self.accounts and account not in self.missing_accounts

    def rate_on(self, currency: str, day: date) -> Decimal | None:
        """The rate Fortnox's automatic rates give a document of ``day`` (SEK per unit).

        Fortnox takes the rate of the document's date (fortnox.md), so two documents of one
        currency on different days have different rates. Here: the day's rate a test set, else
        the base rate moved by up to ±0.5 % by the day (deterministic), never one fixed rate.
        """
        if currency == "SEK":
            return Decimal("1")
        if self.rates_dated is not None and day > self.rates_dated:
            day = self.rates_dated  # no rate of that day yet: the newest one
        set_rate = self.daily_rates.get((currency, day.isoformat()))
        if set_rate is not None:
            return set_rate
        base = self.currency_rates.get(currency)
        if base is None:
            return None
        swing = Decimal((day.toordinal() % 11) - 5) / Decimal(1000)
        return (base * (1 + swing)).quantize(Decimal("0.0001"))

    def allocate_row_id(self) -> int:
        row_id = self.next_row_id
        self.next_row_id += 1
        return row_id


@dataclass(frozen=True)
class RequestRecord:
    """One request seen by the simulator (429s and faulted requests included).

    ``time`` is the simulator clock (``time.monotonic`` by default) at arrival; ``status`` is
    the status the simulator produced (for ``drop_after_commit`` the client never saw it);
    ``fault`` names the fault kind applied, if any.
    """

    time: float
    tenant_id: str | None
    client_id: str | None
    method: str
    path: str
    status: int
    fault: str | None = None
    query: str = ""
