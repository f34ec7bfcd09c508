"""The Fortnox simulator's documents over real HTTP, and its pure totals function."""

from __future__ import annotations

from typing import Any

from simulators.fortnox.totals import RowInput, compute_totals
from tests.simulators._fortnox_client import (
    TENANT,
    Api,
    D,
    seed,
    simple_invoice,
)


def test_totals_two_rates_discount_freight_and_round_off() -> None:
    rows = [
        RowInput(price=D("100"), quantity=D("3"), vat=D("25"), discount=D("10")),  # 270.00
        RowInput(
            price=D("49.90"), quantity=D("2"), vat=D("12"), discount=D("5"), discount_type="AMOUNT"
        ),  # 94.80
        RowInput(price=D("19.99"), quantity=D("1"), vat=D("25")),  # 19.99
    ]
    totals = compute_totals(rows, freight=D("49"), round_to_whole=True)
    assert [r.total for r in totals.rows] == [D("270.00"), D("94.80"), D("19.99")]
    assert totals.vat_by_rate == {D("25"): D("72.50"), D("12"): D("11.38")}  # 72.4975, 11.376
    assert totals.freight_vat == D("12.25")
    assert totals.net == D("384.79")
    assert totals.total_vat == D("96.13")
    assert totals.round_off == D("0.08")  # 529.92 -> 530
    assert totals.total == D("530")

    unrounded = compute_totals(rows, freight=D("49"))
    assert (unrounded.total, unrounded.round_off) == (D("529.92"), D("0"))


def test_totals_vat_on_sum_per_rate_and_vat_included() -> None:
    two_cents = [RowInput(price=D("0.02"), quantity=D("1"), vat=D("25"))] * 2
    # per row 0.005 would round to 0.01 each; Fortnox-style VAT on the sum 0.04 is 0.01
    assert compute_totals(two_cents).total_vat == D("0.01")

    gross = compute_totals(
        [RowInput(price=D("125"), quantity=D("2"), vat=D("25"))], vat_included=True
    )
    assert (gross.total_vat, gross.net, gross.total) == (D("50.00"), D("200.00"), D("250"))
    assert gross.rows[0].total_excluding_vat == D("200.00")

    # the recorded real invoice: 100 @ 25 %, freight 25, fee 50 -> 219 with RoundOff 0.25
    real = compute_totals(
        [RowInput(price=D("100"), quantity=D("1"), vat=D("25"))],
        freight=D("25"),
        administration_fee=D("50"),
        round_to_whole=True,
    )
    assert (real.administration_fee_vat, real.total_vat) == (D("12.50"), D("43.75"))
    assert (real.total, real.round_off) == (D("219"), D("0.25"))


# --- OAuth -------------------------------------------------------------------------------------
async def test_create_documents_with_envelopes_and_computed_totals(api: Api) -> None:
    api.sim.tenant(TENANT).round_to_whole_sek = True
    status, customer = await api.call(
        "POST", "/3/customers", {"Customer": {"Name": "Kund AB", "Email": "Kund@Example.se"}}
    )
    assert status == 201 and customer["Customer"]["CustomerNumber"] == "1"
    status, article = await api.call(
        "POST", "/3/articles", {"Article": {"ArticleNumber": "SKU-1", "Description": "Tröja"}}
    )
    assert status == 201 and article["Article"]["VAT"] == 25

    invoice = {
        "Invoice": {
            "CustomerNumber": "1",
            "Freight": 49,
            "YourOrderNumber": "#1001",
            "InvoiceRows": [
                {"ArticleNumber": "SKU-1", "Price": 100, "DeliveredQuantity": 3, "Discount": 10},
                {
                    "Description": "Mat",
                    "Price": "49.90",
                    "DeliveredQuantity": 2,
                    "VAT": 12,
                    "Discount": 5,
                    "DiscountType": "AMOUNT",
                },
                {"Description": "Strumpor", "Price": "19.99", "DeliveredQuantity": 1, "VAT": 25},
            ],
        }
    }
    status, created = await api.call("POST", "/3/invoices", invoice)
    assert status == 201 and set(created) == {"Invoice"}
    doc = created["Invoice"]
    assert doc["DocumentNumber"] == "1" and doc["CustomerName"] == "Kund AB"
    assert (doc["Net"], doc["TotalVAT"], doc["FreightVAT"]) == (384.79, 96.13, 12.25)
    assert (doc["Total"], doc["RoundOff"], doc["Balance"]) == (530, 0.08, 530)
    assert [row["Total"] for row in doc["InvoiceRows"]] == [270, 94.8, 19.99]
    assert doc["InvoiceRows"][0]["Description"] == "Tröja"  # from the article
    assert (doc["Booked"], doc["Cancelled"], doc["Credit"]) == (False, False, "false")
    assert doc["CreditInvoiceReference"] == "0"

    stored = api.sim.tenant(TENANT).invoices[1]
    assert (stored.total, stored.total_vat, stored.balance) == (D("530"), D("96.13"), D("530"))
    status, fetched = await api.call("GET", "/3/invoices/1")
    assert status == 200 and fetched == created

    status, second = await api.call("POST", "/3/invoices", simple_invoice())
    assert status == 201 and second["Invoice"]["DocumentNumber"] == "2"


