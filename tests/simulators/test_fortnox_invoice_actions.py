"""The simulator's invoice e-mail action, credits, payments' own reference and their sign."""

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
            "ModeOfPayment": "KORT",
            "ExternalInvoiceReference1": "tx-1",
        }
    }
    status, created = await api.call("POST", "/3/invoicepayments", payment)
    assert status == 201 and created["InvoicePayment"]["ExternalInvoiceReference1"] == "tx-1"
    _, listed = await api.call("GET", "/3/invoicepayments?invoicenumber=1")
    assert "ExternalInvoiceReference1" not in listed["InvoicePayments"][0]  # list rows: a subset
    _, full = await api.call("GET", "/3/invoicepayments/1")
    assert full["InvoicePayment"]["ExternalInvoiceReference1"] == "tx-1"


def _payment(invoice: int, amount: float) -> dict[str, object]:
    return {
        "InvoicePayment": {"InvoiceNumber": invoice, "Amount": amount, "PaymentDate": "2026-03-05"}
    }


async def test_a_credit_invoice_is_settled_by_a_negative_payment(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice())  # total 125
    await api.call("POST", "/3/invoicepayments", _payment(1, 125))
    await api.call("PUT", "/3/invoices/1/bookkeep")
    await api.call("PUT", "/3/invoices/1/credit")  # credit invoice 2, total -125

    status, body = await api.call("POST", "/3/invoicepayments", _payment(2, 125))
    assert status == 400 and body["ErrorInformation"]["code"] == 2999013  # wrong sign
    status, body = await api.call("POST", "/3/invoicepayments", _payment(2, -100))
    assert status == 201 and body["InvoicePayment"]["Amount"] == -100
    _, credit = await api.call("GET", "/3/invoices/2")
    assert credit["Invoice"]["Balance"] == -25 and credit["Invoice"]["FinalPayDate"] is None
    await api.call("POST", "/3/invoicepayments", _payment(2, -25))
    _, credit = await api.call("GET", "/3/invoices/2")
    assert credit["Invoice"]["Balance"] == 0
    assert credit["Invoice"]["FinalPayDate"] == "2026-03-05"
    _, paid = await api.call("GET", "/3/invoices?filter=fullypaid")
    assert [row["DocumentNumber"] for row in paid["Invoices"]] == ["1", "2"]
    assert api.sim.tenant(TENANT).invoices[1].balance == 0  # the original stays paid


async def test_a_payment_against_the_balance_is_refused(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice())  # total 125
    status, body = await api.call("POST", "/3/invoicepayments", _payment(1, -50))
    assert status == 400 and body["ErrorInformation"]["code"] == 2999013
    assert "saldo" in body["ErrorInformation"]["message"]
    await api.call("POST", "/3/invoicepayments", _payment(1, 125))
    # Fully paid: the direction is the invoice's total, so a negative one is still refused.
    status, _ = await api.call("POST", "/3/invoicepayments", _payment(1, -1))
    assert status == 400
    assert len(api.sim.tenant(TENANT).payments) == 1
    assert api.sim.tenant(TENANT).invoices[1].balance == 0


async def test_an_invoice_with_payments_cannot_be_cancelled(api: Api) -> None:
    await seed(api)
    await api.call("POST", "/3/invoices", simple_invoice())
    await api.call("POST", "/3/invoicepayments", _payment(1, 50))
    status, body = await api.call("PUT", "/3/invoices/1/cancel")
    assert status == 400 and body["ErrorInformation"]["code"] == 2999014
    assert api.sim.tenant(TENANT).invoices[1].cancelled is False
    assert (await api.call("DELETE", "/3/invoicepayments/1"))[0] == 204  # unbooked: removable
    status, body = await api.call("PUT", "/3/invoices/1/cancel")
    assert status == 200 and body["Invoice"]["Cancelled"] is True


async def test_unknown_accounts_and_modes_of_payment_are_refused(api: Api) -> None:
    await seed(api)
    row = {"ArticleNumber": "SKU-1", "Price": 100, "DeliveredQuantity": 1, "AccountNumber": 3107}
    body = {"Invoice": {"CustomerNumber": "1", "InvoiceRows": [row]}}
    status, answer = await api.call("POST", "/3/invoices", body)
    assert status == 400, answer
    assert answer["ErrorInformation"]["code"] == 2000423  # "Kan inte hitta kontot."
    assert "3107" in answer["ErrorInformation"]["message"]
    assert not api.sim.tenant(TENANT).invoices
    api.sim.tenant(TENANT).accounts[3107] = ("Försäljning", True, "")  # the merchant adds it
    assert (await api.call("POST", "/3/invoices", body))[0] == 201

    def paid(**fields: object) -> dict[str, object]:
        payment = {"InvoiceNumber": 1, "Amount": 25, "PaymentDate": "2026-03-02", **fields}
        return {"InvoicePayment": payment}

    status, answer = await api.call("POST", "/3/invoicepayments", paid(ModeOfPayment="PAYPAL"))
    assert status == 400
    assert answer["ErrorInformation"]["code"] == 2999016  # simulator-chosen (not documented)
    assert "betalningssättet" in answer["ErrorInformation"]["message"]
    bad_account = paid(ModeOfPayment="KORT", ModeOfPaymentAccount=1999)
    status, answer = await api.call("POST", "/3/invoicepayments", bad_account)
    assert status == 400 and answer["ErrorInformation"]["code"] == 2000423
    assert not api.sim.tenant(TENANT).payments
    status, _ = await api.call(
        "POST", "/3/invoicepayments", paid(ModeOfPayment="KORT", ModeOfPaymentAccount=1580)
    )
    assert status == 201
