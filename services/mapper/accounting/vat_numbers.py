"""EU VAT numbers: their format per member state, and what a check found (pure, no I/O).

An EU business order without VAT is booked as reverse charge only with a VAT number that VIES
confirmed (services/mapper/vies.py asks it; this module decides what to ask and what the
answer means). A number is first checked against its member state's format, so a typo never
costs a VIES call; a number of the shop's own country gives no reverse charge either.

| status | meaning | the sale is booked |
|---|---|---|
| valid | VIES confirmed the number | reverse charge (0 %, EUREVERSEDVAT) |
| invalid | VIES says the number is not valid | with the shop's VAT, and the timeline says why |
| bad_format | not a VAT number of that member state | with the shop's VAT, and says why |
| unavailable | VIES did not answer (VIES_UNAVAILABLE decides) | retried, then with VAT; says so |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from services.mapper.accounting.customers import company_details, destination_country
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.vat import EU_COUNTRIES

# The number after its country prefix, per member state (VIES's codes: Greece is EL).
FORMATS: dict[str, str] = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{10}01",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
}
_PATTERNS = {country: re.compile(f"(?:{pattern})") for country, pattern in FORMATS.items()}

VatStatus = Literal["valid", "invalid", "bad_format", "unavailable"]


def vies_country(country: str) -> str:
    """The VIES code of an ISO country (GR -> EL)."""
    country = country.upper()
    return "EL" if country == "GR" else country


@dataclass(frozen=True)
class VatNumber:
    """A VAT number split for VIES: its member state and the number after the prefix."""

    country: str  # VIES code
    number: str

    @property
    def full(self) -> str:
        return f"{self.country}{self.number}"


def parse(value: str, destination: str) -> VatNumber:
    """Split a VAT number (spaces and dots already removed, upper case); a number without a
    country prefix is taken as one of the destination country."""
    value = re.sub(r"[^A-Z0-9+*]", "", value.upper())
    prefix = value[:2]
    if prefix == "GR":
        prefix = "EL"
    if prefix in FORMATS:
        return VatNumber(prefix, value[2:])
    return VatNumber(vies_country(destination), value)


def format_problem(number: VatNumber, home: str) -> str | None:
    """Why the number cannot be a valid VAT number for reverse charge, or None."""
    pattern = _PATTERNS.get(number.country)
    if pattern is None:
        return f"{number.full} is not a VAT number of an EU member state"
    if number.country == vies_country(home):
        return (
            f"{number.full} is a VAT number of the shop's own country: a sale to a business "
            "there is not an EU reverse charge sale"
        )
    if not pattern.fullmatch(number.number):
        return f"{number.full} does not have the format of a {number.country} VAT number"
    return None


@dataclass(frozen=True)
class VatCheck:
    """What is known about an order's VAT number; ``checked_at`` is VIES's requestDate."""

    number: str
    status: VatStatus
    reason: str
    checked_at: datetime | None = None
    consultation: str | None = None
    name: str | None = None

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def notice(self, rate: Decimal) -> str:
        """The warning the order's timeline and status show when it is booked with VAT."""
        return (
            f"VAT number {self.number} not verified ({self.reason}): booked with the shop's "
            f"VAT ({format(rate.normalize(), 'f')} %), not as EU reverse charge"
        )

    def vies_note(self) -> str | None:
        """Fortbridge's line in the Fortnox customer's Comments: the verified number."""
        if not self.valid or self.checked_at is None:
            return None
        consultation = f", consultation {self.consultation}" if self.consultation else ""
        return (
            f"VIES: {self.number} valid, checked {self.checked_at.date().isoformat()}{consultation}"
        )


def vat_charged(order: dict[str, Any]) -> bool:
    lines = [*(order.get("line_items") or []), *(order.get("shipping_lines") or [])]
    return any(
        Decimal(str(tax.get("rate") or 0)) and str(tax.get("price") or "0") not in ("0", "0.00")
        for line in lines
        for tax in line.get("tax_lines") or []
    )


def number_to_check(order: dict[str, Any], settings: ShopSettings) -> str | None:
    """The VAT number that decides whether this order is reverse charge, or None when none
    does: only an order to another EU country, without VAT charged, that names a number."""
    if "line_items" not in order:
        return None
    home = settings.home_country.upper()
    destination = destination_country(order, home)
    if destination == home or destination not in EU_COUNTRIES or vat_charged(order):
        return None
    return company_details(order, settings)[1]
