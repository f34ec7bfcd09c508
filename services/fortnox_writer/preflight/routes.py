"""The pre-flight check's admin endpoints (the writer owns the Fortnox connection):

- ``GET  /admin/api/integrations/fortnox/preflight.json`` (``read_integrations``): the last
  result, ``{"preflight": {"status", "checked_at", "findings", "error", "tenant_id"}}``; status
  ``pending`` when the shop was never checked, ``running`` while a run is in progress.
- ``POST /admin/api/integrations/fortnox/preflight.json`` (``write_integrations``): run it now
  and answer the new result (200), or 202 with the running one when a run is in progress.
- ``POST /admin/api/integrations/fortnox/preflight/fix.json`` (``write_integrations``)
  ``{"finding": "<id>"}``: the one-click fix of a finding of the shop's last result that offers
  one (only creating a missing mode of payment: nothing is changed that existing documents use),
  then the check again. A finding without a safe fix, or not in the last result: 422.

Callers as every admin endpoint: the shop's session token, an operator API token of the shop,
or ADMIN_API_TOKEN with ``?shop=`` (``libs.common.access``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from libs.common.access import Principal, authorize_for_shop
from libs.common.errors import HandlerError
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.service import runtime_of
from services.fortnox_writer import oauth
from services.fortnox_writer.client import FortnoxApiError
from services.fortnox_writer.preflight.check import PreflightCheck, result_json
from services.fortnox_writer.preflight.findings import FIX_PATH, PREFLIGHT_PATH

log = get_logger(__name__)

PATH = PREFLIGHT_PATH
PREFLIGHT = web.AppKey("fortnox_writer_preflight", list[PreflightCheck])
MODE_PREFIX = "mode-of-payment-"
MODE_ACCOUNT = 1930  # the bank account a created mode of payment books to
MAX_FIX_BODY = 4096


async def _caller(request: web.Request, scope: str) -> tuple[Principal, str]:
    runtime = runtime_of(request)
    principal, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, scope)
    if not oauth.valid_shop(shop):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "shop must be a shop domain like example.myshopify.com"}),
            content_type="application/json",
        )
    return principal, shop


def _check(request: web.Request) -> PreflightCheck:
    checks = request.app[PREFLIGHT]
    if not checks:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "the writer is starting"}), content_type="application/json"
        )
    return checks[0]


async def get_preflight(request: web.Request) -> web.Response:
    _, shop = await _caller(request, "read_integrations")
    result = await _check(request).store.get(shop)
    return web.json_response({"preflight": result_json(result)})


async def run_preflight(request: web.Request) -> web.Response:
    _, shop = await _caller(request, "write_integrations")
    outcome = await _check(request).run(shop)
    return web.json_response(
        {"preflight": result_json(outcome.result)}, status=200 if outcome.ran else 202
    )


async def fix_finding(request: web.Request) -> web.Response:
    principal, shop = await _caller(request, "write_integrations")
    finding_id = _finding_id(await request.read())
    if isinstance(finding_id, web.Response):
        return finding_id
    check = _check(request)
    last = await check.store.get(shop)
    finding = next((f for f in (last.findings if last else []) if f["id"] == finding_id), None)
    if finding is None or not finding.get("fix_action"):
        return json_error(
            422,
            f"the shop's last pre-flight result has no finding {finding_id!r} with a one-click "
            "fix; run the check again (POST preflight.json) to see the current findings",
            field="finding",
        )
    code = finding_id.removeprefix(MODE_PREFIX)
    try:
        client = await check.client(shop)
        await client.request(
            "POST",
            "/3/modesofpayments",
            body={
                "ModeOfPayment": {
                    "Code": code,
                    "Description": f"{code} (Fortbridge)",
                    "AccountNumber": MODE_ACCOUNT,
                }
            },
        )
    except FortnoxApiError as exc:
        return json_error(
            422,
            f"Fortnox refused to create the mode of payment {code}: {exc.explanation}",
            fortnox_code=exc.code,
        )
    except HandlerError as exc:
        return json_error(502, exc.explanation or exc.message, code=str(exc.code or ""))
    log.info("pre-flight fix applied", shop=shop, finding=finding_id, actor=principal.name)
    outcome = await check.run(shop)
    return web.json_response(
        {"fixed": finding_id, "preflight": result_json(outcome.result)},
        status=200 if outcome.ran else 202,
    )


def _finding_id(raw: bytes) -> str | web.Response:
    if len(raw) > MAX_FIX_BODY:
        return json_error(413, f"the body is larger than {MAX_FIX_BODY} bytes")
    try:
        body: Any = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return json_error(400, "the body is not valid JSON", field="body")
    if not isinstance(body, dict) or set(body) - {"finding"}:
        return json_error(422, 'the body is {"finding": "<finding id>"}', field="body")
    finding = body.get("finding")
    if not isinstance(finding, str) or not 1 <= len(finding) <= 100:
        return json_error(422, "finding: a finding id of 1 to 100 characters", field="finding")
    return finding


def add_routes(app: web.Application) -> None:
    app[PREFLIGHT] = []
    app.router.add_get(PATH, get_preflight)
    app.router.add_post(PATH, run_preflight)
    app.router.add_post(FIX_PATH, fix_finding)
