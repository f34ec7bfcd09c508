"""The EU's VIES service: is an order's VAT number valid? Asked once per number, cached.

Before an EU business order without VAT is planned, the handler asks ``VatNumbers.check``:

1. the number's format per member state (accounting/vat_numbers.py): a typo costs no call;
2. a VIES answer (valid or not) younger than ``VIES_CACHE_DAYS`` from ``mapper.vat_checks``;
3. else ``POST {VIES_URL}/check-vat-number`` with ``VIES_TIMEOUT_SECONDS``; the answer is
   stored with VIES's ``requestDate`` and consultation number (``requestIdentifier``).

VIES unreachable (a timeout, a connection error, 5xx, or its error envelope
``{"actionSucceed": false, "errorWrappers": [{"error": "MS_UNAVAILABLE"}]}`` and the other
"try again later" codes): an earlier answer for the number is used whatever its age (its date
goes with it); without one, ``VIES_UNAVAILABLE`` decides. ``wait_then_vat``: the event is
retried (a TransientError) until the number has been unreachable for ``VIES_WAIT_SECONDS``,
then the order is booked with the shop's VAT; ``vat``: booked with VAT at once. Either way the
order's timeline says so: never a silent 0 %.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from libs.common.errors import TransientError
from libs.common.logs import get_logger
from libs.common.metrics import VIES_CHECKS
from services.mapper.accounting.customers import destination_country
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.vat_numbers import (
    VatCheck,
    VatNumber,
    format_problem,
    number_to_check,
    parse,
)

log = get_logger(__name__)

# VIES's "try again later" codes: the member state's registry or VIES itself did not answer.
UNAVAILABLE_CODES = frozenset(
    {
        "SERVICE_UNAVAILABLE",
        "MS_UNAVAILABLE",
        "TIMEOUT",
        "MS_MAX_CONCURRENT_REQ",
        "GLOBAL_MAX_CONCURRENT_REQ",
    }
)


class ViesUnavailable(Exception):
    """VIES gave no answer about the number."""


class VatNumbers:
    """The checks of one mapper: VIES's client and the cache in ``mapper.vat_checks``."""

    def __init__(self, pool: Any, http: aiohttp.ClientSession | None, settings: Any) -> None:
        self._pool = pool
        self._http = http
        self._url = str(getattr(settings, "vies_url", "") or "").rstrip("/")
        self._timeout = float(getattr(settings, "vies_timeout_seconds", 5.0))
        self._cache = timedelta(days=float(getattr(settings, "vies_cache_days", 7.0)))
        self._choice = str(getattr(settings, "vies_unavailable", "wait_then_vat"))
        self._wait = timedelta(seconds=float(getattr(settings, "vies_wait_seconds", 600.0)))

    async def check(self, shop: str, raw: str, destination: str, home: str) -> VatCheck:
        """What is known about the number; raises TransientError while waiting for VIES."""
        number = parse(raw, destination)
        problem = format_problem(number, home)
        if problem is not None:
            VIES_CHECKS.labels("bad_format", "format").inc()
            return VatCheck(number.full, "bad_format", problem)
        row = await self._pool.fetchrow(
            "SELECT * FROM mapper.vat_checks WHERE shop = $1 AND vat_number = $2",
            shop,
            number.full,
        )
        now = datetime.now(UTC)
        if row is not None and row["valid"] is not None and row["checked_at"] + self._cache > now:
            VIES_CHECKS.labels("valid" if row["valid"] else "invalid", "cache").inc()
            return _from_row(row)
        try:
            answer = await self._ask(number)
        except ViesUnavailable as exc:
            return await self._unavailable(shop, number, row, str(exc), now)
        await self._pool.execute(
            """
            INSERT INTO mapper.vat_checks
                (shop, vat_number, valid, checked_at, consultation, trader_name)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (shop, vat_number) DO UPDATE SET valid = EXCLUDED.valid,
                checked_at = EXCLUDED.checked_at, consultation = EXCLUDED.consultation,
                trader_name = EXCLUDED.trader_name, unavailable_since = NULL, updated_at = now()
            """,
            shop,
            number.full,
            answer.valid,
            answer.checked_at,
            answer.consultation,
            answer.name,
        )
        VIES_CHECKS.labels(answer.status, "vies").inc()
        log.info("VAT number checked with VIES", shop=shop, valid=answer.valid)
        return answer

    async def _unavailable(
        self, shop: str, number: VatNumber, row: Any, reason: str, now: datetime
    ) -> VatCheck:
        if row is not None and row["valid"] is not None:
            log.warning("VIES unreachable: using its earlier answer", shop=shop, reason=reason)
            VIES_CHECKS.labels("valid" if row["valid"] else "invalid", "cache").inc()
            return _from_row(row)
        since: datetime = await self._pool.fetchval(
            """
            INSERT INTO mapper.vat_checks (shop, vat_number, unavailable_since)
            VALUES ($1, $2, $3)
            ON CONFLICT (shop, vat_number) DO UPDATE SET
                unavailable_since = COALESCE(
                    vat_checks.unavailable_since, EXCLUDED.unavailable_since),
                updated_at = now()
            RETURNING unavailable_since
            """,
            shop,
            number.full,
            now,
        )
        waited = now - since
        if self._choice == "wait_then_vat" and waited < self._wait:
            left = (self._wait - waited).total_seconds()
            VIES_CHECKS.labels("waiting", "vies").inc()
            raise TransientError(
                f"VIES cannot check VAT number {number.full} now ({reason}); retrying for "
                f"{left:.0f} s more before booking the order with VAT",
                code="vies_unavailable",
                explanation="The EU's VIES service did not answer; Fortbridge retries the order "
                "before booking it with VAT (VIES_UNAVAILABLE=wait_then_vat).",
            )
        VIES_CHECKS.labels("unavailable", "vies").inc()
        log.warning("VIES unreachable: booking with VAT", shop=shop, reason=reason)
        return VatCheck(number.full, "unavailable", f"VIES could not be reached: {reason}")

    async def _ask(self, number: VatNumber) -> VatCheck:
        if not self._url:
            raise ViesUnavailable("no VIES_URL is configured")
        body = {"countryCode": number.country, "vatNumber": number.number}
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        try:
            if self._http is None:
                async with aiohttp.ClientSession() as http:
                    status, answer = await _post(http, self._url, body, timeout)
            else:
                status, answer = await _post(self._http, self._url, body, timeout)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ViesUnavailable(f"no answer within {self._timeout:g} s ({exc!r})") from exc
        errors = [e.get("error") for e in answer.get("errorWrappers") or [] if isinstance(e, dict)]
        if errors or "valid" not in answer:
            code = str(errors[0]) if errors else f"HTTP {status}"
            if code in UNAVAILABLE_CODES or status >= 500 or not errors:
                raise ViesUnavailable(code)
            return VatCheck(number.full, "invalid", f"VIES refused the number ({code})")
        valid = answer.get("valid") is True
        name = answer.get("name")
        return VatCheck(
            number.full,
            "valid" if valid else "invalid",
            "VIES confirmed it" if valid else "VIES says it is not a valid VAT number",
            checked_at=_request_date(answer.get("requestDate")),
            consultation=answer.get("requestIdentifier") or None,
            name=name if name and name != "---" else None,
        )


