"""/3/orders: list, create, read, update and the createinvoice/cancel actions.

- ``GET /3/orders``: substring search on externalinvoicereference1/2, customernumber,
  customername, documentnumber, yourordernumber, orderdate; ``filter`` = cancelled | expired |
  invoicecreated | invoicenotcreated.
- ``POST /3/orders`` -> 201. OrderRows take OrderedQuantity and DeliveredQuantity (defaults to
  OrderedQuantity); totals are computed on DeliveredQuantity like invoices.
- ``PUT /3/orders/{n}`` refused once the order is invoiced or cancelled.
- ``PUT /{n}/createinvoice`` -> ``{"Invoice": ...}``: a new invoice (next invoice number) with the
  order's header and rows (quantity = DeliveredQuantity), OrderReference -> order; the order
  gets InvoiceReference. Only once, and not for a cancelled order.
- ``PUT /{n}/cancel``: refused once invoiced.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Invoice, Order, Tenant
from simulators.fortnox.documents import (
    build_rows,
    clean,
    compute,
    invoice_json,
    next_number,
    order_json,
    order_list_row,
    resolve_header,
)
from simulators.fortnox.invoices import store_invoice
from simulators.fortnox.listing import ListSpec, modified_now, page, select
from simulators.fortnox.schema import INVOICE, INVOICE_ROW, ORDER, ORDER_ROW
from simulators.fortnox.wire import json_response, read_envelope

ORDER_LIST = ListSpec[Order](
    searches={
        "externalinvoicereference1": lambda o: str(o.get("ExternalInvoiceReference1") or ""),
        "externalinvoicereference2": lambda o: str(o.get("ExternalInvoiceReference2") or ""),
        "customernumber": lambda o: o.customer_number,
        "customername": lambda o: str(o.get("CustomerName") or ""),
        "documentnumber": lambda o: str(o.document_number),
        "yourordernumber": lambda o: str(o.get("YourOrderNumber") or ""),
        "orderdate": lambda o: str(o.get("OrderDate") or ""),
    },
    filters={
        "cancelled": lambda o: o.cancelled,
        "expired": lambda o: (
            not o.cancelled
            and o.invoice_reference == 0
            and str(o.get("DeliveryDate") or "9999-12-31") < date.today().isoformat()
        ),
        "invoicecreated": lambda o: o.invoice_reference != 0,
        "invoicenotcreated": lambda o: o.invoice_reference == 0 and not o.cancelled,
    },
    modified=lambda o: o.updated_at,
    default_sort=lambda o: o.document_number,
    dated=lambda o: str(o.fields.get("OrderDate") or ""),
)


def create_order(tenant: Tenant, body: dict[str, Any]) -> Order:
    parsed = clean(ORDER.parse(body))
    raw_rows = parsed.pop("OrderRows", None)
    number = parsed.pop("DocumentNumber", None)
    header, _ = resolve_header(tenant, parsed)
    header.setdefault("OrderDate", date.today().isoformat())
    rows = build_rows(tenant, raw_rows, ORDER_ROW, ordered=True)
    if number is None:
        number = next_number(tenant.orders)
    elif number < 1 or number in tenant.orders:
        raise errors.bad_request(errors.SIM_DOCUMENT_NUMBER_USED, str(number))
    order = Order(number, header, rows, compute(tenant, header, rows))
    tenant.orders[number] = order
    return order


def update_order(tenant: Tenant, order: Order, body: dict[str, Any]) -> None:
    if order.cancelled or order.invoice_reference:
        raise errors.bad_request(errors.SIM_DOCUMENT_LOCKED, f"order {order.document_number}")
    parsed = ORDER.parse(body)
    raw_rows = parsed.pop("OrderRows", None)
    parsed.pop("DocumentNumber", None)
    header, _ = resolve_header(tenant, clean({**order.fields, **parsed}))
    rows = order.rows
    if raw_rows is not None:
        rows = build_rows(tenant, raw_rows, ORDER_ROW, ordered=True)
    order.fields, order.rows, order.totals = header, rows, compute(tenant, header, rows)
    order.updated_at = modified_now()


def invoice_order(tenant: Tenant, order: Order) -> Invoice:
    if order.cancelled:
        raise errors.bad_request(errors.SIM_INVALID_STATE, "ordern är makulerad")
    if order.invoice_reference:
        raise errors.bad_request(
            errors.SIM_INVALID_STATE, f"faktura {order.invoice_reference} finns redan"
        )
    header = {k: v for k, v in order.fields.items() if k in INVOICE.writable}
    row_fields = INVOICE_ROW.writable
    rows = [
        {**{k: v for k, v in row.items() if k in row_fields}, "RowId": tenant.allocate_row_id()}
        for row in order.rows
    ]
    invoice = store_invoice(tenant, header, rows, order_reference=order.document_number)
    order.invoice_reference = invoice.document_number
    order.updated_at = modified_now()
    return invoice


def _find(request: web.Request) -> Order:
    raw = request.match_info["number"]
    order = keys.tenant(request).orders.get(int(raw)) if raw.isdigit() else None
    if order is None:
        raise errors.not_found(errors.ORDER_NOT_FOUND)
    return order


def _one(request: web.Request, order: Order, status: int = 200) -> web.Response:
    return json_response({"Order": order_json(order, keys.base_url(request))}, status)


async def list_orders(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    chosen = select(list(tenant.orders.values()), request.query, ORDER_LIST)
    base = keys.base_url(request)
    return json_response(page(chosen, request.query, "Orders", lambda o: order_list_row(o, base)))


async def post_order(request: web.Request) -> web.Response:
    body = await read_envelope(request, "Order")
    return _one(request, create_order(keys.tenant(request), body), status=201)


async def get_order(request: web.Request) -> web.Response:
    return _one(request, _find(request))


async def put_order(request: web.Request) -> web.Response:
    order = _find(request)
    body = await read_envelope(request, "Order")
    update_order(keys.tenant(request), order, body)
    return _one(request, order)


async def order_action(request: web.Request) -> web.Response:
    order = _find(request)
    action = request.match_info["action"]
    tenant = keys.tenant(request)
    if action == "createinvoice":
        invoice = invoice_order(tenant, order)
        return json_response({"Invoice": invoice_json(invoice, keys.base_url(request))})
    if action == "cancel":
        if order.cancelled or order.invoice_reference:
            raise errors.bad_request(errors.SIM_INVALID_STATE, "makulerad eller fakturerad")
        order.cancelled = True
        order.updated_at = modified_now()
        return _one(request, order)
    raise errors.not_found(errors.SIM_NOT_FOUND, action)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/orders", list_orders)
    app.router.add_post("/3/orders", post_order)
    app.router.add_get("/3/orders/{number}", get_order)
    app.router.add_put("/3/orders/{number}", put_order)
    app.router.add_put("/3/orders/{number}/{action}", order_action)