async def test_searches_are_substring_matches(api: Api) -> None:
    await seed(api)
    for ref in ("123", "1234", "999"):
        assert (await api.call("POST", "/3/invoices", simple_invoice(ref)))[0] == 201
    status, found = await api.call("GET", "/3/invoices?externalinvoicereference1=123")
    assert status == 200
    assert [row["ExternalInvoiceReference1"] for row in found["Invoices"]] == ["123", "1234"]
    assert found["MetaInformation"] == {
        "@TotalResources": 2,
        "@TotalPages": 1,
        "@CurrentPage": 1,
    }
    assert "InvoiceRows" not in found["Invoices"][0]  # list rows are a subset

    await api.call("POST", "/3/customers", {"Customer": {"Name": "Anna", "Email": "Anna@Shop.se"}})
    _, customers = await api.call("GET", "/3/customers?email=anna@shop")
    assert [c["CustomerNumber"] for c in customers["Customers"]] == ["2"]

    _, none = await api.call("GET", "/3/invoices?externalinvoicereference1=nope")
    assert none["MetaInformation"]["@TotalPages"] == 0 and none["Invoices"] == []


async def test_paging_and_bad_list_parameters(api: Api) -> None:
    for name in ("A", "B", "C"):
        await api.call("POST", "/3/customers", {"Customer": {"Name": name}})
    _, page2 = await api.call("GET", "/3/customers?limit=2&page=2")
    assert [c["Name"] for c in page2["Customers"]] == ["C"]
    assert page2["MetaInformation"] == {"@TotalResources": 3, "@TotalPages": 2, "@CurrentPage": 2}
    status, body = await api.call("GET", "/3/customers?limit=501")
    assert status == 400 and body["ErrorInformation"]["code"] == 2000588
    status, body = await api.call("GET", "/3/invoices?filter=doesntexist")
    assert status == 400 and body["ErrorInformation"]["code"] == 2000587


async def test_error_envelopes_404_capitalised_400_lowercase(api: Api) -> None:
    status, body = await api.call("GET", "/3/articles/NOPE")
    assert status == 404
    assert body == {
        "ErrorInformation": {"Error": 1, "Message": "Kan inte hitta artikeln.", "Code": 2000428}
    }
    status, body = await api.call("POST", "/3/invoices", simple_invoice())  # no customer 1 yet
    assert status == 400
    assert set(body["ErrorInformation"]) == {"error", "message", "code"}
    assert body["ErrorInformation"]["code"] == 2000433

    await seed(api)
    cases: list[tuple[dict[str, Any] | None, bytes | None, int]] = [
        (None, b"{not json", 2002115),
        ({"Faktura": {}}, None, 2001392),
        ({"Invoice": {"CustomerNumber": "1", "Bogus": 1}}, None, 2001399),
        ({"Invoice": {"CustomerNumber": "1", "Freight": "abc"}}, None, 2000108),
        (
            {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [{"ArticleNumber": "NOPE"}]}},
            None,
            2000428,
        ),
    ]
    for payload, raw, code in cases:
        status, body = await api.call("POST", "/3/invoices", payload, data=raw)
        assert (status, body["ErrorInformation"]["code"]) == (400, code), payload or raw
    too_many = {"CustomerNumber": "1", "InvoiceRows": [{"Description": "x"}] * 501}
    assert (await api.call("POST", "/3/invoices", {"Invoice": too_many}))[0] == 400
    assert api.sim.tenant(TENANT).invoices == {}  # nothing committed by any failure

    status, body = await api.call(
        "POST", "/3/articles", {"Article": {"ArticleNumber": "A B", "Description": "x"}}
    )
    assert (status, body["ErrorInformation"]["code"]) == (400, 2000359)
    status, body = await api.call(
        "POST", "/3/customers", {"Customer": {"CustomerNumber": "1", "Name": "x"}}
    )
    assert (status, body["ErrorInformation"]["code"]) == (400, 2000637)
    status, body = await api.call("GET", "/3/invoices/77")
    assert (status, body["ErrorInformation"]["Code"]) == (404, 2000434)