async def known_check(
    conn: Any, shop: str, order: dict[str, Any], settings: ShopSettings
) -> VatCheck | None:
    """What is already known about the order's VAT number, without asking VIES (previews):
    a malformed number, or the cached answer; None when nothing decides or nothing is known."""
    raw = number_to_check(order, settings)
    if raw is None:
        return None
    home = settings.home_country
    number = parse(raw, destination_country(order, home))
    problem = format_problem(number, home)
    if problem is not None:
        return VatCheck(number.full, "bad_format", problem)
    row = await conn.fetchrow(
        "SELECT * FROM mapper.vat_checks WHERE shop = $1 AND vat_number = $2", shop, number.full
    )
    return _from_row(row) if row is not None and row["valid"] is not None else None


async def _post(
    http: aiohttp.ClientSession, url: str, body: dict[str, str], timeout: aiohttp.ClientTimeout
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{url}/check-vat-number", json=body, timeout=timeout) as response:
        try:
            answer = await response.json(content_type=None)
        except ValueError:
            answer = None
        return response.status, answer if isinstance(answer, dict) else {}


def _request_date(value: Any) -> datetime:
    """VIES's requestDate (``2026-12-07T10:00:00.000Z``, or a date with an offset) as UTC."""
    text = str(value or "").replace("Z", "+00:00")
    for candidate in (text, text[:10]):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _from_row(row: Any) -> VatCheck:
    valid = bool(row["valid"])
    date = row["checked_at"].date().isoformat()
    return VatCheck(
        row["vat_number"],
        "valid" if valid else "invalid",
        f"VIES confirmed it on {date}" if valid else f"VIES said on {date} it is not valid",
        checked_at=row["checked_at"],
        consultation=row["consultation"],
        name=row["trader_name"],
    )
