"""The simulator's invoice e-mail action, a credit of a credit, and payments' own reference."""

from __future__ import annotations

from tests.simulators._fortnox_client import TENANT, Api, seed, simple_invoice


async def test_email_is_a_get_that_sends_and_marks_sent(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice("order-1"))
    status, body = await api.call("GET", "/3/invoices/1/email")
    assert status == 400 and "EmailAddressTo" in body["ErrorInformation"]["message"]
    assert api.sim.tenant(TENANT).invoices[1].sent is False

    info = {"Invoice": {"EmailInformation": {"EmailAddressTo": "kund@example.com"}}}
    assert (await api.call("PUT", "/3/invoices/1", info))[0] == 200
    status, body = await api.call("GET", "/3/invoices/1/email")
    assert status == 200 and body["Invoice"]["Sent"] is True
    _, listed = await api.call("GET", "/3/invoices")
    assert listed["Invoices"][0]["Sent"] is True
    await api.call("GET", "/3/invoices/1/email")  # every call sends again, as Fortnox does
    assert api.sim.tenant(TENANT).invoices[1].emails == ["kund@example.com"] * 2
    assert (await api.call("PUT", "/3/invoices/1/email"))[0] == 404  # the method is GET


async def test_email_uses_the_customer_address_and_refuses_a_cancelled_invoice(api: Api) -> None:
    await seed(api)
    customer = {"Customer": {"Email": "info@kund.se", "EmailInvoice": "faktura@kund.se"}}
    assert (await api.call("PUT", "/3/customers/1", customer))[0] == 200
    await api.call("POST", "/3/invoices", simple_invoice())
    assert (await api.call("GET", "/3/invoices/1/email"))[0] == 200
    assert api.sim.tenant(TENANT).invoices[1].emails == ["faktura@kund.se"]

    await api.call("POST", "/3/invoices", simple_invoice())
    await api.call("PUT", "/3/invoices/2/cancel")
    status, body = await api.call("GET", "/3/invoices/2/email")
    assert status == 400 and body["ErrorInformation"]["code"] == 2999003


async def test_a_credit_invoice_cannot_be_credited_and_a_booked_one_not_cancelled(
    api: Api,
) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice())
    await api.call("PUT", "/3/invoices/1/bookkeep")
    status, body = await api.call("PUT", "/3/invoices/1/cancel")
    assert status == 400 and body["ErrorInformation"]["code"] == 2999003
    await api.call("PUT", "/3/invoices/1/credit")
    await api.call("PUT", "/3/invoices/2/bookkeep")
    status, body = await api.call("PUT", "/3/invoices/2/credit")
    assert status == 400 and body["ErrorInformation"]["code"] == 2999003
    assert len(api.sim.tenant(TENANT).invoices) == 2


async def test_a_payment_keeps_its_external_reference(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice())
    payment = {
        "InvoicePayment": {
            "InvoiceNumber": 1,
            "Amount": 125,
            "PaymentDate": "2026-03-02",
            "ModeOfPayment": "CARD",
            "ExternalInvoiceReference1": "tx-1",
        }
    }
    status, created = await api.call("POST", "/3/invoicepayments", payment)
    assert status == 201 and created["InvoicePayment"]["ExternalInvoiceReference1"] == "tx-1"
    _, listed = await api.call("GET", "/3/invoicepayments?invoicenumber=1")
    assert "ExternalInvoiceReference1" not in listed["InvoicePayments"][0]  # list rows: a subset
    _, full = await api.call("GET", "/3/invoicepayments/1")
    assert full["InvoicePayment"]["ExternalInvoiceReference1"] == "tx-1"