async def test_unknown_vat_rate_is_rejected(api: Api) -> None:
    await seed(api)
    api.sim.set_vat_rates(TENANT, {25, 6, 0})
    row = {"Description": "Mat", "Price": 10, "DeliveredQuantity": 1, "VAT": 12}
    status, body = await api.call(
        "POST", "/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [row]}}
    )
    assert status == 400
    assert "Kunde inte hitta moms" in body["ErrorInformation"]["message"]
    assert body["ErrorInformation"]["code"] == 2000728
    row["VAT"] = 6
    status, body = await api.call(
        "POST", "/3/invoices", {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [row]}}
    )
    assert status == 201 and body["Invoice"]["TotalVAT"] == 0.6


async def test_credit_only_booked_and_only_once(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice("order-1"))
    status, body = await api.call("PUT", "/3/invoices/1/credit")
    assert status == 400  # not booked yet
    status, booked = await api.call("PUT", "/3/invoices/1/bookkeep")
    assert status == 200 and booked["Invoice"]["Booked"] is True
    status, _ = await api.call("PUT", "/3/invoices/1", {"Invoice": {"Remarks": "late"}})
    assert status == 400  # booked invoices are locked
    assert (await api.call("PUT", "/3/invoices/1/cancel"))[0] == 400

    status, original = await api.call("PUT", "/3/invoices/1/credit")
    assert status == 200 and original["Invoice"]["CreditInvoiceReference"] == "2"
    _, credit = await api.call("GET", "/3/invoices/2")
    assert credit["Invoice"]["Credit"] == "true"
    assert credit["Invoice"]["InvoiceReference"] == "1"
    assert credit["Invoice"]["Total"] == -125 and credit["Invoice"]["TotalVAT"] == -25

    status, body = await api.call("PUT", "/3/invoices/1/credit")
    assert status == 400 and body["ErrorInformation"]["code"] == 2999004
    assert len(api.sim.tenant(TENANT).invoices) == 2


async def test_cancel_unbooked_invoice(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice())
    status, body = await api.call("PUT", "/3/invoices/1/cancel")
    assert status == 200 and body["Invoice"]["Cancelled"] is True
    assert (await api.call("PUT", "/3/invoices/1/bookkeep"))[0] == 400


async def test_payments_reduce_the_balance(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice())  # total 125
    payment = {"InvoicePayment": {"InvoiceNumber": 1, "Amount": 50, "PaymentDate": "2025-01-02"}}
    status, created = await api.call("POST", "/3/invoicepayments", payment)
    assert status == 201 and created["InvoicePayment"]["Number"] == 1
    _, invoice = await api.call("GET", "/3/invoices/1")
    assert invoice["Invoice"]["Balance"] == 75

    payment["InvoicePayment"]["Amount"] = 75
    await api.call("POST", "/3/invoicepayments", payment)
    assert api.sim.tenant(TENANT).invoices[1].balance == 0
    _, paid = await api.call("GET", "/3/invoices?filter=fullypaid")
    assert [row["DocumentNumber"] for row in paid["Invoices"]] == ["1"]
    _, listed = await api.call("GET", "/3/invoicepayments?invoicenumber=1")
    assert [p["Amount"] for p in listed["InvoicePayments"]] == [50, 75]
    status, booked = await api.call("PUT", "/3/invoicepayments/1/bookkeep")
    assert status == 200 and booked["InvoicePayment"]["Booked"] is True

    payment["InvoicePayment"]["InvoiceNumber"] = 99
    status, body = await api.call("POST", "/3/invoicepayments", payment)
    assert status == 400 and body["ErrorInformation"]["code"] == 2000434


async def test_order_create_invoice_once(api: Api) -> None:
    await seed(api)
    rows = [{"ArticleNumber": "SKU-1", "Price": 80, "OrderedQuantity": 2}]
    order = {
        "Order": {"CustomerNumber": "1", "ExternalInvoiceReference1": "S-42", "OrderRows": rows}
    }
    status, created = await api.call("POST", "/3/orders", order)
    assert status == 201 and created["Order"]["Total"] == 200
    assert created["Order"]["OrderRows"][0]["DeliveredQuantity"] == "2"
    _, found = await api.call("GET", "/3/orders?externalinvoicereference1=S-4")
    assert [o["DocumentNumber"] for o in found["Orders"]] == ["1"]

    status, invoice = await api.call("PUT", "/3/orders/1/createinvoice")
    assert status == 200 and invoice["Invoice"]["OrderReference"] == "1"
    assert invoice["Invoice"]["Total"] == 200
    _, stored = await api.call("GET", "/3/orders/1")
    assert stored["Order"]["InvoiceReference"] == invoice["Invoice"]["DocumentNumber"]
    assert (await api.call("PUT", "/3/orders/1/createinvoice"))[0] == 400
    assert (await api.call("PUT", "/3/orders/1/cancel"))[0] == 400


# --- rate limit --------------------------------------------------------------------------------
