"""The VIES simulator's HTTP app: the REST API's check and the /_sim control endpoints.

POST /rest-api/check-vat-number    {"countryCode": "DE", "vatNumber": "123456789"}
                                   -> 200 {countryCode, vatNumber, requestDate, valid,
                                   requestIdentifier, name, address, trader*}; a member state
                                   down: 200 {"actionSucceed": false, "errorWrappers":
                                   [{"error": "MS_UNAVAILABLE", ...}]}; the whole service down:
                                   500 with SERVICE_UNAVAILABLE; a bad country: 400 INVALID_INPUT
Control (no auth; loopback test use only):
POST   /_sim/numbers               {"number": "DE123456789", "valid": true, "name"?, "address"?}
POST   /_sim/unavailable           {"country": "DE" | "*", "down": true}
POST   /_sim/delay                 {"seconds": 5}: every answer waits this long (a slow VIES)
GET    /_sim/requests, DELETE /_sim/requests, POST /_sim/reset, GET /_sim/health
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .simulator import ViesSimulator, error

SIM_KEY: web.AppKey[ViesSimulator] = web.AppKey("vies_simulator")


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    return body if isinstance(body, dict) else {}


async def check_vat_number(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    body = await _json(request)
    status, answer = sim.check(str(body.get("countryCode") or ""), str(body.get("vatNumber") or ""))
    await sim.wait()  # a slow VIES: the request is recorded, the answer comes late
    return web.json_response(answer, status=status)


async def mark_number(request: web.Request) -> web.Response:
    body = await _json(request)
    if not body.get("number"):
        return web.json_response(error("INVALID_INPUT"), status=400)
    request.app[SIM_KEY].mark(
        str(body["number"]),
        bool(body.get("valid", True)),
        name=str(body.get("name") or "---"),
        address=str(body.get("address") or "---"),
    )
    return web.json_response({"ok": True})


async def set_unavailable(request: web.Request) -> web.Response:
    body = await _json(request)
    request.app[SIM_KEY].set_unavailable(str(body.get("country") or "*"), bool(body.get("down")))
    return web.json_response({"unavailable": sorted(request.app[SIM_KEY].unavailable)})


async def set_delay(request: web.Request) -> web.Response:
    body = await _json(request)
    request.app[SIM_KEY].delay = float(body.get("seconds") or 0)
    return web.json_response({"delay": request.app[SIM_KEY].delay})


async def requests_made(request: web.Request) -> web.Response:
    made = [{"countryCode": c, "vatNumber": n} for c, n in request.app[SIM_KEY].requests]
    return web.json_response(made)


async def clear_requests(request: web.Request) -> web.Response:
    request.app[SIM_KEY].requests.clear()
    return web.json_response({"ok": True})


async def reset(request: web.Request) -> web.Response:
    request.app[SIM_KEY].reset()
    return web.json_response({"ok": True})


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app(sim: ViesSimulator) -> web.Application:
    app = web.Application()
    app[SIM_KEY] = sim
    app.add_routes(
        [
            web.post("/rest-api/check-vat-number", check_vat_number),
            web.post("/_sim/numbers", mark_number),
            web.post("/_sim/unavailable", set_unavailable),
            web.post("/_sim/delay", set_delay),
            web.get("/_sim/requests", requests_made),
            web.delete("/_sim/requests", clear_requests),
            web.post("/_sim/reset", reset),
            web.get("/_sim/health", health),
        ]
    )
    return app
