"""VAT rates from tax lines, markets (Sweden, EU with VAT, EU reverse charge, export), accounts.

The market decides the customer's Fortnox VATType and the sales account of every row. It follows
what Shopify charged, so the invoice always carries the VAT the customer paid:

| destination | VAT charged | VAT number | market | VATType |
|---|---|---|---|---|
| home country | any | any | sweden | SEVAT |
| EU country | yes | any | eu_vat | EUVAT (OSS: destination rates) |
| EU country | no | yes | eu_reverse | EUREVERSEDVAT + EUQuarterlyReport |
| EU country | no | no | eu_vat | EUVAT (0 % rows on the EU VAT-free account) |
| outside EU | no | any | export | EXPORT |
| outside EU | yes | any | sweden | SEVAT (Swedish VAT was charged) |
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from services.mapper.accounting.money import HUNDRED, ZERO
from services.mapper.accounting.settings import SalesAccounts

Market = Literal["sweden", "eu_vat", "eu_reverse", "export"]

EU_COUNTRIES = frozenset(
    {
        *("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU"),
        *("IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"),
    }
)
VAT_TYPES: dict[Market, str] = {
    "sweden": "SEVAT",
    "eu_vat": "EUVAT",
    "eu_reverse": "EUREVERSEDVAT",
    "export": "EXPORT",
}


def vat_rate(tax_lines: list[dict[str, Any]] | None, taxable: bool = True) -> Decimal:
    """The VAT percentage from tax lines (0.25 -> 25, 0.255 -> 25.5); untaxed lines are 0.

    Several tax lines on one line (rare in the EU) add up. Rates travel as JSON numbers; they
    are read through their shortest decimal text, so 0.12 is exactly 12 %.
    """
    if not taxable or not tax_lines:
        return ZERO
    total = sum((Decimal(str(line.get("rate", 0))) for line in tax_lines), ZERO)
    rate = (total * HUNDRED).normalize()
    return rate if rate != 0 else ZERO


def market_for(country: str | None, home: str, vat_charged: bool, vat_number: str | None) -> Market:
    country = (country or home).upper()
    if country == home.upper():
        return "sweden"
    if country in EU_COUNTRIES:
        if not vat_charged and vat_number:
            return "eu_reverse"
        return "eu_vat"
    return "sweden" if vat_charged else "export"


def sales_account(accounts: SalesAccounts, market: Market, rate: Decimal) -> int | None:
    """The sales account for a row; None leaves it to the article or Fortnox's default."""
    if market == "sweden":
        return accounts.sweden.get(format(rate.normalize(), "f"))
    if market == "eu_vat":
        return accounts.eu_vat if rate else accounts.eu_vat_free
    if market == "eu_reverse":
        return accounts.eu_vat_free
    return accounts.export
