"""Connecting Fortnox the way the merchant's app and browser do it (local stack, demo, tests).

1. The app asks the writer for a launch ticket: ``POST /auth/fortnox/start.json`` with the
   caller's credentials.
2. The browser opens the launch URL: the writer sets its cookie and sends it to Fortnox.
3. Fortnox (here the simulator, which consents at once for ``tenant_id``) sends the browser back
   to the callback with a code and the state; the browser brings the cookie.

The writer is addressed at ``writer_url`` whatever host its launch URL names (in production the
Ingress routes ``/auth/fortnox`` to it; locally every service has a port of its own). The
cookie is carried by hand: aiohttp's cookie jar ignores cookies of IP-address hosts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

COOKIE = "fortbridge_fortnox_connect"


@dataclass(frozen=True)
class ConnectAnswer:
    status: int
    body: dict[str, Any]


class ConnectFailed(RuntimeError):
    pass


def _on(writer_url: str, url: str) -> str:
    parts = urlsplit(url)
    return f"{writer_url.rstrip('/')}{parts.path}?{parts.query}"


async def start(
    http: aiohttp.ClientSession,
    writer_url: str,
    headers: dict[str, str],
    *,
    shop: str | None = None,
    features: Sequence[str] = (),
    switch_company: bool = False,
) -> str:
    """Step 1: the launch URL (on ``writer_url``)."""
    params = {"shop": shop} if shop else {}
    async with http.post(
        f"{writer_url.rstrip('/')}/auth/fortnox/start.json",
        params=params,
        json={"features": list(features), "switch_company": switch_company},
        headers=headers,
    ) as response:
        body = await response.json(content_type=None)
        if response.status != 200:
            raise ConnectFailed(f"start.json answered {response.status}: {body}")
    return _on(writer_url, str(body["launch_url"]))


async def consent(
    http: aiohttp.ClientSession, launch_url: str, tenant_id: str
) -> tuple[dict[str, str], str]:
    """Steps 2 and 3 up to Fortnox's redirect: (the callback's query, the browser's cookie)."""
    async with http.get(launch_url, allow_redirects=False) as response:
        if response.status != 302:
            raise ConnectFailed(f"launch answered {response.status}: {await response.text()}")
        authorize = response.headers["Location"]
        morsel = response.cookies.get(COOKIE)
        cookie = morsel.value if morsel is not None else ""
    async with http.get(
        authorize, params={"tenant_id": tenant_id}, allow_redirects=False
    ) as response:
        if response.status != 302:
            raise ConnectFailed(f"Fortnox's consent answered {response.status}")
        back = urlsplit(response.headers["Location"])
    query = {}
    for pair in back.query.split("&"):
        key, _, value = pair.partition("=")
        if key:
            query[key] = value  # kept encoded, as the browser would send it back
    return query, cookie


async def callback(
    http: aiohttp.ClientSession, writer_url: str, raw_query: dict[str, str], cookie: str | None
) -> ConnectAnswer:
    """Step 3: the browser arrives at the callback (asking for JSON, as an API client may)."""
    headers = {"Accept": "application/json"}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    query = "&".join(f"{key}={value}" for key, value in raw_query.items())
    async with http.get(
        f"{writer_url.rstrip('/')}/auth/fortnox/callback?{query}",
        headers=headers,
        allow_redirects=False,
    ) as response:
        return ConnectAnswer(response.status, dict(await response.json(content_type=None)))


async def connect(
    http: aiohttp.ClientSession,
    writer_url: str,
    headers: dict[str, str],
    tenant_id: str,
    *,
    shop: str | None = None,
    features: Sequence[str] = (),
    switch_company: bool = False,
) -> dict[str, Any]:
    """The whole flow; the callback's JSON answer, or ConnectFailed."""
    launch = await start(
        http, writer_url, headers, shop=shop, features=features, switch_company=switch_company
    )
    query, cookie = await consent(http, launch, tenant_id)
    answer = await callback(http, writer_url, query, cookie)
    if answer.status != 200:
        raise ConnectFailed(f"the callback answered {answer.status}: {answer.body}")
    return answer.body
