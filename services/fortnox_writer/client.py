"""The one Fortnox HTTP client: rate-limited, traced, errors in either key case understood."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from opentelemetry.trace import SpanKind, Status, StatusCode

from libs.common import jsonutil, tracing
from libs.common.errors import NeedsReconnection, PermanentError, TransientError
from libs.common.fortnox_errors import explain
from libs.common.logs import get_logger
from libs.common.metrics import FORTNOX_429, FORTNOX_REQUESTS
from services.fortnox_writer.ratelimit import RateLimiter

_tracer = tracing.get_tracer(__name__)
log = get_logger(__name__)


class FortnoxApiError(PermanentError):
    """Fortnox refused the request (4xx with an ErrorInformation envelope)."""

    def __init__(self, status: int, code: str | None, message: str) -> None:
        explanation = explain(code, message)
        super().__init__(
            f"Fortnox answered {status}: {message} (code {code})",
            code=code,
            source_message=message,
            explanation=f"{explanation.text} {explanation.fix}",
        )
        self.status = status
        self.needs_reconnection = explanation.needs_reconnection


def parse_error(status: int, body: Any) -> tuple[str | None, str]:
    """(code, message) from any of Fortnox's error envelopes."""
    if isinstance(body, Mapping):
        info = body.get("ErrorInformation") or body.get("errorInformation") or body
        if isinstance(info, Mapping):
            lowered = {str(key).lower(): value for key, value in info.items()}
            code = lowered.get("code")
            message = lowered.get("message") or lowered.get("error_description")
            if code is not None or message:
                return (str(code) if code is not None else None, str(message or ""))
    return None, f"HTTP {status}"


def path_segment(value: str) -> str:
    return quote(value, safe="")


# A GET's attempts in the jobs that read Fortnox in process (FortnoxClient's read_attempts).
IN_PROCESS_READ_ATTEMPTS = 5

# ``token(None)``: a valid access token; ``token(refused)``: a new one, since Fortnox answered 401
# to ``refused`` (refreshed once however many requests saw it refused, see connections.py).
TokenProvider = Callable[[str | None], Awaitable[str]]


class FortnoxClient:
    """Calls Fortnox for one tenant. ``token(refused)`` returns a valid access token.

    ``read_attempts``: how often a GET that Fortnox answered 429 or 5xx, or did not answer, is
    tried before its TransientError is raised. 1 (the default) for the consumers, whose
    messages are redelivered with a delay; the jobs that read Fortnox in process (the
    reconciliation report, the preflight check) pass more, since nothing would retry them: a
    429 already holds the tenant's next call a window back (the limiter), other errors wait
    0.5, 1, 2 s. Writes are never retried here (their ledger decides, by redelivery)."""

    def __init__(
        self,
        *,
        http: aiohttp.ClientSession,
        base_url: str,
        tenant_id: str,
        token: TokenProvider,
        limiter: RateLimiter,
        timeout: float = 20.0,
        read_attempts: int = 1,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        parts = urlsplit(self._base_url)
        # Span attributes per the HTTP client conventions: the host and port, not the URL.
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tenant_id = tenant_id
        self._token = token
        self._limiter = limiter
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._read_attempts = max(1, read_attempts)
        self.calls = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        attempts = self._read_attempts if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._authorized(method, path, body, params)
            except TransientError as exc:
                if attempt == attempts:
                    raise
                log.info("Fortnox read tried again", path=path, error=exc.code, attempt=attempt)
                if exc.code != "429":  # a 429 has pushed the tenant's next slot a window out
                    await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), 2.0))
        raise AssertionError("unreachable")

    async def _authorized(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        """One request, with a new access token once when Fortnox refused the one it had."""
        refused: str | None = None
        for _ in range(2):
            token = await self._token(refused)
            status, payload = await self._send(method, path, token, body, params)
            if status == 401:
                refused = token
                continue
            return payload
        raise NeedsReconnection(
            "Fortnox refused the access token even after a refresh",
            code="unauthorized",
            explanation="Fortnox no longer accepts this shop's connection. Reconnect Fortnox.",
        )

    async def _send(
        self,
        method: str,
        path: str,
        token: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> tuple[int, dict[str, Any]]:
        endpoint = _endpoint_label(path)
        await self._limiter.acquire(self.tenant_id)
        self.calls += 1
        with _tracer.start_as_current_span(
            f"{method} {endpoint}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": method,
                "url.full": f"{self._base_url}{path}",
                "url.template": endpoint,
                "server.address": self._host,
                "server.port": self._port,
                "fortnox.tenant": self.tenant_id,
            },
        ) as span:
            try:
                async with self._http.request(
                    method,
                    f"{self._base_url}{path}",
                    data=None if body is None else jsonutil.dumps(body),
                    params=params,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                    },
                    timeout=self._timeout,
                ) as response:
                    text = await response.text()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                FORTNOX_REQUESTS.labels(method=method, endpoint=endpoint, status="error").inc()
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise TransientError(
                    f"no answer from Fortnox ({type(exc).__name__}): the outcome is unknown",
                    code="fortnox_unreachable",
                    explanation="Fortnox did not answer in time; Fortbridge retries by itself.",
                ) from exc
            span.set_attribute("http.response.status_code", status)
            FORTNOX_REQUESTS.labels(method=method, endpoint=endpoint, status=str(status)).inc()
            try:
                payload = jsonutil.loads(text) if text else {}
            except ValueError:
                payload = {"raw": text[:500]}
            if 200 <= status < 300:
                return status, payload if isinstance(payload, dict) else {"data": payload}
            if status == 401:
                return status, {}
            span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
            if status == 429:
                FORTNOX_429.inc()
                # Honour it: no replica calls this tenant again for a whole window.
                await self._limiter.penalize(self.tenant_id, self._limiter.window)
                raise TransientError("Fortnox rate limit answered 429", code="429")
            if status >= 500:
                code, message = parse_error(status, payload)
                raise TransientError(
                    f"Fortnox answered {status}: {message}",
                    code=code or str(status),
                    source_message=message,
                    explanation="Fortnox had a temporary error; Fortbridge retries by itself.",
                )
            code, message = parse_error(status, payload)
            error = FortnoxApiError(status, code, message)
            if error.needs_reconnection:
                raise NeedsReconnection(
                    error.message,
                    code=code,
                    source_message=message,
                    explanation=error.explanation,
                )
            raise error


def _endpoint_label(path: str) -> str:
    """A bounded label: /3/invoices/123/bookkeep -> /3/invoices/{id}/bookkeep."""
    parts = path.split("?")[0].strip("/").split("/")
    return "/" + "/".join("{id}" if index == 2 else part for index, part in enumerate(parts))
