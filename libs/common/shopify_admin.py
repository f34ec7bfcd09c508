"""Shopify Admin GraphQL calls within Shopify's cost-based limits.

Each answer reports the bucket (``extensions.cost.throttleStatus``). We remember it per shop and
wait before a call that would not fit; a ``Throttled`` answer waits for the points to restore and
tries again. Every call is a CLIENT span named ``POST {url template}`` (HTTP semantic
conventions) with the GraphQL operation in ``graphql.operation.name``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from opentelemetry.trace import SpanKind

from libs.common import tracing
from libs.common.errors import PermanentError, TransientError
from libs.common.metrics import SHOPIFY_REQUEST_SECONDS, SHOPIFY_REQUESTS

_tracer = tracing.get_tracer(__name__)


@dataclass
class _Bucket:
    available: float
    maximum: float
    restore_rate: float
    seen_at: float

    def available_now(self) -> float:
        return min(
            self.maximum, self.available + (time.monotonic() - self.seen_at) * self.restore_rate
        )


class ShopifyAdmin:
    def __init__(
        self, http: aiohttp.ClientSession, url_template: str, api_version: str, max_tries: int = 5
    ) -> None:
        self._http = http
        self._template = url_template
        self._version = api_version
        self._max_tries = max_tries
        self._buckets: dict[str, _Bucket] = {}
        # The path template, shop and version unfilled: a bounded span name.
        self._route = urlsplit(url_template).path or "/"

    async def graphql(
        self,
        shop: str,
        token: str,
        operation: str,
        query: str,
        variables: dict[str, Any],
        *,
        expected_cost: float = 10.0,
    ) -> dict[str, Any]:
        url = self._template.format(shop=shop, version=self._version)
        parts = urlsplit(url)
        for _ in range(self._max_tries):
            await self._wait_for_points(shop, expected_cost)
            with _tracer.start_as_current_span(
                f"POST {self._route}",
                kind=SpanKind.CLIENT,
                attributes={
                    "http.request.method": "POST",
                    "url.full": url,
                    "url.template": self._route,
                    "server.address": parts.hostname or "",
                    "server.port": parts.port or (443 if parts.scheme == "https" else 80),
                    "graphql.operation.name": operation,
                    "fortbridge.shop": shop,
                },
            ) as span:
                started = time.monotonic()
                try:
                    async with self._http.post(
                        url,
                        json={"query": query, "variables": variables},
                        headers={"X-Shopify-Access-Token": token},
                    ) as response:
                        status = response.status
                        payload = await response.json(content_type=None)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    SHOPIFY_REQUESTS.labels(operation=operation, outcome="error").inc()
                    span.set_attribute("error.type", type(exc).__name__)
                    raise TransientError(f"Shopify unreachable: {exc}") from exc
                finally:
                    SHOPIFY_REQUEST_SECONDS.labels(operation=operation).observe(
                        time.monotonic() - started
                    )
                span.set_attribute("http.response.status_code", status)
            if status == 401 or status == 403:
                SHOPIFY_REQUESTS.labels(operation=operation, outcome=str(status)).inc()
                raise PermanentError(
                    f"Shopify refused the shop's access token ({status})",
                    code=f"shopify_{status}",
                    explanation="Fortbridge's access to the Shopify store was revoked; "
                    "reinstall the app.",
                )
            if status >= 400:
                SHOPIFY_REQUESTS.labels(operation=operation, outcome=str(status)).inc()
                raise TransientError(f"Shopify answered {status}", code=f"shopify_{status}")
            self._remember(shop, payload)
            errors = payload.get("errors") if isinstance(payload, dict) else None
            if errors and any(_is_throttled(error) for error in errors):
                SHOPIFY_REQUESTS.labels(operation=operation, outcome="throttled").inc()
                # Wait for what Shopify says the query costs, not our estimate.
                expected_cost = max(expected_cost, _requested_cost(payload))
                continue
            if errors:
                SHOPIFY_REQUESTS.labels(operation=operation, outcome="error").inc()
                raise PermanentError(f"Shopify GraphQL errors: {errors}", code="shopify_graphql")
            SHOPIFY_REQUESTS.labels(operation=operation, outcome="ok").inc()
            data: dict[str, Any] = payload.get("data") or {}
            return data
        raise TransientError("Shopify kept throttling the call", code="shopify_throttled")

    async def _wait_for_points(self, shop: str, cost: float) -> None:
        bucket = self._buckets.get(shop)
        if bucket is None or bucket.restore_rate <= 0:
            return
        missing = cost - bucket.available_now()
        if missing > 0:
            await asyncio.sleep(missing / bucket.restore_rate)

    def _remember(self, shop: str, payload: Any) -> None:
        try:
            status = payload["extensions"]["cost"]["throttleStatus"]
            self._buckets[shop] = _Bucket(
                available=float(status["currentlyAvailable"]),
                maximum=float(status["maximumAvailable"]),
                restore_rate=float(status["restoreRate"]),
                seen_at=time.monotonic(),
            )
        except (KeyError, TypeError, ValueError):
            return


def _requested_cost(payload: Any) -> float:
    try:
        return float(payload["extensions"]["cost"]["requestedQueryCost"])
    except (KeyError, TypeError, ValueError):
        return 0.0


def _is_throttled(error: Any) -> bool:
    if not isinstance(error, dict):
        return False
    code = (error.get("extensions") or {}).get("code")
    return code == "THROTTLED" or error.get("message") == "Throttled"
