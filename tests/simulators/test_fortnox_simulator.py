"""The Fortnox simulator over real HTTP on loopback, plus its pure totals function."""

from __future__ import annotations

import asyncio
import base64
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from simulators.fortnox import FortnoxSimulator
from simulators.fortnox.totals import RowInput, compute_totals

TENANT = "1234567"
OTHER = "7654321"
CID = "cid"
SECRET = "secret"
D = Decimal
REPO = Path(__file__).resolve().parents[2]


def basic(client_id: str = CID, secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Api:
    session: aiohttp.ClientSession
    base: str
    sim: FortnoxSimulator
    tokens: dict[str, str] = field(default_factory=dict)

    def bearer(self, tenant: str) -> str:
        if tenant not in self.tokens:
            self.tokens[tenant] = self.sim.issue_tokens(CID, tenant)["access_token"]
        return self.tokens[tenant]

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        tenant: str = TENANT,
        token: str | None = None,
        data: bytes | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.bearer(tenant)}"}
        async with self.session.request(
            method,
            self.base + path,
            json=body,
            data=data,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            text = await response.text()
            return response.status, (await response.json()) if text else None

    async def oauth_token(self, form: dict[str, str], auth: str | None = None) -> tuple[int, Any]:
        async with self.session.post(
            self.base + "/oauth-v1/token", data=form, headers={"Authorization": auth or basic()}
        ) as response:
            return response.status, await response.json()


def make_sim(**kwargs: Any) -> FortnoxSimulator:
    sim = FortnoxSimulator(**kwargs)
    sim.add_client(CID, SECRET)
    sim.add_tenant(TENANT, "Demo AB")
    sim.add_tenant(OTHER, "Other AB")
    return sim


@pytest.fixture
def sim() -> FortnoxSimulator:
    return make_sim()


@pytest.fixture
async def api(sim: FortnoxSimulator) -> AsyncIterator[Api]:
    async with sim.serve() as base_url, aiohttp.ClientSession() as session:
        yield Api(session, base_url, sim)


async def seed(api: Api, tenant: str = TENANT) -> None:
    status, _ = await api.call(
        "POST", "/3/customers", {"Customer": {"Name": "Kund AB"}}, tenant=tenant
    )
    assert status == 201
    article = {"Article": {"ArticleNumber": "SKU-1", "Description": "Tröja", "VAT": 25}}
    status, _ = await api.call("POST", "/3/articles", article, tenant=tenant)
    assert status == 201


def simple_invoice(ref: str = "", price: int = 100) -> dict[str, Any]:
    row = {"ArticleNumber": "SKU-1", "Price": price, "DeliveredQuantity": 1}
    return {
        "Invoice": {"CustomerNumber": "1", "ExternalInvoiceReference1": ref, "InvoiceRows": [row]}
    }


# --- totals (pure) -------------------------------------------------------------------------------
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
async def test_authorization_code_flow_and_single_use_code(api: Api) -> None:
    api.sim.default_tenant_for_consent = TENANT
    params = {
        "client_id": CID,
        "redirect_uri": "http://127.0.0.1/callback",
        "scope": "invoice customer companyinformation",
        "state": "xyz",
        "access_type": "offline",
        "response_type": "code",
    }
    async with api.session.get(
        api.base + "/oauth-v1/auth", params=params, allow_redirects=False
    ) as response:
        assert response.status == 302
        location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert location.path == "/callback" and query["state"] == ["xyz"]
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "redirect_uri": params["redirect_uri"],
    }
    status, tokens = await api.oauth_token(form)
    assert status == 200
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    assert set(tokens["scope"].split()) == {"invoice", "customer", "companyinformation"}
    assert tokens["access_token"].count(".") == 2  # JWT-looking

    status, info = await api.call("GET", "/3/companyinformation", token=tokens["access_token"])
    assert status == 200
    assert info["CompanyInformation"]["DatabaseNumber"] == int(TENANT)
    assert info["CompanyInformation"]["CompanyName"] == "Demo AB"

    status, again = await api.oauth_token(form)  # codes are single use
    assert (status, again["error"]) == (400, "invalid_grant")


