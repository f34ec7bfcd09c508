"""/3/vouchers: manual vouchers (verifikationer), balanced or refused.

- ``POST /3/vouchers`` ``{"Voucher": {VoucherSeries, TransactionDate, Description,
  Comments, VoucherRows: [{Account, Debit, Credit,
  Description, TransactionInformation, CostCenter, Project}]}}`` -> 201 with VoucherNumber
  (next in the series and financial year) and Year. Each row carries Debit or Credit (the other
  0); the sums of Debit and Credit must be equal (400 code 2999015, simulator-chosen: no public
  source shows the real code). An account the company's chart lacks (``tenant.accounts`` less
  ``missing_accounts``, as for document rows) answers 400 2000423 "Kan inte hitta kontot. (N)"
  (documented code and message), nothing made. VoucherSeries is required (2999007). Vouchers
  are booked at once: they cannot be changed or deleted (Fortnox corrects a voucher with
  another one).
- ``GET /3/vouchers`` (``financialyear``, ``fromdate``, ``todate``; list rows without rows),
  ``GET /3/vouchers/sublist/{series}``, ``GET /3/vouchers/{series}/{number}``.

Fortnox vouchers carry no external reference; an integration finds its own by listing the
series and dates and comparing ``Description``/``ReferenceNumber`` exactly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Tenant, Voucher
from simulators.fortnox.documents import clean
from simulators.fortnox.listing import ListSpec, page, select
from simulators.fortnox.schema import FieldSpec, Kind, Schema, _fields, _read_only, coerce, names
from simulators.fortnox.wire import json_response, read_envelope

VOUCHER = Schema(
    "Voucher",
    {
        **_fields(Kind.STR, "VoucherSeries Description Comments"),
        **_fields(Kind.STR, "CostCenter Project"),
        **_fields(Kind.DATE, "TransactionDate"),
        **_fields(Kind.LIST, "VoucherRows"),
    },
    _read_only("VoucherNumber Year ApprovalState ReferenceNumber ReferenceType"),
)
VOUCHER_ROW = Schema(
    "VoucherRow",
    {
        **_fields(Kind.INT, "Account"),
        **_fields(Kind.DEC, "Debit Credit Quantity"),
        **_fields(Kind.STR, "Description TransactionInformation CostCenter Project"),
        "Removed": FieldSpec(Kind.BOOL),
    },
    _read_only(""),
)
LIST_FIELDS = names(
    "@url Comments Description ReferenceNumber ReferenceType TransactionDate VoucherNumber "
    "VoucherSeries Year ApprovalState"
)


VOUCHER_LIST = ListSpec[Voucher](
    searches={"voucherseries": lambda v: v.series},
    filters={},
    modified=lambda v: v.updated_at,
    default_sort=lambda v: (v.year, v.series, v.number),
)


def create_voucher(tenant: Tenant, body: dict[str, Any]) -> Voucher:
    fields = clean(VOUCHER.parse(body))
    raw_rows = fields.pop("VoucherRows", None) or []
    series = str(fields.pop("VoucherSeries", "") or "").upper()
    if not series:
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "VoucherSeries")
    when = fields.setdefault("TransactionDate", date.today().isoformat())
    if not isinstance(raw_rows, list) or len(raw_rows) < 2:
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "VoucherRows (minst två rader)")
    rows: list[dict[str, Any]] = []
    debit = credit = Decimal("0")
    for raw in raw_rows:
        if not isinstance(raw, dict):
            raise errors.bad_request(errors.BAD_DATA_STRUCTURE)
        row = clean(VOUCHER_ROW.parse(raw))
        account = row.get("Account")
        if account is None:
            raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Account")
        if not tenant.has_account(account):
            raise errors.bad_request(errors.ACCOUNT_NOT_FOUND, str(account))
        row_debit = coerce("Debit", FieldSpec(Kind.DEC), row.get("Debit") or Decimal("0"))
        row_credit = coerce("Credit", FieldSpec(Kind.DEC), row.get("Credit") or Decimal("0"))
        if row_debit < 0 or row_credit < 0 or (row_debit and row_credit):
            raise errors.bad_request(errors.SIM_INVALID_VALUE, f"konto {account}: Debit/Credit")
        debit += row_debit
        credit += row_credit
        rows.append({**row, "Debit": row_debit, "Credit": row_credit})
    if debit != credit:
        raise errors.bad_request(errors.SIM_VOUCHER_UNBALANCED, f"debet {debit}, kredit {credit}")
    year = int(when[:4])
    store = tenant.vouchers
    number = 1 + max((n for (s, y, n) in store if s == series and y == year), default=0)
    voucher = Voucher(series, number, year, fields, rows)
    store[(series, year, number)] = voucher
    return voucher


def _find(request: web.Request) -> Voucher:
    tenant = keys.tenant(request)
    series = request.match_info["series"].upper()
    raw = request.match_info["number"]
    year_raw = request.query.get("financialyear")
    store = tenant.vouchers
    if raw.isdigit():
        for (s, y, n), voucher in sorted(store.items(), reverse=True):
            if s == series and n == int(raw) and (year_raw is None or str(y) == year_raw):
                return voucher
    raise errors.not_found(errors.SIM_NOT_FOUND, f"verifikation {series}{raw}")


def _listing(request: web.Request, chosen: list[Voucher]) -> web.Response:
    base = keys.base_url(request)
    query = request.query
    year = query.get("financialyear")
    if year:
        chosen = [v for v in chosen if str(v.year) == year]
    if query.get("fromdate"):
        chosen = [v for v in chosen if v.transaction_date >= query["fromdate"]]
    if query.get("todate"):
        chosen = [v for v in chosen if v.transaction_date <= query["todate"]]

    def render(voucher: Voucher) -> dict[str, Any]:
        full = voucher.to_json(base)
        return {name: full.get(name) for name in LIST_FIELDS}

    return json_response(page(chosen, query, "Vouchers", render))


async def list_vouchers(request: web.Request) -> web.Response:
    store = keys.tenant(request).vouchers
    return _listing(request, select(list(store.values()), request.query, VOUCHER_LIST))


async def list_series(request: web.Request) -> web.Response:
    series = request.match_info["series"].upper()
    store = keys.tenant(request).vouchers
    chosen = [v for v in select(list(store.values()), request.query, VOUCHER_LIST)]
    return _listing(request, [v for v in chosen if v.series == series])


async def post_voucher(request: web.Request) -> web.Response:
    body = await read_envelope(request, "Voucher")
    voucher = create_voucher(keys.tenant(request), body)
    return json_response({"Voucher": voucher.to_json(keys.base_url(request))}, 201)


async def get_voucher(request: web.Request) -> web.Response:
    return json_response({"Voucher": _find(request).to_json(keys.base_url(request))})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/vouchers", list_vouchers)
    app.router.add_post("/3/vouchers", post_voucher)
    app.router.add_get("/3/vouchers/sublist/{series}", list_series)
    app.router.add_get("/3/vouchers/{series}/{number}", get_voucher)
