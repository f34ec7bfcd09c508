"""The Fortnox simulator's OAuth, rate limit, faults and control endpoints over real HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from simulators.fortnox import FortnoxSimulator
from tests.simulators._fortnox_client import (
    CID,
    OTHER,
    REPO,
    SECRET,
    TENANT,
    Api,
    D,
    basic,
    make_sim,
    seed,
    simple_invoice,
)


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
    # The server still does it, once its 0.5 s are over (waited for, not slept on).
    deadline = time.monotonic() + 10
    while not api.sim.tenant(TENANT).invoices and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert list(api.sim.tenant(TENANT).invoices) == [1]


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
    # No fixed wait: serve() returns once the server's handlers have (aiohttp's shutdown awaits
    # them), so a handler that went on to commit after the stop would have done so by now.
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


@pytest.mark.slow
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