async def test_refresh_is_single_use_and_reuse_revokes_the_connection(api: Api) -> None:
    first = api.sim.issue_tokens(CID, TENANT)
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    status, second = await api.oauth_token(refresh)
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    assert (await api.call("GET", "/3/invoices", token=second["access_token"]))[0] == 200

    status, error = await api.oauth_token(refresh)  # the spent token again
    assert status == 400
    assert error == {"error": "invalid_grant", "error_description": "Invalid refresh token"}
    assert (api.sim.refresh_count, api.sim.refresh_reuse_count) == (1, 1)

    # the whole chain is gone: the new access token and the new refresh token
    status, body = await api.call("GET", "/3/invoices", token=second["access_token"])
    assert (status, body) == (401, {"message": "unauthorized"})
    status, error = await api.oauth_token(
        {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert (status, error["error"]) == (400, "invalid_grant")
    assert api.sim.refresh_reuse_count == 1  # a revoked token is not a reuse

    # other tenants of the same client are untouched
    assert (await api.call("GET", "/3/invoices", tenant=OTHER))[0] == 200


async def test_bad_client_credentials_and_client_credentials_grant(api: Api) -> None:
    status, error = await api.oauth_token(
        {"grant_type": "refresh_token", "refresh_token": "x"}, auth=basic(CID, "wrong")
    )
    assert (status, error["error"]) == (401, "invalid_client")

    async with api.session.post(
        api.base + "/oauth-v1/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(), "TenantId": OTHER},
    ) as response:
        body = await response.json()
    assert response.status == 200 and "refresh_token" not in body
    status, info = await api.call("GET", "/3/companyinformation", token=body["access_token"])
    assert info["CompanyInformation"]["DatabaseNumber"] == int(OTHER)


async def test_expired_access_token_is_401_until_refreshed() -> None:
    sim = make_sim(access_token_ttl=0.2)
    async with sim.serve() as base, aiohttp.ClientSession() as session:
        api = Api(session, base, sim)
        tokens = sim.issue_tokens(CID, TENANT)
        assert (await api.call("GET", "/3/customers", token=tokens["access_token"]))[0] == 200
        await asyncio.sleep(0.25)
        status, body = await api.call("GET", "/3/customers", token=tokens["access_token"])
        assert (status, body) == (401, {"message": "unauthorized"})

        status, fresh = await api.oauth_token(
            {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert status == 200
        assert (await api.call("GET", "/3/customers", token=fresh["access_token"]))[0] == 200
        assert sim.expire_access_tokens(TENANT) == 1
        assert (await api.call("GET", "/3/customers", token=fresh["access_token"]))[0] == 401


async def test_missing_scope_is_403_and_missing_licence_2001101(api: Api) -> None:
    narrow = api.sim.issue_tokens(CID, TENANT, scopes={"customer"})["access_token"]
    status, body = await api.call("GET", "/3/invoices", token=narrow)
    assert status == 403 and body["ErrorInformation"]["code"] == 2000663
    assert (await api.call("GET", "/3/customers", token=narrow))[0] == 200

    api.sim.set_licence(TENANT, "customer", False)
    status, body = await api.call("GET", "/3/customers", token=narrow)
    assert status == 400 and body["ErrorInformation"]["code"] == 2001101


# --- resources -----------------------------------------------------------------------------------
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
async def test_26th_request_in_window_is_429_per_tenant(api: Api) -> None:
    statuses = [(await api.call("GET", "/3/customers"))[0] for _ in range(26)]
    assert statuses == [200] * 25 + [429]
    async with api.session.get(
        api.base + "/3/customers", headers={"Authorization": f"Bearer {api.bearer(TENANT)}"}
    ) as response:
        assert response.status == 429 and "Retry-After" not in response.headers
    assert (await api.call("GET", "/3/customers", tenant=OTHER))[0] == 200
    assert api.sim.count_429 == 2
    recorded = api.sim.requests_for(TENANT)
    assert len(recorded) == 27 and [r.status for r in recorded].count(429) == 2


async def test_rejected_requests_do_not_consume_budget() -> None:
    sim = make_sim(rate_limit=3, rate_window=0.6)
    async with sim.serve() as base, aiohttp.ClientSession() as session:
        api = Api(session, base, sim)
        started = time.monotonic()
        first = [(await api.call("GET", "/3/customers"))[0] for _ in range(3)]
        await asyncio.sleep(0.25)
        rejected = [(await api.call("GET", "/3/customers"))[0] for _ in range(3)]
        assert first + rejected == [200, 200, 200, 429, 429, 429]
        # once the three accepted requests leave the window the full budget is back,
        # although the rejected ones (~0.5 s ago) are still inside it
        await asyncio.sleep(max(0.0, started + 0.75 - time.monotonic()))
        again = [(await api.call("GET", "/3/customers"))[0] for _ in range(4)]
        assert again == [200, 200, 200, 429]


# --- faults ------------------------------------------------------------------------------------
async def test_drop_after_commit_disconnects_but_commits(api: Api) -> None:
    await seed(api)
    api.sim.faults.add(method="POST", path_regex=r"^/3/invoices$", kind="drop_after_commit")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("POST", "/3/invoices", simple_invoice("ext-1"))
    assert list(api.sim.tenant(TENANT).invoices) == [1]
    assert api.sim.requests[-1].fault == "drop_after_commit"
    _, found = await api.call("GET", "/3/invoices?externalinvoicereference1=ext-1")
    assert found["MetaInformation"]["@TotalResources"] == 1  # times=1: served normally again


async def test_status_fault_answers_without_committing(api: Api) -> None:
    await seed(api)
    await seed(api, tenant=OTHER)
    api.sim.faults.add(method="POST", path_regex=r"^/3/invoices$", kind="status", status=503,
                       tenant_id=TENANT)  # fmt: skip
    status, body = await api.call("POST", "/3/invoices", simple_invoice(), tenant=OTHER)
    assert status == 201  # other tenant unaffected
    status, body = await api.call("POST", "/3/invoices", simple_invoice())
    assert status == 503 and body["ErrorInformation"]["code"] == 1000003
    assert api.sim.tenant(TENANT).invoices == {}
    status, body = await api.call("POST", "/3/invoices", simple_invoice())
    assert status == 201 and body["Invoice"]["DocumentNumber"] == "1"


async def test_delay_fault_slows_the_answer(api: Api) -> None:
    api.sim.faults.add(method="GET", path_regex="^/3/customers", kind="delay", delay=0.3)
    started = time.monotonic()
    status, _ = await api.call("GET", "/3/customers")
    assert status == 200 and time.monotonic() - started >= 0.3


async def test_timeout_fault_hangs_then_commits_late(api: Api) -> None:
    await seed(api)
    api.sim.faults.add(method="POST", path_regex="^/3/invoices$", kind="timeout", delay=0.5)
    with pytest.raises(asyncio.TimeoutError):
        await api.call("POST", "/3/invoices", simple_invoice(), timeout=0.15)
    assert api.sim.tenant(TENANT).invoices == {}  # not handled yet
    await asyncio.sleep(0.5)
    assert list(api.sim.tenant(TENANT).invoices) == [1]  # the server still did it


async def test_delay_after_commit_commits_before_answering(api: Api) -> None:
    await seed(api)
    api.sim.faults.add(
        method="POST", path_regex="^/3/invoices$", kind="delay_after_commit", delay=0.5
    )
    with pytest.raises(asyncio.TimeoutError):
        await api.call("POST", "/3/invoices", simple_invoice(), timeout=0.15)
    assert list(api.sim.tenant(TENANT).invoices) == [1]


async def test_hanging_request_is_abandoned_on_shutdown() -> None:
    sim = make_sim()
    sim.faults.add(method="POST", path_regex="^/3/customers$", kind="timeout")  # hang
    started = time.monotonic()
    async with sim.serve() as base, aiohttp.ClientSession() as session:
        api = Api(session, base, sim)
        with pytest.raises(asyncio.TimeoutError):
            await api.call("POST", "/3/customers", {"Customer": {"Name": "x"}}, timeout=0.1)
    assert time.monotonic() - started < 2.0
    await asyncio.sleep(0.05)
    assert sim.tenant(TENANT).customers == {}


# --- control endpoints and the process entry point ---------------------------------------------
async def test_control_endpoints_drive_a_fresh_simulator() -> None:
    sim = FortnoxSimulator()
    async with sim.serve() as base, aiohttp.ClientSession() as session:

        async def control(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            async with session.request(method, base + path, json=body) as response:
                return response.status, await response.json()

        assert (
            await control("POST", "/_sim/clients", {"client_id": CID, "client_secret": SECRET})
        )[0] == 201
        tenant = {"tenant_id": TENANT, "company_name": "Ctl AB", "vat_rates": [25, 12]}
        assert (await control("POST", "/_sim/tenants", tenant))[0] == 201
        _, tokens = await control("POST", "/_sim/tokens", {"client_id": CID, "tenant_id": TENANT})
        api = Api(session, base, sim, {TENANT: tokens["access_token"]})
        await seed(api)

        status, fault = await control(
            "POST", "/_sim/faults", {"kind": "status", "path_regex": "^/3/invoices$", "times": None}
        )
        assert status == 201 and fault["times"] is None
        assert (await api.call("POST", "/3/invoices", simple_invoice()))[0] == 503
        assert (await control("DELETE", "/_sim/faults"))[0] == 200
        assert (await api.call("POST", "/3/invoices", simple_invoice("c-1")))[0] == 201

        _, invoices = await control("GET", f"/_sim/tenants/{TENANT}/invoices")
        assert invoices["Invoices"][0]["ExternalInvoiceReference1"] == "c-1"
        assert "InvoiceRows" in invoices["Invoices"][0]  # full documents
        _, recorded = await control("GET", f"/_sim/requests?tenant_id={TENANT}")
        assert [r["status"] for r in recorded["requests"]][-2:] == [503, 201]
        _, later = await control("GET", f"/_sim/requests?since={recorded['now']}")
        assert later["requests"] == []

        await control("POST", f"/_sim/tenants/{TENANT}/vat_rates", {"vat_rates": [25]})
        assert sim.tenant(TENANT).vat_rates == {D("25")}
        await control("POST", f"/_sim/tenants/{TENANT}/expire_tokens")
        assert (await api.call("GET", "/3/invoices"))[0] == 401

        await control("POST", "/_sim/consent_tenant", {"tenant_id": TENANT})
        params = {"client_id": CID, "redirect_uri": "http://127.0.0.1/cb", "scope": "invoice"}
        async with session.get(base + "/oauth-v1/auth", params=params, allow_redirects=False) as r:
            assert r.status == 302 and "code=" in r.headers["Location"]
        _, stats = await control("GET", "/_sim/stats")
        assert stats["tenants"] == [TENANT]


async def test_module_runs_as_a_process_with_env_client() -> None:
    env = {**os.environ, "FORTNOX_SIM_CLIENT_ID": "envcid", "FORTNOX_SIM_CLIENT_SECRET": "s3"}
    env["PYTHONPATH"] = str(REPO)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "simulators.fortnox", "--port", "0", "--tenant", "5555555"),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 10)).decode()
        base = line.strip().rsplit(" ", 1)[-1]
        assert base.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            async with session.post(
                base + "/oauth-v1/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": basic("envcid", "s3"), "TenantId": "5555555"},
            ) as response:
                assert response.status == 200
                token = (await response.json())["access_token"]
            async with session.get(
                base + "/3/companyinformation", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                info = await response.json()
        assert info["CompanyInformation"]["DatabaseNumber"] == 5555555
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 10)
    assert process.returncode == 0
