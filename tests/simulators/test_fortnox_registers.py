"""The Fortnox simulator's registers (accounts, modes and terms of payment, currencies, VAT
rates) over real HTTP: shapes, scopes, the create of a mode of payment, and the controls."""

from __future__ import annotations

from tests.simulators._fortnox_client import TENANT, Api, D


async def test_registers_list_with_envelopes_and_paging(api: Api) -> None:
    status, body = await api.call("GET", "/3/accounts?limit=5")
    assert status == 200
    assert body["MetaInformation"]["@TotalPages"] > 1
    assert {"Number", "Description", "Active", "VATCode"} <= set(body["Accounts"][0])
    status, body = await api.call("GET", "/3/modesofpayments")
    assert status == 200
    assert {row["Code"] for row in body["ModesOfPayments"]} >= {"BG", "KORT"}
    status, body = await api.call("GET", "/3/termsofpayments")
    assert "30" in {row["Code"] for row in body["TermsOfPayments"]}
    status, body = await api.call("GET", "/3/currencies")
    assert "EUR" in {row["Code"] for row in body["Currencies"]}
    status, body = await api.call("GET", "/3/vatcodes")
    # A new company: 25, 12 and 6 % (0 % and OSS rates are set up by the merchant).
    assert sorted(D(str(row["VAT"])) for row in body["VATCodes"]) == [D(6), D(12), D(25)]


async def test_an_unknown_account_is_fortnox_s_not_found(api: Api) -> None:
    status, body = await api.call("GET", "/3/accounts/3011")
    assert status == 404
    assert body["ErrorInformation"]["Code"] == 2000423
    assert (await api.call("GET", "/3/accounts/3001"))[0] == 200


async def test_an_account_marked_missing_is_missing_from_the_chart_too(api: Api) -> None:
    """The registers the pre-flight check reads agree with what documents and vouchers refuse."""
    api.sim.tenant(TENANT).missing_accounts.add(6064)
    status, body = await api.call("GET", "/3/accounts/6064")
    assert (status, body["ErrorInformation"]["Code"]) == (404, 2000423)
    _, body = await api.call("GET", "/3/accounts?limit=500")
    numbers = {row["Number"] for row in body["Accounts"]}
    assert 6064 not in numbers and {1580, 1930, 1680, 6990} <= numbers
    mode = {"Code": "AVGIFT", "Description": "Avgift", "AccountNumber": 6064}
    status, body = await api.call("POST", "/3/modesofpayments", {"ModeOfPayment": mode})
    assert (status, body["ErrorInformation"]["code"]) == (400, 2000423)


async def test_controls_add_a_vat_rate_and_an_account(api: Api) -> None:
    async with api.session.post(
        f"{api.base}/_sim/tenants/{TENANT}/vat_rates", json={"vat_rates": [25, 12, 6, 0, 19]}
    ) as response:
        assert response.status < 300
    _, body = await api.call("GET", "/3/vatcodes")
    assert {"OSS19": D(19)}.items() <= {
        r["Code"]: D(str(r["VAT"])) for r in body["VATCodes"]
    }.items()
    async with api.session.post(
        f"{api.base}/_sim/tenants/{TENANT}/accounts",
        json={"number": 3011, "description": "OSS Tyskland", "active": False},
    ) as response:
        assert response.status < 300
    status, body = await api.call("GET", "/3/accounts/3011")
    assert (status, body["Account"]["Active"]) == (200, False)


async def test_a_mode_of_payment_is_created_once_on_an_existing_account(api: Api) -> None:
    mode = {"Code": "KLARNA", "Description": "Klarna", "AccountNumber": 1580}
    status, body = await api.call("POST", "/3/modesofpayments", {"ModeOfPayment": mode})
    assert (status, body["ModeOfPayment"]["Code"]) == (201, "KLARNA")
    status, body = await api.call("POST", "/3/modesofpayments", {"ModeOfPayment": mode})
    assert (status, body["ErrorInformation"]["code"]) == (400, 2999019)  # made up: the code used
    bad = {**mode, "Code": "X", "AccountNumber": 1234}
    status, body = await api.call("POST", "/3/modesofpayments", {"ModeOfPayment": bad})
    assert (status, body["ErrorInformation"]["code"]) == (400, 2000423)


async def test_registers_need_their_scope(api: Api) -> None:
    token = api.sim.issue_tokens("cid", TENANT, scopes=["invoice"])["access_token"]
    status, body = await api.call("GET", "/3/modesofpayments", token=token)
    assert status == 403
    assert "settings" in str(body)


async def test_terms_of_payment_the_company_lacks_are_refused(api: Api) -> None:
    """On a customer and on an invoice, until the company has them (code made up)."""
    customer = {"Customer": {"Name": "Kund", "TermsOfPayment": "45"}}
    status, body = await api.call("POST", "/3/customers", customer)
    assert status == 400, body
    info = body["ErrorInformation"]
    assert (info["code"], info["message"]) == (2999020, "Kan inte hitta betalningsvillkoret. (45)")
    status, body = await api.call("POST", "/3/customers", {"Customer": {"Name": "Kund"}})
    assert status == 201, body
    number = body["Customer"]["CustomerNumber"]
    status, body = await api.call(
        "PUT", f"/3/customers/{number}", {"Customer": {"TermsOfPayment": "45"}}
    )
    assert (status, body["ErrorInformation"]["code"]) == (400, 2999020)
    invoice = {
        "Invoice": {
            "CustomerNumber": number,
            "TermsOfPayment": "45",
            "InvoiceRows": [{"Description": "Vara", "Price": "100", "DeliveredQuantity": "1"}],
        }
    }
    status, body = await api.call("POST", "/3/invoices", invoice)
    assert (status, body["ErrorInformation"]["code"]) == (400, 2999020)
    assert api.sim.tenant(TENANT).invoices == {}
    api.sim.tenant(TENANT).terms_of_payment["45"] = "45 dagar netto"
    status, body = await api.call("POST", "/3/invoices", invoice)
    assert status == 201, body
    assert body["Invoice"]["TermsOfPayment"] == "45"
