"""Stock in the Fortnox simulator: QuantityInStock writable without the warehouse module and
listed by ``lastmodified``; with the module the stock points are readable and QuantityInStock is
refused; the merchant's own edit through the control API."""

from __future__ import annotations

from decimal import Decimal

from simulators.fortnox import FortnoxSimulator
from tests.simulators._fortnox_client import TENANT, Api

D = Decimal


async def _article(api: Api, number: str) -> None:
    body = {"Article": {"ArticleNumber": number, "Description": f"Artikel {number}"}}
    status, answer = await api.call("POST", "/3/articles", body)
    assert status == 201, answer


async def test_quantity_in_stock_is_written_and_listed_by_lastmodified(
    api: Api, sim: FortnoxSimulator
) -> None:
    await _article(api, "MUG-1")
    await _article(api, "MUG-2")
    for article in sim.tenant(TENANT).articles.values():  # both last changed long ago
        article.updated_at = article.updated_at.replace(year=2020)
    body = {"Article": {"QuantityInStock": 7, "StockGoods": True}}
    status, answer = await api.call("PUT", "/3/articles/MUG-2", body)
    assert status == 200, answer
    assert D(str(answer["Article"]["QuantityInStock"])) == 7
    status, listed = await api.call("GET", "/3/articles?lastmodified=2021-01-01 00:00")
    assert status == 200
    assert [row["ArticleNumber"] for row in listed["Articles"]] == ["MUG-2"]
    assert D(str(listed["Articles"][0]["QuantityInStock"])) == 7


async def test_the_warehouse_module_is_detected_and_keeps_stock_to_itself(
    api: Api, sim: FortnoxSimulator
) -> None:
    await _article(api, "MUG-1")
    status, body = await api.call("GET", "/api/warehouse/stockpoints-v1")
    assert status == 400 and body["ErrorInformation"]["code"] == 2999008  # module not active

    sim.tenant(TENANT).warehouse_module = True
    status, points = await api.call("GET", "/api/warehouse/stockpoints-v1")
    assert status == 200 and [p["code"] for p in points] == ["LAGER"]
    status, body = await api.call("PUT", "/3/articles/MUG-1", {"Article": {"QuantityInStock": 3}})
    assert status == 400 and body["ErrorInformation"]["code"] == 2999009
    assert sim.tenant(TENANT).articles["MUG-1"].fields.get("QuantityInStock") is None
    # Other fields stay writable.
    status, _ = await api.call("PUT", "/3/articles/MUG-1", {"Article": {"Description": "Ny"}})
    assert status == 200


async def test_warehouse_endpoints_need_a_token_and_the_scope(
    api: Api, sim: FortnoxSimulator
) -> None:
    status, _ = await api.call("GET", "/api/warehouse/stockpoints-v1", token="nope")
    assert status == 401
    narrow = sim.issue_tokens("cid", TENANT, scopes=["article"])["access_token"]
    status, body = await api.call("GET", "/api/warehouse/stockpoints-v1", token=narrow)
    assert status == 403 and body["ErrorInformation"]["code"] == 2000663


async def test_the_merchant_edits_stock_in_fortnox(api: Api, sim: FortnoxSimulator) -> None:
    await _article(api, "MUG-1")
    sim.tenant(TENANT).warehouse_module = False
    async with api.session.post(
        f"{api.base}/_sim/tenants/{TENANT}/articles/MUG-1/stock", json={"quantity": "12"}
    ) as response:
        assert response.status == 200, await response.text()
    _status, body = await api.call("GET", "/3/articles/MUG-1")
    assert D(str(body["Article"]["QuantityInStock"])) == 12
