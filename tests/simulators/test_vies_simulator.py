"""The VIES simulator answers like the REST API's check-vat-number: valid or not, a member
state down, the whole service down, slow; its control endpoints change that."""

from __future__ import annotations

import asyncio

import aiohttp

from simulators.vies import ViesSimulator


async def _check(session: aiohttp.ClientSession, url: str, country: str, number: str):  # type: ignore[no-untyped-def]
    async with session.post(
        f"{url}/rest-api/check-vat-number", json={"countryCode": country, "vatNumber": number}
    ) as response:
        return response.status, await response.json()


async def test_valid_invalid_and_unavailable() -> None:
    sim = ViesSimulator()
    async with sim.serve() as url, aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/_sim/numbers", json={"number": "DE 123 456 789", "name": "Becher GmbH"}
        ) as response:
            assert response.status == 200
        status, body = await _check(session, url, "DE", "123456789")
        assert status == 200
        assert body["valid"] is True and body["name"] == "Becher GmbH"
        assert body["countryCode"] == "DE" and body["vatNumber"] == "123456789"
        assert body["requestDate"].endswith("Z") and body["requestIdentifier"]
        status, body = await _check(session, url, "DE", "DE999999999")
        assert (status, body["valid"], body["name"]) == (200, False, "---")
        status, body = await _check(session, url, "XX", "1")
        assert status == 400 and body["errorWrappers"][0]["error"] == "INVALID_INPUT"

        await session.post(f"{url}/_sim/unavailable", json={"country": "DE", "down": True})
        status, body = await _check(session, url, "DE", "123456789")
        assert status == 200 and body["actionSucceed"] is False
        assert body["errorWrappers"][0]["error"] == "MS_UNAVAILABLE"
        assert (await _check(session, url, "FR", "12345678901"))[1]["valid"] is False
        await session.post(f"{url}/_sim/unavailable", json={"country": "*", "down": True})
        status, body = await _check(session, url, "FR", "12345678901")
        assert status == 500 and body["errorWrappers"][0]["error"] == "SERVICE_UNAVAILABLE"

        async with session.get(f"{url}/_sim/requests") as response:
            assert len(await response.json()) == 6
        await session.post(f"{url}/_sim/reset")
        assert (await _check(session, url, "DE", "123456789"))[1]["valid"] is False


async def test_slow_service() -> None:
    sim = ViesSimulator()
    async with sim.serve() as url, aiohttp.ClientSession() as session:
        await session.post(f"{url}/_sim/delay", json={"seconds": 2})
        timeout = aiohttp.ClientTimeout(total=0.3)
        try:
            async with session.post(
                f"{url}/rest-api/check-vat-number",
                json={"countryCode": "DE", "vatNumber": "1"},
                timeout=timeout,
            ):
                raise AssertionError("a slow VIES answered at once")
        except TimeoutError:
            pass
        await asyncio.sleep(0)
