"""What the shop's Fortnox company has: its registers, read through the writer's Fortnox client
(so within the tenant's rate limit, like every other call).

One list call per register (pages of 500; a chart of accounts is usually 1 to 3 pages):
``/3/accounts`` (bookkeeping), ``/3/modesofpayments`` and ``/3/termsofpayments`` (settings),
``/3/currencies`` (currency) and ``/3/vatcodes`` (bookkeeping). A register the connection may
not read (scope 2000663, licence 2001101) or that Fortnox does not offer (404: no public source
shows an endpoint listing a company's VAT rates, docs/simulators.md) is recorded as unreadable
with the reason, and the check says what it could not verify instead of guessing. A feature's
licence (orders, payments) is learnt from one read of a single row (``LICENCE_PROBES``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from libs.common.errors import NeedsReconnection
from services.fortnox_writer.client import FortnoxApiError, FortnoxClient

PAGE = 500
MAX_PAGES = 20  # 10,000 accounts: far more than any chart of accounts
NO_SCOPE = "2000663"
NO_LICENCE = "2001101"

# register -> (path, collection key, the scope it needs)
REGISTERS: dict[str, tuple[str, str, str]] = {
    "accounts": ("/3/accounts", "Accounts", "bookkeeping"),
    "modes_of_payment": ("/3/modesofpayments", "ModesOfPayments", "settings"),
    "terms_of_payment": ("/3/termsofpayments", "TermsOfPayments", "settings"),
    "currencies": ("/3/currencies", "Currencies", "currency"),
    "vat_rates": ("/3/vatcodes", "VATCodes", "bookkeeping"),
}


# scope -> a cheap read that Fortnox refuses with 2001101 when the company has no licence for it
LICENCE_PROBES: dict[str, str] = {"order": "/3/orders", "payment": "/3/invoicepayments"}


@dataclass(frozen=True)
class Unreadable:
    register: str
    scope: str
    reason: str  # no_scope | no_licence | not_offered | refused
    code: str | None


@dataclass
class FortnoxSetup:
    """Each register's contents, or None when it could not be read (see ``unreadable``)."""

    accounts: dict[int, bool] | None = None  # number -> active
    modes_of_payment: set[str] | None = None
    terms_of_payment: set[str] | None = None
    currencies: set[str] | None = None
    vat_rates: set[Decimal] | None = None
    unreadable: dict[str, Unreadable] = field(default_factory=dict)
    unlicensed: set[str] = field(default_factory=set)  # scopes the company has no licence for
    calls: int = 0


async def read_setup(client: FortnoxClient, probe: Iterable[str] = ()) -> FortnoxSetup:
    """The registers, and for each scope in ``probe`` (ones the shop's features need and the
    connection holds) one read of a single row, to learn whether the company has the licence."""
    setup = FortnoxSetup()
    before = client.calls
    for scope in probe:
        path = LICENCE_PROBES.get(scope)
        if path is None:
            continue
        try:
            await client.request("GET", path, params={"limit": "1"})
        except NeedsReconnection as exc:
            if str(exc.code) != NO_LICENCE:
                raise
            setup.unlicensed.add(scope)
    for name, (path, key, scope) in REGISTERS.items():
        try:
            rows = await _rows(client, path, key)
        except NeedsReconnection as exc:
            if str(exc.code) not in (NO_SCOPE, NO_LICENCE):
                raise  # the token itself is refused: the connection needs reconnecting
            reason = "no_scope" if str(exc.code) == NO_SCOPE else "no_licence"
            setup.unreadable[name] = Unreadable(name, scope, reason, str(exc.code))
            continue
        except FortnoxApiError as exc:
            reason = "not_offered" if exc.status == 404 else "refused"
            setup.unreadable[name] = Unreadable(name, scope, reason, exc.code)
            continue
        _store(setup, name, rows)
    setup.calls = client.calls - before
    return setup


async def _rows(client: FortnoxClient, path: str, key: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for number in range(1, MAX_PAGES + 1):
        body = await client.request("GET", path, params={"limit": str(PAGE), "page": str(number)})
        rows.extend(row for row in body.get(key) or [] if isinstance(row, dict))
        meta = body.get("MetaInformation") or {}
        if number >= int(meta.get("@TotalPages") or 1):
            break
    return rows


def _store(setup: FortnoxSetup, name: str, rows: list[dict[str, Any]]) -> None:
    if name == "accounts":
        setup.accounts = {
            int(row["Number"]): row.get("Active") is not False
            for row in rows
            if str(row.get("Number", "")).isdigit()
        }
    elif name == "vat_rates":
        setup.vat_rates = {rate for row in rows if (rate := _rate(row.get("VAT"))) is not None}
    else:
        codes = {str(row["Code"]) for row in rows if row.get("Code") is not None}
        if name == "currencies":
            codes = {code.upper() for code in codes}
        setattr(setup, name, codes)


def _rate(value: Any) -> Decimal | None:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return rate.normalize() if rate.is_finite() else None
