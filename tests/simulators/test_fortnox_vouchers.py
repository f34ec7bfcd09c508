"""Fortnox vouchers: balanced or refused, numbered per series and year, listed and read."""

from __future__ import annotations

from decimal import Decimal

from tests.simulators._fortnox_client import TENANT, Api

D = Decimal


def voucher(rows: list[dict[str, object]], **fields: object) -> dict[str, object]:
    return {
        "Voucher": {
            "VoucherSeries": "A",
            "TransactionDate": "2026-11-30",
            "Description": "Shopify-utbetalning 1",
            "VoucherRows": rows,
            **fields,
        }
    }


BALANCED = [
    {"Account": 1930, "Debit": "980.20"},
    {"Account": 6064, "Debit": "19.80"},
    {"Account": 1580, "Credit": "1000.00"},
]


async def test_balanced_voucher_is_numbered_and_read_back(api: Api) -> None:
    status, body = await api.call("POST", "/3/vouchers", voucher(BALANCED))
    assert status == 201, body
    made = body["Voucher"]
    assert (made["VoucherSeries"], made["VoucherNumber"], made["Year"]) == ("A", 1, 2026)
    status, second = await api.call("POST", "/3/vouchers", voucher(BALANCED))
    assert second["Voucher"]["VoucherNumber"] == 2
    status, read = await api.call("GET", "/3/vouchers/A/1?financialyear=2026")
    assert status == 200
    rows = read["Voucher"]["VoucherRows"]
    assert [(r["Account"], D(str(r["Debit"])), D(str(r["Credit"]))) for r in rows] == [
        (1930, D("980.20"), D("0")),
        (6064, D("19.80"), D("0")),
        (1580, D("0"), D("1000.00")),
    ]
    status, listing = await api.call("GET", "/3/vouchers/sublist/A?fromdate=2026-11-01")
    assert [v["Description"] for v in listing["Vouchers"]] == ["Shopify-utbetalning 1"] * 2
    assert "VoucherRows" not in listing["Vouchers"][0]


async def test_unbalanced_voucher_is_refused_and_not_stored(api: Api) -> None:
    rows = [{"Account": 1930, "Debit": "100"}, {"Account": 1580, "Credit": "99.99"}]
    status, body = await api.call("POST", "/3/vouchers", voucher(rows))
    assert status == 400
    assert body["ErrorInformation"]["code"] == 2999015
    assert "balans" in body["ErrorInformation"]["message"]
    assert api.sim.tenant(TENANT).vouchers == {}


async def test_a_row_on_an_account_the_chart_lacks_is_refused_until_it_is_added(
    api: Api,
) -> None:
    """As on document rows: a four-digit account is not enough, it must be in the chart."""
    tenant = api.sim.tenant(TENANT)
    assert 6064 in tenant.accounts  # the default chart has the payout voucher's accounts
    rows = [{"Account": 1930, "Debit": "10"}, {"Account": 6570, "Credit": "10"}]
    assert 6570 not in tenant.accounts
    status, body = await api.call("POST", "/3/vouchers", voucher(rows))
    assert status == 400, body
    info = body["ErrorInformation"]
    assert (info["code"], info["message"]) == (2000423, "Kan inte hitta kontot. (6570)")
    assert tenant.vouchers == {}
    async with api.session.post(
        f"{api.base}/_sim/tenants/{TENANT}/accounts",
        json={"number": 6570, "description": "Bankkostnader"},
    ) as response:
        assert response.status < 300
    status, body = await api.call("POST", "/3/vouchers", voucher(rows))
    assert status == 201, body
    assert len(tenant.vouchers) == 1


async def test_unknown_account_and_missing_series_are_refused(api: Api) -> None:
    api.sim.tenant(TENANT).missing_accounts.add(6064)
    status, body = await api.call("POST", "/3/vouchers", voucher(BALANCED))
    assert (status, body["ErrorInformation"]["code"]) == (400, 2000423)
    api.sim.tenant(TENANT).missing_accounts.clear()
    status, body = await api.call("POST", "/3/vouchers", voucher(BALANCED, VoucherSeries=""))
    assert (status, body["ErrorInformation"]["code"]) == (400, 2999007)
    rows: list[dict[str, object]] = [
        {"Account": 1930, "Debit": "1", "Credit": "1"},
        {"Account": 1580},
    ]
    status, body = await api.call("POST", "/3/vouchers", voucher(rows))
    assert status == 400
