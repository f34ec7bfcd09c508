"""Helpers for the Fortnox simulator tests: an HTTP client and seed data."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from simulators.fortnox import FortnoxSimulator

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
